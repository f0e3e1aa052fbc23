"""Writing files so that a half-written one never has its final name.

Every output goes through :func:`atomic_path`: the writer fills a temporary name beside the
destination, which is renamed onto it only when the writer finished without an error. The final
file has the permissions any other output has (0666 less the umask), or those of the file it
replaces; never the 0600 of ``tempfile.mkstemp``.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from satclip.errors import BusyError, InputError, OutputIsDirectoryError


def _temp_name(dest: Path, suffix: str) -> Path:
    # Unique per process and call: two writers of the same destination never share a temp file.
    return dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")


@contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``dest`` for a writer to fill; renamed onto ``dest`` when the
    block ends normally, removed when it raises. ``suffix`` ends the temporary name, for
    writers that choose a format by it (``.png``, ``.npz``).

    The final file gets the mode a plain ``open(dest, "w")`` would give it: that of the file it
    replaces, or 0666 less the umask. (Writers differ: safetensors, for one, creates 0600 files.)
    """
    dest = Path(dest)
    check_not_directory(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(dest, suffix)
    # Created here with 0666 so that the kernel applies the umask: the mode a plain write gets.
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    mode = stat.S_IMODE(tmp.stat().st_mode)
    try:
        yield tmp
        if dest.exists():
            mode = stat.S_IMODE(dest.stat().st_mode)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_not_directory(dest: Path) -> None:
    """Refuse an output path that is an existing folder, before anything is computed or written
    (``os.replace`` would only fail at the very end)."""
    if dest.is_dir():
        name = f"NAME{dest.suffix}" if dest.suffix else "NAME"
        raise OutputIsDirectoryError(
            f"{dest} is a directory; give the path of a file in it, e.g. {dest / name}"
        )


@contextmanager
def atomic_open(dest: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(dest, mode)`` through :func:`atomic_path`; ``mode`` is ``"w"`` or ``"wb"``."""
    if mode not in ("w", "wb"):
        raise InputError(f"atomic_open writes new files only (mode 'w' or 'wb'), got {mode!r}")
    with atomic_path(dest) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def write_text(dest: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_open(dest, "w", encoding="utf-8") as f:
        f.write(text)
    return Path(dest)


def write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_open(dest, "wb") as f:
        f.write(data)
    return Path(dest)


def write_json(dest: str | os.PathLike[str], data: Any, indent: int | None = 1) -> Path:
    """Write ``data`` as JSON to ``dest`` atomically."""
    return write_text(dest, json.dumps(data, indent=indent))


def save_figure(fig: Any, out: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Save a matplotlib figure to ``out`` atomically.

    satclip draws on :class:`matplotlib.figure.Figure` objects made directly, never through
    pyplot: no backend is chosen or switched and pyplot's figure registry (which a notebook
    displays) is left alone; ``savefig`` renders with Agg by itself and the figure is freed as
    soon as it is unreferenced."""
    out = Path(out)
    with atomic_path(out, suffix=out.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return out


@contextmanager
def exclusive_lock(lock: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (created if needed, removed when released)
    for the block, or raise :class:`BusyError` at once if another process holds it.

    ``what`` names the guarded output in the error. The lock is the kernel's (``flock``), so a
    killed holder releases it. On systems without ``fcntl`` (Windows) no lock is taken.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock = Path(lock)
    # The guarded output's folder is created as atomic_path creates it: `satclip embed -o
    # new/dir/x.npy` failed on the lock file, a name the user never gave.
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BusyError(
                f"{what} is being written by another process (lock {lock}); wait for it to finish, "
                "or write to another path"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        # The previous holder removed the file between our open and our lock: lock the new one.
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def offline() -> bool:
    """Whether ``$SATCLIP_OFFLINE`` asks satclip never to touch the network (any value but
    empty, 0, false or no): sources and hub files then come from the cache or not at all."""
    return os.environ.get("SATCLIP_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def cache_root() -> Path:
    """satclip's cache folder: ``$SATCLIP_CACHE``, default ``~/.cache/satclip``. Models live in
    ``models/``, registry sources in ``sources/`` (their package files in ``downloads/`` while
    they download: a cut-off one resumes from its ``.part`` file), built evaluation tasks in
    ``tasks/``."""
    return Path(os.environ.get("SATCLIP_CACHE", Path.home() / ".cache" / "satclip"))
