"""MkDocs hook: the guides are the repository's own Markdown files (README.md, MODELS.md, ...),
included by a page that holds only ``--8<-- "FILE"``. Their links are relative to the
repository root (``docs/img/x.png``); in the site the page lives under ``docs/``, so the prefix
is rewritten relative to the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$', re.MULTILINE)
_ROOT_LINK = re.compile(r"\]\(docs/")
ROOT = Path(__file__).resolve().parent.parent


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    up = "../" * page.file.src_uri.count("/")

    def include(match: re.Match[str]) -> str:
        text = (ROOT / match.group(1)).read_text(encoding="utf-8")
        return _ROOT_LINK.sub("](" + up, text)

    return _INCLUDE.sub(include, markdown)
