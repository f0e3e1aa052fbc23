"""Downloading one file over HTTP(S), or copying it from a ``file://`` URL: retried, resumed,
checked.

requests does the HTTP (with urllib3's ``Retry`` for refused connections and 5xx answers); what
it leaves to its callers is resuming a body cut off half-way, which :func:`download` does with a
``Range`` request from the end of the partial file. A download is written to ``NAME.part`` and
renamed to ``NAME`` only when complete and, given ``sha256``, verified: a half-downloaded file
never has the final name, and a later call picks the partial file up where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from satclip._files import exclusive_lock
from satclip._optional import require
from satclip._version import package_version
from satclip.errors import DownloadError

CHUNK = 1 << 20
# (connect, read) in seconds; the read limit is for a silence between two chunks, not the whole.
TIMEOUT: tuple[float, float] = (15.0, 60.0)
ATTEMPTS = 4  # tries of one download, each resuming where the last one stopped
BACKOFF = 0.5  # seconds before the second try, doubled after each


class NotFoundError(DownloadError):
    """The server has no such file (HTTP 404 or 410, or a missing ``file://`` path): the caller
    may try another address."""


def _session() -> Any:
    requests = require("requests", "data", "downloading data sources")
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=2,
        read=0,  # a body cut short is resumed below, not re-sent from the start
        backoff_factor=BACKOFF,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = f"satclip/{package_version()}"
    return session


def _file_path(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else None


def _check_status(url: str, status: int) -> None:
    if status in (404, 410):
        raise NotFoundError(f"{url}: not found (HTTP {status})")
    if status >= 400:
        raise DownloadError(f"{url}: the server answered HTTP {status}")


def get_text(
    url: str, accept: str | None = None, timeout: tuple[float, float] | None = None
) -> tuple[str, str]:
    """The body of ``url`` as text and its content type (``""`` for a ``file://`` URL)."""
    path = _file_path(url)
    if path is not None:
        if path.is_dir():
            path = path / "index.html"  # a static mirror folder's index page
        if not path.is_file():
            raise NotFoundError(f"{url}: no such file ({path})")
        return path.read_text(encoding="utf-8"), ""
    requests = require("requests", "data", "downloading data sources")
    headers = {"Accept": accept} if accept else {}
    try:
        with _session() as session:
            r = session.get(url, headers=headers, timeout=timeout or TIMEOUT)
    except requests.RequestException as e:
        raise DownloadError(f"{url}: {_reason(e, timeout or TIMEOUT)}") from e
    _check_status(url, r.status_code)
    return r.text, r.headers.get("Content-Type", "")


def _reason(e: BaseException, timeout: tuple[float, float]) -> str:
    requests = require("requests", "data")
    import urllib3

    # requests wraps a timeout while waiting for the headers in a ConnectionError.
    cause = getattr(e.args[0], "reason", None) if e.args else None
    detail = str(cause or e)
    if isinstance(e, requests.Timeout | urllib3.exceptions.TimeoutError) or "timed out" in detail:
        return f"timed out: no answer within {max(timeout):g} s"
    if isinstance(e, requests.ConnectionError):
        return f"could not connect, or the connection broke: {detail}"
    return f"{type(e).__name__}: {detail}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    attempts: int | None = None,
    timeout: tuple[float, float] | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming an interrupted transfer, and return ``dest``.

    ``sha256``: the file's checksum where the registry publishes it; a mismatch deletes the
    download and raises. Raises :class:`NotFoundError` for a missing file and
    :class:`DownloadError`, naming the URL, for anything else; the partial file is kept for the
    next call to resume unless it failed its checksum."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with exclusive_lock(dest.with_name(dest.name + ".lock"), f"the download of {url}"):
        path = _file_path(url)
        if path is not None:
            if not path.is_file():
                raise NotFoundError(f"{url}: no such file ({path})")
            shutil.copyfile(path, part)
        else:
            _transfer(url, part, attempts or ATTEMPTS, timeout or TIMEOUT)
        if sha256 is not None:
            got = sha256_of(part)
            if got != sha256:
                part.unlink()
                raise DownloadError(
                    f"{url}: the downloaded file has sha256 {got}, but its registry lists {sha256}; "
                    "it was deleted: run the command again, or download the file by hand"
                )
        os.replace(part, dest)
    return dest


def _transfer(url: str, part: Path, attempts: int, timeout: tuple[float, float]) -> None:
    requests = require("requests", "data", "downloading data sources")
    import urllib3

    last: BaseException | None = None
    with _session() as session:
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            have = part.stat().st_size if part.exists() else 0
            # The file's own bytes, never re-encoded in transit, so that a range continues them.
            headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={have}-"} if have else {})
            try:
                with session.get(url, headers=headers, stream=True, timeout=timeout) as r:
                    if r.status_code == 416:  # the partial file is not a prefix of this one
                        part.unlink()
                        continue
                    _check_status(url, r.status_code)
                    resumed = r.status_code == 206 and r.headers.get("Content-Range", "").startswith(
                        f"bytes {have}-"
                    )
                    if r.status_code == 206 and not resumed:  # a range not asked for: start over
                        part.unlink(missing_ok=True)
                        last = DownloadError(f"answered {r.headers.get('Content-Range')!r} to bytes={have}-")
                        continue
                    total = _expected_size(r, have if resumed else 0)
                    # read1 hands over what has arrived, so a body cut off keeps all of it.
                    read = getattr(r.raw, "read1", r.raw.read)
                    with open(part, "ab" if resumed else "wb") as f:
                        while block := read(CHUNK):
                            f.write(block)
                if total is not None and part.stat().st_size != total:
                    last = DownloadError(f"got {part.stat().st_size} of {total} bytes")
                    continue
                return
            except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
                last = e
    raise DownloadError(
        f"{url}: failed after {attempts} tries ({_reason(last, timeout) if last else 'no answer'}); "
        f"the part downloaded so far is kept in {part} and the next try resumes from it"
    )


def _expected_size(r: Any, offset: int) -> int | None:
    length = r.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None
