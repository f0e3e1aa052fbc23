"""Model files: our safetensors format, published SatCLIP Lightning checkpoints, and the
checkpoints of ``satclip train`` runs.

Our format is one ``.safetensors`` file whose header metadata holds the JSON config
(``satclip_config``) next to the weights, so a single file rebuilds the encoder.
Published checkpoints are read with ``torch.load(weights_only=True)``, which never unpickles
arbitrary objects, and converted to a float64 :class:`LocationEncoder` in the published
(``satclip``) spherical-harmonic convention: :func:`convert_published` is the one adapter from
their hyper-parameters. A run's ``best.ckpt`` / ``last.ckpt`` holds its location encoder's
:class:`LocationEncoderConfig` (and the degree decay to fold in), so it gives the location
encoder that ``satclip export`` would write, without the training extra; checkpoints saved
before that are rebuilt from their training config.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import torch

from satclip._compat import renamed
from satclip._files import atomic_path
from satclip.embedder import LocationEncoderConfig
from satclip.encoder import LocationEncoder
from satclip.encodings.spherical_harmonics import SphericalHarmonics, SphericalHarmonicsConfig
from satclip.encodings.time import TimeConfig
from satclip.errors import InputError, InputTypeError, ModelFileError, ModelNotFoundError
from satclip.networks import Siren, SirenConfig

FORMAT_NAME = "satclip-location-encoder"
FORMAT_VERSION = "1"
# The pretraining locations (float32 (K, 2) lon/lat), stored beside the weights for
# out-of-distribution flags (satclip.ood); not part of the network's state.
TRAINING_INDEX_KEY = "satclip.training_index"
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"

P = ParamSpec("P")
R = TypeVar("R")


def _keeps_torch_rng(build: Callable[P, R]) -> Callable[P, R]:
    """Run ``build`` on a fork of torch's global generator. Building a network draws its initial
    weights from that generator, and a loaded model overwrites them at once: without the fork,
    loading a model would move the caller's random stream (a seeded script would draw other
    numbers after ``satclip.load`` than without it)."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.random.fork_rng(devices=[]):  # built on CPU: only the CPU generator is drawn from
            return build(*args, **kwargs)

    return wrapper


@renamed(encoder="model", path="out")
def save(model: LocationEncoder, out: str | os.PathLike[str], training_index: Any | None = None) -> Path:
    """Write ``model`` (weights + config) to one safetensors file, atomically.

    ``training_index``: the (K, 2) lon/lat degrees the model was pretrained on (default: the
    model's own ``training_index``), kept for out-of-distribution flags.
    """
    import numpy as np
    from safetensors.torch import save_file

    out = Path(out)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "satclip_config": json.dumps(model.config.to_dict()),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    index = model.training_index if training_index is None else training_index
    if index is not None:
        index = np.asarray(index, dtype=np.float32)
        if index.ndim != 2 or index.shape[1] != 2 or not np.isfinite(index).all():
            raise InputError(f"training_index must be a finite (K, 2) lon/lat array, got shape {index.shape}")
        tensors[TRAINING_INDEX_KEY] = torch.from_numpy(np.ascontiguousarray(index))
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return out


def _sniff(path: Path) -> str:
    """'safetensors', 'torch' or raise: decided by content, not by file name."""
    if not path.exists():
        raise ModelNotFoundError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(path, "is a directory, expected a model file")
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) < 9:
        raise ModelFileError(path, f"file is only {len(head)} bytes: empty or truncated")
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC):
        return "torch"
    header_len = int.from_bytes(head[:8], "little")
    if head[8:9] == b"{" and header_len < 100_000_000:
        return "safetensors"
    raise ModelFileError(path, "not a satclip model file (.safetensors) nor a SatCLIP checkpoint (.ckpt)")


@_keeps_torch_rng
def _load_safetensors(path: Path, device: str | torch.device) -> LocationEncoder:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iteration
    except SafetensorError as e:
        raise ModelFileError(path, f"unreadable safetensors file (truncated or corrupt?): {e}") from e
    if meta.get("format") != FORMAT_NAME or "satclip_config" not in meta:
        raise ModelFileError(
            path, "a safetensors file, but not a satclip location encoder (no satclip config)"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            path, f"format version {meta.get('format_version')!r}; this satclip reads {FORMAT_VERSION!r}"
        )
    try:
        config = LocationEncoderConfig.from_dict(json.loads(meta["satclip_config"]))
    except (ValueError, json.JSONDecodeError) as e:
        raise ModelFileError(path, f"bad config: {e}") from e
    encoder = LocationEncoder.from_config(config).to(device)
    index = tensors.pop(TRAINING_INDEX_KEY, None)
    _load_state(encoder, tensors, path)
    if index is not None:
        encoder.training_index = index.cpu().numpy()
    return encoder


