"""A loopback stand-in for the package registries: genuine package files in the registries'
own layouts (a PyPI simple index with a wheel, an npm tarball, a ``.deb`` in a Debian pool),
served over HTTP with byte ranges, and faults to inject (a cut-off body, a silence, a status).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PYPI_JSON = "application/vnd.pypi.simple.v1+json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- genuine package files -------------------------------------------------------------------


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """A wheel as the wheel spec lays it out: the files, and a dist-info with METADATA, WHEEL
    and a RECORD of every file's urlsafe-base64 sha256."""
    import base64

    stem = f"{dist.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: satclip-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{stem}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _tar(members: dict[str, bytes], mode: str, dirs: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:  # type: ignore[call-overload]
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_npm_tarball(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """An npm tarball as ``npm pack`` writes it: gzip'd tar, everything under ``package/``."""
    members = {"package/package.json": json.dumps({"name": name, "version": version}).encode()}
    members.update({f"package/{k}": v for k, v in files.items()})
    path = folder / f"{name}-{version}.tgz"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tar(members, "w:gz"))
    return path


def make_deb(folder: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A binary package as dpkg-deb builds it: an ``ar`` archive of ``debian-binary``,
    ``control.tar.xz`` and ``data.tar.xz`` (paths ``./usr/...``)."""
    control = (
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: satclip tests <tests@example.org>\nDescription: test data\n"
    ).encode()
    parts = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", _tar({"./control": control}, "w:xz", ("./",))),
        ("data.tar.xz", _tar({f"./{k}": v for k, v in files.items()}, "w:xz", ("./",))),
    ]
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in parts:
        out.write(f"{name:<16}{1_700_000_000:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    path = folder / f"{package}_{version.split(':', 1)[-1]}_all.deb"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path


def write_simple_index(index: Path, project: str, files: list[Path], base_url: str, as_json: bool) -> None:
    """A project's page of a PEP 503 (HTML, hashes in ``#sha256=``) or PEP 691 (JSON) simple
    index at ``index/PROJECT/``, linking ``files`` at ``base_url/NAME``."""
    page = index / project
    page.mkdir(parents=True, exist_ok=True)
    entries = [(f.name, f"{base_url}/{f.name}", sha256(f.read_bytes())) for f in files]
    if as_json:
        doc = {
            "meta": {"api-version": "1.0"},
            "name": project,
            "files": [{"filename": n, "url": u, "hashes": {"sha256": h}} for n, u, h in entries],
        }
        (page / "index.json").write_text(json.dumps(doc))
    links = "\n".join(f'<a href="{u}#sha256={h}">{n}</a><br/>' for n, u, h in entries)
    (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}\n</body></html>\n")


# ---- the server ------------------------------------------------------------------------------


@dataclass
class Fault:
    """What the server does wrong for one path: ``cut_after`` bytes of the body and then close
    the connection (``times`` times), ``silence`` seconds before answering, answer ``status``,
    ignore ``Range``, or answer it from byte ``range_from``."""

    cut_after: int | None = None
    times: int = 1
    silence: float = 0.0
    status: int | None = None
    ignore_range: bool = False
    range_from: int | None = None  # answer a Range request from this byte instead


@dataclass
class Server:
    root: Path
    url: str = ""
    faults: dict[str, Fault] = field(default_factory=dict)
    log: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)


def _handler(state: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            try:
                self._get()
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: a timeout test
                self.close_connection = True

        def _get(self) -> None:
            path = self.path.split("?", 1)[0]
            state.log.append((path, self.headers.get("Range")))
            fault = state.faults.get(path, Fault())
            if fault.silence:
                time.sleep(fault.silence)
            if fault.status:
                return self._send(fault.status, b"", "text/plain")
            target = state.root / path.lstrip("/")
            kind = "application/octet-stream"
            if target.is_dir():
                wants_json = PYPI_JSON in (self.headers.get("Accept") or "")
                if wants_json and (target / "index.json").is_file():
                    target, kind = target / "index.json", PYPI_JSON
                else:
                    target, kind = target / "index.html", "text/html"
            if not target.is_file():
                return self._send(404, b"not found", "text/plain")
            data = target.read_bytes()
            start = 0
            ranged = self.headers.get("Range")
            if ranged and not fault.ignore_range:
                start = int(ranged.removeprefix("bytes=").split("-")[0])
                start = start if fault.range_from is None else fault.range_from
                if start >= len(data):
                    return self._send(416, b"", "text/plain")
            body = data[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if fault.cut_after is not None and fault.times > 0:
                fault.times -= 1
                self.wfile.write(body[: fault.cut_after])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return None
            self.wfile.write(body)
            return None

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Quiet(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up (timeout tests) is part of the plan


@contextmanager
def serve(root: Path) -> Iterator[Server]:
    """Serve ``root`` on a free loopback port for the block."""
    state = Server(root)
    httpd = _Quiet(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
