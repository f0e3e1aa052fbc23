"""Model files on the Hugging Face Hub, through ``huggingface_hub``: ``hf://`` URIs, downloads, uploads.

    >>> enc = satclip.load("hf://OWNER/REPO/model.safetensors@REVISION")

``hf://OWNER/REPO/PATH/IN/REPO[@REVISION]`` names one file of a model repository; the revision
(a branch, tag or commit) defaults to ``main``, and a commit pins the file for good. Files are
cached by ``huggingface_hub`` under ``$SATCLIP_CACHE/hub``. The endpoint is huggingface.co, or
``$SATCLIP_HUB_URL`` (or huggingface_hub's own ``HF_ENDPOINT``) for a mirror or a test server.
Needs the ``hub`` extra (huggingface_hub).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from satclip._compat import renamed
from satclip._files import cache_root, offline
from satclip._optional import require
from satclip.errors import DownloadError, InputError

if TYPE_CHECKING:
    from satclip.encoder import LocationEncoder

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
            raise InputError(f"{uri!r} is not an hf:// URI")
        rest, _, revision = uri[len(PREFIX) :].partition("@")
        parts = rest.split("/")
        if len(parts) < 3 or not all(parts) or (_ and not revision):
            raise InputError(
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
            local_files_only=offline(),
        )
    except (OSError, hf.errors.EntryNotFoundError, httpx.HTTPError) as e:
        first_line = (str(e).strip().splitlines() or [""])[0]
        if offline():
            raise DownloadError(
                f"{file} is not in the cache and SATCLIP_OFFLINE is set, so nothing is downloaded; "
                "load it once with network access"
            ) from e
        raise DownloadError(
            f"could not download {file}: {type(e).__name__}: {first_line}; check the repository, "
            "file and revision, the network, or SATCLIP_HUB_URL / HF_ENDPOINT"
        ) from e
    return Path(path)


@renamed(encoder="model")
def model_card(
    model: LocationEncoder,
    name: str,
    filename: str,
    data_sources: Sequence[str] = (),
    description: str = "",
    scores: str | None = None,
    teachers: Sequence[str] = (),
) -> str:
    """A Hub model card (README.md): what the model is, how to load it, its config, the data it
    was trained on with licences and attribution, the encoders it was distilled from
    (``satclip.peers.TEACHERS``) with theirs, and evaluation scores when given (markdown,
    e.g. the ``results.md`` of ``satclip evaluate`` or a section of EVALUATION.md)."""
    from satclip.peers import TEACHERS
    from satclip.sources import SOURCES

    cfg = model.config
    lines = [
        "---",
        "library_name: satclip",
        "tags: [satclip, location-embedding, geospatial, spherical-harmonics]",
        "---",
        "",
        f"# {name}",
        "",
        description or "A satclip location encoder: (longitude, latitude) in degrees to an embedding.",
        "",
        "```python",
        "import satclip",
        f'enc = satclip.load("hf://REPO/{filename}")  # REPO: this repository; add @COMMIT to pin',
        "emb = enc.embed(lon=[2.35, -74.0], lat=[48.86, 40.71])",
        "```",
        "",
        f"Encoding `{cfg.encoding.name}`, network `{cfg.network.name}`, embedding dimension "
        f"{model.dim}, {cfg.dtype}.",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(cfg.to_dict(), indent=2),
        "```",
        "",
        "## Training data",
        "",
    ]
    if data_sources:
        for source in data_sources:
            s = SOURCES[source]
            lines.append(
                f"- **{source}**: {s.description} Licence: {s.licence}. Attribution: {s.attribution}."
            )
    else:
        lines.append("Not recorded with this model file.")
    if teachers:
        lines += ["", "## Distilled from", ""]
        for name in teachers:
            t = TEACHERS[name]
            lines.append(
                f"- **{name}**, learned from {t.learned_from}. Licence: {t.licence}. Attribution: {t.attribution}."
            )
    if model.training_index is not None:
        lines += [
            "",
            f"The file carries the {len(model.training_index):,} training locations (`satclip.ood`).",
        ]
    if scores:
        lines += ["", "## Evaluation", "", scores.strip()]
    return "\n".join(lines) + "\n"


@renamed(encoder="model")
def push_to_hub(
    model: LocationEncoder,
    repo_id: str,
    filename: str = "model.safetensors",
    card: str | None = None,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    message: str | None = None,
) -> str:
    """Upload ``model`` as a satclip model file, with a model card, in one commit to the model
    repository ``repo_id`` (created if needed). Returns the commit's URL.

    ``card`` defaults to :func:`model_card` without data sources or scores. The token is
    huggingface_hub's (``HF_TOKEN``, or ``hf auth login``) unless given."""
    import tempfile

    from satclip.checkpoints import save

    hf = require("huggingface_hub", "hub", "pushing to the Hub")
    api = hf.HfApi(endpoint=endpoint(), token=token)
    with tempfile.TemporaryDirectory(prefix="satclip-push-") as d:
        path = save(model, Path(d) / filename)
        card = card or model_card(model, repo_id.split("/")[-1], filename)
        operations = [
            hf.CommitOperationAdd(path_in_repo=filename, path_or_fileobj=str(path)),
            hf.CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode()),
        ]
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=message or f"satclip: upload {filename}",
            revision=revision,
        )
    return str(info.commit_url)
