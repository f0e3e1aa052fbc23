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
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from satclip import hub
from satclip._files import cache_root, write_text
from satclip._registry import did_you_mean
from satclip.checkpoints import load_file
from satclip.encoder import LocationEncoder
from satclip.errors import DownloadError, InputError, ModelFileError, ModelNotFoundError
from satclip.hub import HubFile


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
    legendre: int, sha256: str, night: bool = False, version: int = 1, recipe: str = ""
) -> PretrainedModel:
    imagery = "bluemarble-viirs" if night else "bluemarble"
    # Versions after the first get a suffix: a retrained model never replaces the weights behind
    # a name that results have already been published with.
    name = f"satclip-{imagery}-l{legendre}" + (f"-v{version}" if version > 1 else "")
    trained_on = "100k Blue Marble patches with VIIRS night lights" if night else "100k Blue Marble patches"
    return PretrainedModel(
        name=name,
        filename=f"{name}.safetensors",
        description=f"satclip's own, L={legendre}: SH+SIREN trained on {trained_on}{recipe} (MODELS.md)",
        sha256=sha256,
        data=("bluemarble", "night-viirs", "landmask") if night else ("bluemarble", "landmask"),
    )


PRETRAINED: dict[str, PretrainedModel] = {
    m.name: m
    for m in [
        # The recommended model: true colour and night lights, contrastive temperature fixed at
        # 0.1 (issue 12, MODELS.md "A fixed temperature of 0.1").
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
# the best of the shipped ones on the evaluation suite (EVALUATION.md).
RECOMMENDED = "satclip-bluemarble-viirs-l40-v2"


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


def load(
    name_or_path: str | os.PathLike[str] = RECOMMENDED, device: str | torch.device = "cpu"
) -> LocationEncoder:
    """A :class:`LocationEncoder` from a name in :func:`list_pretrained` or a model file path;
    by default the recommended model (``satclip.pretrained.RECOMMENDED``, as in ``satclip
    embed`` and :class:`satclip.sklearn.SatCLIPFeatures`). Name it in work that must give the
    same embeddings after an upgrade: a later version may recommend another model.

    Files are our ``.safetensors`` model files or published SatCLIP ``.ckpt`` checkpoints, local
    or on the Hugging Face Hub as ``hf://OWNER/REPO/FILE[@REVISION]`` (:mod:`satclip.hub`).
    The encoder is returned in eval mode, so ``enc(lonlat)`` is deterministic (dropout off).
    """
    key = os.fspath(name_or_path)
    if key.startswith(hub.PREFIX):
        return load_file(hub.download(HubFile.parse(key)), device)
    if key in PRETRAINED:
        return load_file(model_path(key), device)
    path = Path(key).expanduser()
    if not path.exists() and os.sep not in key and "." not in key:
        raise _unknown_model(key)
    return load_file(path, device)
