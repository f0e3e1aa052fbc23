"""Named models: ``list_pretrained()``, ``load(name_or_path)`` and downloading into the cache.

A name is either bundled inside the package (``satclip/weights/``) or a published SatCLIP
checkpoint fetched once from the Hugging Face Hub (huggingface_hub) with ``satclip download
NAME`` into ``$SATCLIP_CACHE/models`` (default ``~/.cache/satclip/models``). Every load verifies the file's sha256: against the
value recorded here for bundled files, and against the value recorded at download time for
cached ones (the hub's own hashes of the released files are not known to this package).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from satclip import hub
from satclip._compat import renamed
from satclip._files import cache_root, write_text
from satclip._precision import check_precision
from satclip._registry import did_you_mean
from satclip.checkpoints import available_device, load_file
from satclip.embedder import Embedder
from satclip.encoder import LocationEncoder
from satclip.encodings import create_encoding, list_encodings
from satclip.errors import DownloadError, InputError, InputTypeError, ModelFileError, ModelNotFoundError
from satclip.hub import HubFile
from satclip.networks import create_network


@dataclass(frozen=True)
class PretrainedModel:
    """One named model: where its file lives and what it is."""

    name: str
    filename: str
    description: str
    repo: str | None = None  # hub repository for published checkpoints
    sha256: str | None = None  # known for bundled files
    # The hub revision of a published checkpoint. "main" until someone online records the commit
    # (HfApi().model_info(repo).sha) and the file's sha256 here: then both are pinned.
    revision: str = "main"
    data: tuple[str, ...] = ()  # registry sources it was trained on (satclip.sources), for model cards
    teachers: tuple[str, ...] = ()  # encoders it was distilled from (satclip.peers.TEACHERS), for model cards
    seasonal: bool = False  # takes a time of year (month=, day_of_year=)

    @property
    def bundled(self) -> bool:
        return self.repo is None


def _published(backbone: str, title: str, legendre: int) -> PretrainedModel:
    name = f"satclip-{backbone}-l{legendre}"
    return PretrainedModel(
        name=name,
        filename=f"{name}.ckpt",
        description=f"Published SatCLIP, {title} image encoder on S2-100K, L={legendre} (float64)",
        repo=f"microsoft/SatCLIP-{title}-L{legendre}",
    )


def _bundled(
    legendre: int,
    sha256: str,
    night: bool = False,
    version: int = 1,
    recipe: str = "",
    teachers: tuple[str, ...] = (),
    seasonal: bool = False,
) -> PretrainedModel:
    imagery = "bluemarble-viirs" if night else "bluemarble"
    # Versions after the first get a suffix: a retrained model never replaces the weights behind
    # a name that results have already been published with.
    suffix = f"-v{version}" if version > 1 else ""
    if seasonal:
        return PretrainedModel(
            name=f"satclip-bluemarble-seasonal-l{legendre}{suffix}",
            filename=f"satclip-bluemarble-seasonal-l{legendre}{suffix}.safetensors",
            description=f"satclip's own, seasonal (month input), L={legendre}: SH+SIREN trained on 100k "
            f"places in 5 months of Blue Marble with VIIRS night lights{recipe} (MODELS.md)",
            sha256=sha256,
            data=(
                "bluemarble",
                *(f"bluemarble-{m}" for m in ("01", "03", "05", "07", "08")),
                "night-viirs",
                "landmask",
            ),
            teachers=teachers,
            seasonal=True,
        )
    name = f"satclip-{imagery}-l{legendre}{suffix}"
    trained_on = "100k Blue Marble patches with VIIRS night lights" if night else "100k Blue Marble patches"
    return PretrainedModel(
        name=name,
        filename=f"{name}.safetensors",
        description=f"satclip's own, L={legendre}: SH+SIREN trained on {trained_on}{recipe} (MODELS.md)",
        sha256=sha256,
        data=("bluemarble", "night-viirs", "landmask") if night else ("bluemarble", "landmask"),
        teachers=teachers,
    )


PRETRAINED: dict[str, PretrainedModel] = {
    m.name: m
    for m in [
        # The recommended model: -v3 with its embedding's spectrum flattened (variances λ →
        # λ^0.5 along its principal axes, a fixed map folded into the last layer), so that a
        # linear probe with few labels reaches its weak directions (issue 37, tries 100-112;
        # docs/research/models-beyond-coordinates.md; scripts/flatten_spectrum.py).
        _bundled(
            40,
            "53fb866e8138b43d8efdbafb9957371cfd4da69030f1e3b4ddd94b040bd45916",
            night=True,
            version=4,
            recipe=", CLIP temperature fixed at 0.1, distilled from GeoCLIP, spectrum flattened",
            teachers=("geoclip",),
        ),
        # -v2's recipe with GeoCLIP distilled into the location encoder beside the CLIP loss
        # (issue 37, try 71): recommended until -v4, which is it with a flatter spectrum.
        _bundled(
            40,
            "75b005512ab41b6e072f30427008096bbbf77fc19e11b1ff8f42cafcc2ef0725",
            night=True,
            version=3,
            recipe=", CLIP temperature fixed at 0.1, distilled from GeoCLIP",
            teachers=("geoclip",),
        ),
        # The seasonal model: -v2 below with -v4's spectrum map (fitted on -v3) folded into its
        # last layer, so that without a month it is -v4 bit for bit (issue 37, try 113).
        _bundled(
            40,
            "f801ac0824f1adbec8bf9cb39f3d756b23dd2b3ed01ceb7c121badd630265db0",
            night=True,
            version=3,
            recipe=", -v3 (distilled from GeoCLIP) locked and the month learnt per place, spectrum flattened as -v4's",
            teachers=("geoclip",),
            seasonal=True,
        ),
        # The seasonal model until -v3 (issue 32; docs/research/models-seasons.md, try 84): -v3
        # locked, its annual embedding kept bit for bit, and a month input learnt beside it, which
        # also multiplies the harmonics of degree < 8 so that each place has its own seasons.
        _bundled(
            40,
            "e91dc6309762904ec48f73c4580c3b4fe514f6b88f52cfc7f69a4f96fc21d3f4",
            night=True,
            version=2,
            recipe=", -v3 (distilled from GeoCLIP) locked and the month learnt per place",
            teachers=("geoclip",),
            seasonal=True,
        ),
        # The first seasonal model (try 78): a month input beside the harmonics, trained on one
        # place in two months per pair of samples.
        _bundled(
            40,
            "0aad5551ae550e2701b79a8aa5fd40b3e02e007230fd981aa832282b8998a1d1",
            night=True,
            recipe=", CLIP temperature fixed at 0.1, distilled from GeoCLIP on its annual views",
            teachers=("geoclip",),
            seasonal=True,
        ),
        # True colour and night lights, contrastive temperature fixed at 0.1 (issue 12;
        # docs/research/models-night-lights.md, "A fixed temperature of 0.1").
        _bundled(
            40,
            "39735f2ece031154c881278efdefe86b8dd2cfcb62a11610d178b11b02b4c7a5",
            night=True,
            version=2,
            recipe=", CLIP temperature fixed at 0.1",
        ),
        # Earlier shipped models, kept so that existing code and results load unchanged: the first
        # night-lights model (learned temperature) and the first two, true colour only.
        _bundled(40, "033b4fa1d70a3155739b902148c22dc53194abae265952f378847d7c4215cba1", night=True),
        _bundled(40, "695ad4d9f7a49ef163a5790575191822792b916f26c768da7954493633c19d8f"),
        _bundled(10, "ce4161e64336b8d8e15eeb85784112a117117a124a45445f04a43ee0827bc12e"),
        *[
            _published(b, t, lp)
            for b, t in (("resnet18", "ResNet18"), ("resnet50", "ResNet50"), ("vit16", "ViT16"))
            for lp in (10, 40)
        ],
    ]
}


# The model to use when none is named (``satclip embed``, ``raster``, ``map``, SatCLIPFeatures):
# the best of the shipped ones on the evaluation suite with few labels; with many labels and far
# extrapolation -v3 is better (EVALUATION.md, "Where we lose").
RECOMMENDED = "satclip-bluemarble-viirs-l40-v4"
# The shipped model that takes a time of year (month=, day_of_year=): MODELS.md.
SEASONAL = "satclip-bluemarble-seasonal-l40-v3"


def list_pretrained() -> list[str]:
    """Names that :func:`load` accepts (bundled, or published and downloadable)."""
    return list(PRETRAINED)


def cache_dir() -> Path:
    return cache_root() / "models"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _bundled_path(model: PretrainedModel) -> Path:
    return Path(str(resources.files("satclip") / "weights" / model.filename))


def _unknown_model(name: str) -> ValueError:
    return ValueError(
        f"unknown model {name!r}{did_you_mean(name, PRETRAINED)}; choose one of {list_pretrained()} "
        "or pass a file path"
    )


def model_path(name: str) -> Path:
    """Path of a named model's verified file; raises with what to do if it is not available."""
    if name not in PRETRAINED:
        raise _unknown_model(name)
    model = PRETRAINED[name]
    if model.bundled:
        path, expected = _bundled_path(model), model.sha256
    else:
        path = cache_dir() / model.filename
        if not path.exists():
            raise ModelNotFoundError(
                f"{name} is not in the cache ({path}); download it once with "
                f"`satclip download --model {name}` (needs internet), or pass the path of the .ckpt file"
            )
        sidecar = path.with_name(path.name + ".sha256")
        expected = sidecar.read_text().split()[0] if sidecar.exists() else None
        if expected is None:
            raise ModelFileError(
                path, f"no recorded checksum ({sidecar.name}); run `satclip download --model {name}` again"
            )
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFileError(
            path,
            f"sha256 {actual[:16]}… does not match the recorded {str(expected)[:16]}… (corrupt or truncated); "
            f"delete it and run `satclip download --model {name}`",
        )
    return path