def _load_state(encoder: LocationEncoder, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            path, f"weights do not match the config: missing {missing}, unexpected {unexpected}"
        )
    for key, value in tensors.items():
        if value.shape != expected[key].shape:
            raise ModelFileError(
                path,
                f"tensor {key} has shape {tuple(value.shape)}, config needs {tuple(expected[key].shape)}",
            )
    encoder.load_state_dict(tensors)


# Keys of the location network inside a published checkpoint's state dict. SatCLIP registers the
# same network under two names, so both prefixes are present and must agree.
_PUBLISHED_PREFIXES = ("model.location.nnet.", "model.nnet.")


def _published_network_state(sd: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    per_prefix = [{k[len(p) :]: v for k, v in sd.items() if k.startswith(p)} for p in _PUBLISHED_PREFIXES]
    present = [s for s in per_prefix if s]
    if not present:
        raise ModelFileError(
            path,
            f"no location-encoder weights: no state_dict keys start with {' or '.join(_PUBLISHED_PREFIXES)}",
        )
    if len(present) == 2:
        a, b = present
        if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
            raise ModelFileError(
                path,
                "model.location.nnet.* and model.nnet.* differ; a released checkpoint has them identical",
            )
    return present[0]


@_keeps_torch_rng
def convert_published(ckpt: dict[str, Any], path: str | os.PathLike[str] = "<checkpoint>") -> LocationEncoder:
    """The location encoder of a loaded published SatCLIP checkpoint dict, in float64."""
    path = Path(path)
    if not isinstance(ckpt, dict) or "hyper_parameters" not in ckpt or "state_dict" not in ckpt:
        keys = list(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelFileError(
            path,
            f"not a SatCLIP Lightning checkpoint: need 'hyper_parameters' and 'state_dict', found {keys}",
        )
    hp = ckpt["hyper_parameters"]
    le_type, pe_type = hp.get("le_type"), hp.get("pe_type")
    if le_type != "sphericalharmonics" or pe_type != "siren":
        raise ModelFileError(
            path,
            f"le_type={le_type!r}, pe_type={pe_type!r}: satclip loads the released "
            "sphericalharmonics + siren checkpoints only",
        )
    try:
        sh = SphericalHarmonicsConfig(legendre_polys=int(hp["legendre_polys"]), convention="satclip")
        net = SirenConfig(
            dim_in=sh.dim,
            dim_out=int(hp["embed_dim"]),
            dim_hidden=int(hp["capacity"]),
            num_layers=int(hp["num_hidden_layers"]),
            dropout=0.5,
        )
    except KeyError as e:
        raise ModelFileError(path, f"hyper_parameters lack {e.args[0]!r}") from e
    state = _published_network_state(ckpt["state_dict"], path)
    encoder = LocationEncoder(SphericalHarmonics(sh), Siren(net), dtype="float64")
    _load_state(encoder, {f"network.{k}": v.double() for k, v in state.items()}, path)
    return encoder


def degree_scale(legendre_polys: int, decay: float) -> torch.Tensor:
    """(L²,) float64: (1 + l)^-decay for every feature of degree l, in the l-major feature order."""
    degrees = torch.arange(legendre_polys)
    return ((1.0 + degrees.double()) ** -decay).repeat_interleave(2 * degrees + 1)


def fold_degree_scale(enc: LocationEncoder, decay: float) -> None:
    """Fold a training-time feature scale into the first layer's weight columns (exact:
    W·(s ⊙ y) = (W diag s)·y), so the encoder alone reproduces the trained location side."""
    net = enc.network
    if not isinstance(net, Siren):
        raise InputTypeError(f"fold_degree_scale needs a SIREN location network, got {type(net).__name__}")
    first = net.first_layer
    scale = degree_scale(enc.config.encoding.legendre_polys, decay)
    with torch.no_grad():  # the harmonics' columns (and their products with the time), not the time's own
        first.weight[:, : len(scale)].mul_(scale.to(first.weight.dtype))
        time = enc.config.time
        if time is not None and time.n_place:
            # The time's products with the low harmonics saw the scaled harmonics too.
            start = len(scale) + time.n_time
            products = first.weight[:, start:].view(-1, time.n_time, time.n_place)
            products.mul_(scale[: time.n_place].to(first.weight.dtype))


def run_encoder_config(location: dict[str, Any], dim_out: int) -> LocationEncoderConfig:
    """The location encoder of a training config's ``location`` section (``satclip train``'s
    ``LocationConfig`` as a dict): what training builds and saves in its checkpoints, and how
    a checkpoint saved before it held that config is read."""
    sh = SphericalHarmonicsConfig(legendre_polys=int(location["legendre_polys"]))
    harmonics = int(location.get("time_harmonics") or 0)
    place = int(location.get("time_place_degree") or 0)
    time = TimeConfig(harmonics, place) if harmonics else None
    net = SirenConfig(
        dim_in=sh.dim + (time.dim if time else 0),
        dim_out=dim_out,
        dim_hidden=int(location["dim_hidden"]),
        num_layers=int(location["num_layers"]),
        dropout=float(location["dropout"]),
        w0_initial=float(location["w0_initial"]),
    )
    return LocationEncoderConfig(sh, net, time=time)


# In a ``satclip train`` checkpoint's hyper_parameters: {"config": the LocationEncoderConfig as
# a dict, "degree_decay": the training-time feature scale to fold in}. "config" beside it is the
# whole training config.
RUN_ENCODER_KEY = "location_encoder"
_RUN_PREFIX = "location_encoder."


def run_checkpoint_entry(config: LocationEncoderConfig, degree_decay: float) -> dict[str, Any]:
    """What training saves under ``hyper_parameters[RUN_ENCODER_KEY]``."""
    return {"config": config.to_dict(), "degree_decay": float(degree_decay)}


def _is_run_checkpoint(ckpt: Any) -> bool:
    """Saved by SatCLIPModule (``satclip train``): its config beside the weights."""
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    return isinstance(hp, dict) and (RUN_ENCODER_KEY in hp or "config" in hp) and "state_dict" in ckpt


def _run_encoder(hp: dict[str, Any], path: Path) -> tuple[LocationEncoderConfig, float]:
    """The location encoder's config and degree decay saved in a run checkpoint."""
    if RUN_ENCODER_KEY not in hp:
        # Saved before training wrote the encoder's config: rebuilt from the training config.
        try:
            cfg = hp["config"]
            location = cfg["location"]
            return run_encoder_config(location, int(cfg["image"]["embed_dim"])), float(
                location.get("degree_decay") or 0.0
            )
        except (KeyError, TypeError) as e:
            raise ModelFileError(path, f"a satclip training checkpoint whose config lacks {e}") from e
    entry = hp[RUN_ENCODER_KEY]
    try:
        return LocationEncoderConfig.from_dict(entry["config"]), float(entry["degree_decay"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(path, f"bad location-encoder entry in a satclip training checkpoint: {e}") from e


@_keeps_torch_rng
def convert_run(ckpt: dict[str, Any], path: str | os.PathLike[str] = "<checkpoint>") -> LocationEncoder:
    """The location encoder of a ``satclip train`` checkpoint (its saved config rebuilds it; a
    training-time degree scale is folded into the first layer), as ``satclip export`` writes it."""
    path = Path(path)
    if not _is_run_checkpoint(ckpt):
        raise ModelFileError(
            path,
            "not a satclip train checkpoint (it needs hyper_parameters.config and state_dict); "
            "a published SatCLIP checkpoint loads with satclip.load",
        )
    config, decay = _run_encoder(ckpt["hyper_parameters"], path)
    enc = LocationEncoder.from_config(config)
    state = {k[len(_RUN_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(_RUN_PREFIX)}
    _load_state(enc, state, path)
    if decay:
        fold_degree_scale(enc, decay)
    return enc


def _load_torch(path: Path, device: str | torch.device) -> LocationEncoder:
    import pickle
    import zipfile

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as e:
        raise ModelFileError(
            path,
            f"cannot read as a torch checkpoint with weights_only=True (truncated, or holds arbitrary objects): {e}",
        ) from e
    if _is_run_checkpoint(ckpt):
        return convert_run(ckpt, path).to(device)
    return convert_published(ckpt, path).to(device)


def load_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LocationEncoder:
    """Load a model file of either kind, chosen by its content, in eval mode (for inference,
    as Hugging Face's ``from_pretrained``: dropout off; call ``.train()`` to fine-tune)."""
    path = Path(path)
    device = available_device(device)
    kind = _sniff(path)
    encoder = _load_safetensors(path, device) if kind == "safetensors" else _load_torch(path, device)
    return encoder.eval()


def available_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device that exists here; otherwise an error that says so, before the
    file is read (torch's own says only that no NVIDIA driver was found)."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(
            f"device {device!r} is not a torch device; use e.g. 'cpu', 'cuda', 'cuda:1' or 'mps'"
        ) from None
    missing = (dev.type == "cuda" and not torch.cuda.is_available()) or (
        dev.type == "mps" and not torch.backends.mps.is_available()
    )
    if missing:
        raise InputError(
            f"device {str(dev)!r} is not available here: torch {torch.__version__} finds no "
            f"{'CUDA GPU' if dev.type == 'cuda' else 'Apple GPU (MPS)'}; use device='cpu'"
        )
    return dev
