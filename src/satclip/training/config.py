"""Training configuration: one frozen dataclass per part, YAML presets, ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from satclip.errors import InputError
from satclip.training.image_encoders import ImageEncoderConfig
from satclip.training.loss import check_temperature


@dataclass(frozen=True)
class LocationConfig:
    legendre_polys: int = 40
    dim_hidden: int = 512
    num_layers: int = 2
    dropout: float = 0.5
    w0_initial: float = 30.0  # SIREN's first-layer frequency; lower gives a smoother embedding
    # Train on features of degree l scaled by (1 + l)^-degree_decay: under AdamW that slows the
    # high degrees' learning, a prior towards smooth embeddings. Folded into the first layer at
    # export, so the exported model is a plain SH + SIREN. 0 = off (the published setting).
    degree_decay: float = 0.0
    # A seasonal model: the time of year as this many cyclic harmonics beside the spherical
    # harmonics (satclip.encodings.time; needs data.seasonal). 0 = a static model.
    time_harmonics: int = 0
    # The time features also multiply the harmonics of degree below this (each place its own
    # seasons; TimeConfig.place_degree). 0 = none.
    time_place_degree: int = 0
    # Start from a trained model (a name or file satclip.load takes) of the same shape: its
    # harmonics' columns of the first layer and every later weight; a seasonal run's time
    # columns start at zero, so training starts from that model's annual embedding. "" = random.
    init: str = ""
    # "all": every weight learns. "time": only the first layer's time columns; the rest stays
    # the init model's, so the trained model's annual embedding is the init model's exactly.
    learn: str = "all"

    def __post_init__(self) -> None:
        if self.learn not in ("all", "time"):
            raise InputError(f"location.learn must be 'all' or 'time', got {self.learn!r}")
        if self.learn == "time" and not (self.init and self.time_harmonics):
            raise InputError(
                "location.learn=time trains a seasonal model's time columns only: it needs "
                "location.init (the model to start from) and location.time_harmonics > 0"
            )
        if self.init and self.degree_decay:
            raise InputError(
                "location.init starts from an exported model, whose degree scale is already folded "
                "into its weights; set location.degree_decay=0"
            )
        if isinstance(self.time_harmonics, bool) or not (
            isinstance(self.time_harmonics, int) and self.time_harmonics >= 0
        ):
            raise InputError(
                f"location.time_harmonics must be a whole number >= 0 (0 = static, 2 = seasonal), "
                f"got {self.time_harmonics!r}"
            )
        p = self.time_place_degree
        if isinstance(p, bool) or not (isinstance(p, int) and 0 <= p <= self.legendre_polys):
            raise InputError(
                f"location.time_place_degree must be a whole number from 0 (none) to legendre_polys "
                f"({self.legendre_polys}), got {p!r}"
            )
        if p and not self.time_harmonics:
            raise InputError(
                "location.time_place_degree needs a seasonal model: set location.time_harmonics > 0"
            )
        if not (isinstance(self.degree_decay, int | float) and 0 <= self.degree_decay < float("inf")):
            raise InputError(
                f"location.degree_decay must be a number >= 0 (0 = off, 1.0 in bluemarble-quick), "
                f"got {self.degree_decay!r}"
            )


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "bluemarble"  # or "s2-100k"
    root: str = "data/bluemarble"
    n: int = 100_000  # Blue Marble: points to build if the dataset is missing
    size: int = 32
    split: str = "random"  # or "block"
    val_fraction: float = 0.1
    crop: int | None = 28
    jitter_km: float = 10.0
    blur: bool = False
    # Colour jitter of Blue Marble's true-colour channels (transforms.ColorJitter; 0 = off).
    color_jitter: float = 0.0
    batch_size: int = 512
    num_workers: int = 2
    # Blue Marble: what to build when data.root is missing, and what an existing build must hold
    # (``satclip data build --months/--layers/--scales``; only imagery, MODELS.md).
    months: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    scales: tuple[float, ...] = (1.0,)
    # Seasonal training (Blue Marble): every sample is one place in one month, its image that
    # month's true colour (plus the layers) and its time that month; or, with probability
    # annual_share, the annual true colour without a time (the annual embedding).
    seasonal: bool = False
    annual_share: float = 0.2
    # Seasonal: each training sample two different views (months) of its place, so that a batch
    # holds the same place in two months and the month must tell them apart (batch_size counts
    # places: a batch holds twice as many images).
    season_pairs: bool = False
    # With season_pairs: the weight of a second CLIP loss on the pairs' changes (image change
    # against location-embedding change between a place's two views; 0 = off).
    season_change: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.season_change, bool) or not (
            isinstance(self.season_change, int | float) and self.season_change >= 0
        ):
            raise InputError(
                f"data.season_change must be a number >= 0 (0 = off), got {self.season_change!r}"
            )
        for name in ("seasonal", "season_pairs"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"data.{name} must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.annual_share, bool) or not (
            isinstance(self.annual_share, int | float) and 0 <= self.annual_share < 1
        ):
            raise InputError(f"data.annual_share must be a share in [0, 1), got {self.annual_share!r}")
        # YAML gives lists, and an override such as data.layers=night-viirs,night-dmsp a string.
        for name in ("months", "layers", "scales"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif not isinstance(value, list | tuple):
                value = [value]
            if name == "months":  # YAML reads 01 as the number 1
                value = [f"{v:02d}" if isinstance(v, int) else str(v) for v in value]
            elif name == "scales":
                value = [float(v) for v in value]
            object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    schedule: str = "cosine"  # or "constant"
    accumulate_grad_batches: int = 1
    # The CLIP loss's temperature: the start of the learnt one (published: 0.07), or the fixed
    # value with learn_temperature false. At least 0.01 (the logit scale's cap of 100).
    temperature: float = 0.07
    learn_temperature: bool = True
    # An exponential moving average of all weights (Lightning's EMAWeightAveraging), updated after
    # every optimiser step from ema_start_step on; validation, checkpoints and the exported model
    # use the average. 0 = off (the published setting); 0.998 averages over ~500 steps.
    ema_decay: float = 0.0
    ema_start_step: int = 0

    def __post_init__(self) -> None:
        check_temperature(self.temperature, "optim.temperature")  # before any data is built
        if not isinstance(self.learn_temperature, bool):
            raise InputError(f"optim.learn_temperature must be true or false, got {self.learn_temperature!r}")
        if isinstance(self.ema_decay, bool) or not (
            isinstance(self.ema_decay, int | float) and 0 <= self.ema_decay < 1
        ):
            raise InputError(
                f"optim.ema_decay must be a number in [0, 1) (0 = off; e.g. 0.998), got {self.ema_decay!r}"
            )
        if isinstance(self.ema_start_step, bool) or not (
            isinstance(self.ema_start_step, int) and self.ema_start_step >= 0
        ):
            raise InputError(f"optim.ema_start_step must be a whole number >= 0, got {self.ema_start_step!r}")


@dataclass(frozen=True)
class DistillConfig:
    """Distillation from a location encoder learned from imagery (``satclip.peers.TEACHERS``):
    a linear head on the location embedding is trained to reproduce the teacher's embedding at
    the same (jittered) points, by cosine, beside the CLIP loss: loss = clip + weight * (1 - cos).
    The head is not part of the exported model. weight 0 = off (the published setting).

    ``points`` > 0 adds that many points without an image to every training batch, for this
    loss alone: a ``lights`` share of them drawn where the VIIRS night-light image is bright,
    the rest area-uniform on land."""

    teacher: str = ""
    weight: float = 0.0
    points: int = 0
    lights: float = 0.0
    # Seasonal runs: the (static) teacher's loss only on the samples without a time (the
    # annual views), so that it does not pull every month towards one embedding.
    annual_only: bool = False

    def __post_init__(self) -> None:
        from satclip.peers import TEACHERS

        if not isinstance(self.annual_only, bool):
            raise InputError(f"distill.annual_only must be true or false, got {self.annual_only!r}")
        if isinstance(self.weight, bool) or not (isinstance(self.weight, int | float) and self.weight >= 0):
            raise InputError(f"distill.weight must be a number >= 0 (0 = off), got {self.weight!r}")
        if isinstance(self.points, bool) or not (isinstance(self.points, int) and self.points >= 0):
            raise InputError(f"distill.points must be a whole number >= 0 (0 = none), got {self.points!r}")
        if isinstance(self.lights, bool) or not (
            isinstance(self.lights, int | float) and 0 <= self.lights <= 1
        ):
            raise InputError(f"distill.lights must be a share between 0 and 1, got {self.lights!r}")
        if self.weight and self.teacher not in TEACHERS:
            raise InputError(
                f"distill.teacher must name an encoder learned from imagery: {', '.join(TEACHERS)}; "
                f"got {self.teacher!r}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run (one section per part)."""

    name: str = "run"
    seed: int = 0
    epochs: int = 10
    max_steps: int = -1
    location: LocationConfig = field(default_factory=LocationConfig)
    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    accelerator: str = "auto"  # cpu, gpu, auto
    devices: int | str | list[int] = 1  # >1, "auto" or GPU indices [0, 1] for data-parallel training
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for several processes
    # "auto": bf16-mixed on GPU, 32-true on CPU; else anything Lightning takes (32, "16-mixed", ...)
    precision: int | str = "auto"
    checkpoint_every_n_steps: int = 200
    val_every_n_epochs: int = 1

    def __post_init__(self) -> None:
        d, harmonics = self.data, self.location.time_harmonics
        if d.seasonal != bool(harmonics):
            raise InputError(
                "a seasonal run needs both data.seasonal=true and location.time_harmonics > 0 "
                f"(got data.seasonal={d.seasonal}, location.time_harmonics={harmonics}); set both, or neither"
            )
        if d.season_change and not d.season_pairs:
            raise InputError(
                "data.season_change needs data.season_pairs=true (the change between a place's two views)"
            )
        if d.season_pairs and not d.seasonal:
            raise InputError("data.season_pairs needs data.seasonal=true (pairs of months of one place)")
        if d.seasonal and (d.dataset != "bluemarble" or not d.months or d.scales != (1.0,)):
            raise InputError(
                'data.seasonal needs the Blue Marble dataset with data.months (e.g. ["01", "03", '
                '"05", "07", "08"]) and one view (data.scales=[1.0])'
            )

    def to_dict(self) -> dict[str, Any]:
        # Tuples as lists, so that yaml.safe_dump writes them.
        return dataclasses.asdict(
            self, dict_factory=lambda items: {k: list(v) if isinstance(v, tuple) else v for k, v in items}
        )


