"""Model files on the Hugging Face Hub, through ``huggingface_hub``: ``hf://`` URIs and downloads.

    >>> enc = satclip.load("hf://OWNER/REPO/model.safetensors@REVISION")

``hf://OWNER/REPO/PATH/IN/REPO[@REVISION]`` names one file of a model repository; the revision
(a branch, tag or commit) defaults to ``main``, and a commit pins the file for good. Files are
cached by ``huggingface_hub`` under ``$SATCLIP_CACHE/hub``. The endpoint is huggingface.co, or
``$SATCLIP_HUB_URL`` (or huggingface_hub's own ``HF_ENDPOINT``) for a mirror or a test server.
Needs the ``hub`` extra (huggingface_hub).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from satclip._files import cache_root
from satclip._optional import require

PREFIX = "hf://"


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub model repository at a revision."""

    repo_id: str
    filename: str
    revision: str = "main"

    @classmethod
    def parse(cls, uri: str) -> HubFile:
        """``hf://OWNER/REPO/PATH[@REVISION]`` → its parts; ``ValueError`` says the form."""
        if not uri.startswith(PREFIX):
            raise ValueError(f"{uri!r} is not an hf:// URI")
        rest, _, revision = uri[len(PREFIX) :].partition("@")
        parts = rest.split("/")
        if len(parts) < 3 or not all(parts) or (_ and not revision):
            raise ValueError(
                f"{uri!r}: expected hf://OWNER/REPO/FILE or hf://OWNER/REPO/FILE@REVISION, "
                "e.g. hf://microsoft/SatCLIP-ResNet18-L10/satclip-resnet18-l10.ckpt"
            )
        return cls("/".join(parts[:2]), "/".join(parts[2:]), revision or "main")

    def __str__(self) -> str:
        return f"{PREFIX}{self.repo_id}/{self.filename}@{self.revision}"


def endpoint() -> str | None:
    """The Hub's address: ``$SATCLIP_HUB_URL`` when set, else huggingface_hub's default."""
    url = os.environ.get("SATCLIP_HUB_URL")
    return url.rstrip("/") if url else None


def download(file: HubFile, local_dir: Path | None = None) -> Path:
    """The local path of ``file``: fetched once, then from the cache. ``local_dir`` puts it at
    ``local_dir / file.filename`` instead of huggingface_hub's cache.

    Raises ``OSError`` saying what failed (no such repository, file or revision; no network)."""
    hf = require("huggingface_hub", "hub", f"downloading {file}")
    import httpx  # huggingface_hub's HTTP client: its connection errors are not OSErrors

    try:
        path = hf.hf_hub_download(
            file.repo_id,
            file.filename,
            revision=file.revision,
            cache_dir=None if local_dir else cache_root() / "hub",
            local_dir=local_dir,
            endpoint=endpoint(),
        )
    except (OSError, hf.errors.EntryNotFoundError, httpx.HTTPError) as e:
        first_line = (str(e).strip().splitlines() or [""])[0]
        raise OSError(
            f"could not download {file}: {type(e).__name__}: {first_line}; check the repository, "
            "file and revision, the network, or SATCLIP_HUB_URL / HF_ENDPOINT"
        ) from e
    return Path(path)