def download(name: str, force: bool = False, progress: bool = True) -> Path:
    """Fetch a published checkpoint into the cache with huggingface_hub and record its sha256.

    The file is checked before it is recorded: it must load, and match the sha256 in
    :data:`PRETRAINED` where one is known. ``progress`` is huggingface_hub's own bar."""
    if name not in PRETRAINED or PRETRAINED[name].bundled:
        downloadable = [n for n, m in PRETRAINED.items() if not m.bundled]
        raise InputError(f"{name!r} is not a downloadable model; choose one of {downloadable}")
    model = PRETRAINED[name]
    assert model.repo is not None  # published models have a repository
    dest = cache_dir() / model.filename
    sidecar = dest.with_name(dest.name + ".sha256")
    if dest.exists() and sidecar.exists() and not force:
        return dest
    file = HubFile(model.repo, model.filename, model.revision)
    if force:
        dest.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    try:
        path = _quietly(progress, lambda: hub.download(file, local_dir=dest.parent))
    except OSError as e:
        raise DownloadError(f"could not download {name}: {e}") from e
    digest = sha256_of(path)
    if model.sha256 is not None and digest != model.sha256:
        path.unlink()
        raise ModelFileError(
            dest, f"sha256 {digest[:16]}… of the download is not the recorded {model.sha256[:16]}…"
        )
    try:
        load_file(path)  # refuse to record a file that does not load
    except ModelFileError:
        path.unlink()
        raise
    write_text(sidecar, f"{digest}  {dest.name}\n")
    return dest