_SECTIONS = {
    "location": LocationConfig,
    "image": ImageEncoderConfig,
    "data": DataConfig,
    "optim": OptimConfig,
    "distill": DistillConfig,
}


def _parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:  # YAML 1.1 reads "3e-4" (no dot) as a string
            return float(value)
        except ValueError:
            return value
    return value


def _matches(value: Any, hint: Any) -> bool:
    """Whether a config value has its field's type (ints count as floats; bools as neither)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        return isinstance(value, int if hint is int else int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if typing.get_origin(hint) is list:
        return isinstance(value, list) and all(_matches(v, typing.get_args(hint)[0]) for v in value)
    return True  # tuples: normalised and checked by their section's __post_init__


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is list:  # "a list of whole numbers"
        return "a list of " + _describe(typing.get_args(hint)[0]).removeprefix("a ") + "s"
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "text", type(None): "null"}
    return names.get(hint, str(hint))


def _check_types(cls: type, values: dict[str, Any], prefix: str) -> None:
    """A value of the wrong type is an error naming the key, before any data is built or
    training starts (``optim.lr=abc`` got as far as the optimiser)."""
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _matches(value, hints[key]):
            raise InputError(f"{prefix}{key} must be {_describe(hints[key])}, got {value!r}")


def from_dict(d: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from nested dicts; unknown keys and values of the wrong type are errors
    that name the key."""
    top = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key not in top:
            raise InputError(f"unknown config key {key!r}; valid: {', '.join(sorted(top))}")
        if key in _SECTIONS:
            cls = _SECTIONS[key]
            fields = {f.name for f in dataclasses.fields(cls)}
            bad = sorted(set(value or {}) - fields)
            if bad:
                raise InputError(
                    f"unknown config key(s) {[f'{key}.{b}' for b in bad]}; valid: {sorted(fields)}"
                )
            _check_types(cls, value or {}, f"{key}.")
            kwargs[key] = cls(**(value or {}))
        else:
            _check_types(TrainConfig, {key: value}, "")
            kwargs[key] = value
    return TrainConfig(**kwargs)


def presets_dir() -> Path:
    return Path(str(resources.files("satclip") / "configs"))


def list_presets() -> list[str]:
    return sorted(p.stem for p in presets_dir().glob("*.yaml"))


def load_config(name_or_path: str, overrides: list[str] | None = None) -> TrainConfig:
    """A preset name (``satclip train --config bluemarble-quick``) or a YAML path, then
    ``section.key=value`` overrides."""
    path = Path(name_or_path)
    if not path.exists():
        path = presets_dir() / f"{name_or_path}.yaml"
    if not path.exists():
        raise InputError(
            f"no config {name_or_path!r}: not a file, and presets are {', '.join(list_presets())}"
        )
    d = yaml.safe_load(path.read_text()) or {}
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"override {item!r} is not key=value (e.g. optim.lr=3e-4)")
        key, text = item.split("=", 1)
        parts = key.split(".")
        target = d
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = _parse_value(text)
    return from_dict(d)


def save_config(cfg: TrainConfig, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
