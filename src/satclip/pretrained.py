"""Named models: ``list_pretrained()``, ``load(name_or_path)`` and downloading into the cache.

A name is either bundled inside the package (``satclip/weights/``) or a published SatCLIP
checkpoint fetched once with ``satclip download NAME`` into ``$SATCLIP_CACHE/models``
(default ``~/.cache/satclip/models``). Every load verifies the file's sha256: against the
value recorded here for bundled files, and against the value recorded at download time for
cached ones (the hub's own hashes of the released files are not known to this package).
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from satclip._files import atomic_path, cache_root, write_text
from satclip.checkpoints import ModelFileError, load_file
from satclip.encoder import LocationEncoder

HUB_URL = "https://huggingface.co"


@dataclass(frozen=True)
class PretrainedModel:
    """One named model: where its file lives and what it is."""

    name: str
    filename: str
    description: str
    repo: str | None = None  # hub repository for published checkpoints
    sha256: str | None = None  # known for bundled files

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


def _bundled(legendre: int, sha256: str) -> PretrainedModel:
    name = f"satclip-bluemarble-l{legendre}"
    return PretrainedModel(
        name=name,
        filename=f"{name}.safetensors",
        description=f"satclip's own, L={legendre}: SH+SIREN trained on 100k Blue Marble patches (MODELS.md)",
        sha256=sha256,
    )


PRETRAINED: dict[str, PretrainedModel] = {
    m.name: m
    for m in [
        _bundled(40, "695ad4d9f7a49ef163a5790575191822792b916f26c768da7954493633c19d8f"),
        _bundled(10, "ce4161e64336b8d8e15eeb85784112a117117a124a45445f04a43ee0827bc12e"),
        *[
            _published(b, t, lp)
            for b, t in (("resnet18", "ResNet18"), ("resnet50", "ResNet50"), ("vit16", "ViT16"))
            for lp in (10, 40)
        ],
    ]
}


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


def model_path(name: str) -> Path:
    """Path of a named model's verified file; raises with what to do if it is not available."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown model {name!r}; choose one of {list_pretrained()} or pass a file path")
    model = PRETRAINED[name]
    if model.bundled:
        path, expected = _bundled_path(model), model.sha256
    else:
        path = cache_dir() / model.filename
        if not path.exists():
            raise FileNotFoundError(
                f"{name} is not in the cache ({path}); download it once with "
                f"`satclip download {name}` (needs internet), or pass the path of the .ckpt file"
            )
        sidecar = path.with_name(path.name + ".sha256")
        expected = sidecar.read_text().split()[0] if sidecar.exists() else None
        if expected is None:
            raise ModelFileError(
                path, f"no recorded checksum ({sidecar.name}); run `satclip download {name}` again"
            )
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFileError(
            path,
            f"sha256 {actual[:16]}… does not match the recorded {str(expected)[:16]}… (corrupt or truncated); "
            f"delete it and run `satclip download {name}`",
        )
    return path


def download(name: str, force: bool = False, progress: bool = True) -> Path:
    """Fetch a published checkpoint into the cache (atomically) and record its sha256."""
    if name not in PRETRAINED or PRETRAINED[name].bundled:
        downloadable = [n for n, m in PRETRAINED.items() if not m.bundled]
        raise ValueError(f"{name!r} is not a downloadable model; choose one of {downloadable}")
    model = PRETRAINED[name]
    dest = cache_dir() / model.filename
    sidecar = dest.with_name(dest.name + ".sha256")
    if dest.exists() and sidecar.exists() and not force:
        return dest
    base = os.environ.get("SATCLIP_HUB_URL", HUB_URL).rstrip("/")
    url = f"{base}/{model.repo}/resolve/main/{model.filename}"
    h = hashlib.sha256()
    try:
        with atomic_path(dest, suffix=".part") as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                bar = _progress(total, model.filename, progress)
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
                bar.close()
            size = tmp.stat().st_size
            if total is not None and size != total:
                raise ModelFileError(dest, f"download truncated: {size} of {total} bytes from {url}")
            load_file(tmp)  # refuse to cache a file that does not load
        write_text(sidecar, f"{h.hexdigest()}  {dest.name}\n")
    except OSError as e:
        raise OSError(
            f"could not download {name} from {url}: {e}; check the network or set SATCLIP_HUB_URL"
        ) from e
    return dest


def _progress(total: int | None, desc: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional for the core
        enabled = False
    if not enabled:

        class _Null:
            def update(self, n: int) -> None: ...
            def close(self) -> None: ...

        return _Null()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True)


def load(name_or_path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LocationEncoder:
    """A :class:`LocationEncoder` from a name in :func:`list_pretrained` or a model file path.

    Files are our ``.safetensors`` model files or published SatCLIP ``.ckpt`` checkpoints.
    The encoder is returned in eval mode, so ``enc(lonlat)`` is deterministic (dropout off).
    """
    key = os.fspath(name_or_path)
    if key in PRETRAINED:
        return load_file(model_path(key), device)
    path = Path(key).expanduser()
    if not path.exists() and os.sep not in key and "." not in key:
        raise ValueError(f"unknown model {key!r}; choose one of {list_pretrained()} or pass a file path")
    return load_file(path, device)