def _quietly(progress: bool, fn: Callable[[], Path]) -> Path:
    """``fn()`` with huggingface_hub's progress bars on or off."""
    if progress:
        return fn()
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    disable_progress_bars()
    try:
        return fn()
    finally:
        enable_progress_bars()


ModelSpec = str | os.PathLike[str]
"""What :func:`load` resolves: a name, a file path or an ``hf://`` address (see :func:`load`)."""

_SH = re.compile(r"^sh(\d+)$")
# Names of encodings as raw features: "sh<L>" names the harmonics' degree, so the bare
# registry name (whose default degree says nothing about which one a user meant) is left out.
_RAW_EXAMPLES = "sh<L> (e.g. sh10, sh40)"


def _raw_encodings() -> list[str]:
    return [e for e in list_encodings() if e != "sphericalharmonics"]


def _known_specs() -> list[str]:
    """Every name :func:`load` resolves without a path: the pretrained models, the raw
    encodings (``sh10``, ``sh40`` for the harmonics of that degree, ``wrap``, ...) and
    ``geoclip``."""
    return [*list_pretrained(), "sh10", "sh40", *_raw_encodings(), "geoclip"]


def _raw_encoder(key: str) -> LocationEncoder | None:
    """The raw features of an encoding as a model (identity network, float64), or None."""
    m = _SH.match(key)
    if m:
        encoding = create_encoding("sphericalharmonics", legendre_polys=int(m.group(1)))
    elif key in _raw_encodings():
        encoding = create_encoding(key)
    else:
        return None
    network = create_network("identity", dim_in=encoding.dim, dim_out=encoding.dim)
    return LocationEncoder(encoding, network, dtype="float64").eval()


def _unknown_spec(key: str) -> InputError:
    return InputError(
        f"unknown model {key!r}{did_you_mean(key, _known_specs())}; pass a pretrained name "
        f"({', '.join(list_pretrained())}), a raw encoding ({_RAW_EXAMPLES}, "
        f"{', '.join(_raw_encodings())}), 'geoclip', a model file (.safetensors, .ckpt, .onnx) "
        "or hf://OWNER/REPO/FILE"
    )


def _load_path(path: Path, device: str | torch.device) -> Embedder:
    if path.suffix.lower() == ".onnx":
        from satclip.onnx_runtime import OnnxEncoder

        if torch.device(device).type != "cpu":
            raise InputError(
                f"{path}: an ONNX model runs on onnxruntime, not on torch device {str(device)!r}; "
                "load it with device='cpu', or use OnnxEncoder(path, providers=[...]) for a GPU"
            )
        return OnnxEncoder(path)
    return load_file(path, device)


@renamed(name_or_path="spec")
def load(
    spec: ModelSpec = RECOMMENDED, device: str | torch.device = "cpu", precision: str = "float32"
) -> Embedder:
    """The one way to get a model: an :class:`~satclip.embedder.Embedder` for any ``spec``.

    - a name in :func:`list_pretrained` (default: the recommended model,
      ``satclip.pretrained.RECOMMENDED``; name it in work that must give the same embeddings
      after an upgrade, since a later version may recommend another model);
    - a model file: our ``.safetensors``, a published SatCLIP or ``satclip train`` ``.ckpt``
      (both a :class:`~satclip.encoder.LocationEncoder`), or an ``.onnx`` file written by
      :func:`satclip.onnx_export.export_onnx` (an :class:`~satclip.onnx_runtime.OnnxEncoder`);
    - ``hf://OWNER/REPO/FILE[@REVISION]``: such a file on the Hugging Face Hub (:mod:`satclip.hub`);
    - a raw encoding, its features as the embedding (float64, no learning): ``sh<L>`` for
      spherical harmonics of L degrees in the published convention (``sh10``, ``sh40``), or
      another name in :func:`satclip.list_encodings` (``wrap``, ``direct``, ``rff``, ...);
    - ``"geoclip"``: GeoCLIP's location encoder (the ``geoclip`` extra; :mod:`satclip.peers`).

    ``precision``: ``"float32"`` (the model as saved), ``"bf16"`` or ``"auto"`` (bfloat16 matrix
    products where they keep the embedding, and for ``"auto"`` only where the hardware multiplies
    bfloat16: :meth:`~satclip.encoder.LocationEncoder.set_precision`; ``"bf16"`` is for satclip's
    SIREN models, ``"auto"`` leaves every other model as it is).

    Every function that takes a ``model`` accepts a spec and resolves it here. Torch models are
    returned in eval mode, so ``enc(lonlat)`` is deterministic (dropout off). The returned
    object's ``spec`` is the string it was loaded from. A model that is not on this machine
    raises :class:`~satclip.errors.ModelNotFoundError`; a file that is not a model,
    :class:`~satclip.errors.ModelFileError`; an unknown name, :class:`~satclip.errors.InputError`.
    """
    if not isinstance(spec, str | os.PathLike):
        raise InputTypeError(
            f"load() takes a name, a path or an hf:// address, got {type(spec).__name__}; "
            "a model object is already loaded: pass it as it is"
        )
    key = os.fspath(spec)
    precision = check_precision(precision)
    model: Embedder
    if key.startswith(hub.PREFIX):
        model = _load_path(hub.download(HubFile.parse(key)), device)
    elif key in PRETRAINED:
        model = load_file(model_path(key), device)
    elif key == "geoclip":
        from satclip.peers import GeoCLIPEncoder

        model = GeoCLIPEncoder(device)
    elif (raw := _raw_encoder(key)) is not None:
        model = raw.to(available_device(device))
    else:
        path = Path(key).expanduser()
        if not path.exists() and os.sep not in key and "." not in key:
            raise _unknown_spec(key)
        model = _load_path(path, device)
    if isinstance(model, LocationEncoder):
        model.set_precision(precision)
    elif precision == "bf16":
        raise InputError(
            f"{key}: precision='bf16' is for satclip's torch models; this is a {type(model).__name__} "
            "(use precision='float32' or 'auto')"
        )
    model.spec = key
    return model


def resolve(model: Embedder | ModelSpec, device: str | torch.device = "cpu") -> Embedder:
    """``model`` itself when it is already a model, else :func:`load` of the spec: what every
    function taking a ``model`` argument calls first."""
    if isinstance(model, str | os.PathLike):
        return load(model, device)
    if isinstance(model, Embedder):
        return model
    missing = [m for m in _EMBEDDER_MEMBERS if not hasattr(model, m)]
    raise InputTypeError(
        f"model must be a satclip model (satclip.load(...)) or what load() takes (a name, a path, "
        f"hf://...), got {type(model).__name__}"
        + (
            f", which lacks {', '.join(missing)} of satclip.embedder.Embedder"
            if hasattr(model, "embed_array")
            else ""
        )
    )


# The protocol's members: its methods and properties, and its annotated attributes.
_EMBEDDER_MEMBERS = sorted(
    {n for n in vars(Embedder) if not n.startswith("_")} | set(Embedder.__annotations__)
)


def resolve_torch(
    model: Embedder | ModelSpec, purpose: str, device: str | torch.device = "cpu"
) -> LocationEncoder:
    """:func:`resolve`, for what only a torch :class:`LocationEncoder` can do (``purpose``)."""
    resolved = resolve(model, device)
    if not isinstance(resolved, LocationEncoder):
        raise InputTypeError(
            f"{purpose} needs a satclip torch model (a .safetensors or .ckpt file, or a pretrained "
            f"name), got {type(resolved).__name__} ({resolved.spec or 'built in memory'})"
        )
    return resolved
