"""Serving the explorer: a socket bound before the server starts (so that port 0 picks a free
port and the printed address is the real one), uvicorn on it, the browser opened once it listens."""

from __future__ import annotations

import logging
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
LOCAL = "127.0.0.1"


def bind(host: str = LOCAL, port: int = 8000) -> socket.socket:
    """A listening-ready TCP socket on (``host``, ``port``); port 0 lets the system choose."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose proto
    # is IPPROTO_TCP; with the default 0 every keep-alive response waited ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        from satclip.errors import InputError

        raise InputError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port") from None
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def is_loopback(sock: socket.socket) -> bool:
    """Whether ``sock`` listens on this machine only."""
    return sock.getsockname()[0] in ("127.0.0.1", "::1")


def _local_only(app: Any) -> Any:
    """``app`` answering only requests addressed to this machine by name: a web page elsewhere
    that points its own host name at 127.0.0.1 (DNS rebinding) gets a 400, not the user's points."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    return TrustedHostMiddleware(app, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])


class Server:
    """``app`` served by uvicorn on ``sock``; :meth:`run` blocks, :meth:`start` runs it on a
    thread (tests, notebooks) and :meth:`stop` ends it."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        from satclip._optional import require

        require("uvicorn", "explore")
        import uvicorn

        self.sock, self.url = sock, address(sock)
        if is_loopback(sock):
            app = _local_only(app)
        # log_config=None: uvicorn leaves the process's logging as it was (its own set-up would
        # configure loggers); no access log, tiles are many; errors reach the uvicorn.error logger.
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        if on_ready is not None:
            threading.Thread(target=self._when_ready, args=(on_ready,), daemon=True).start()
        self._server.run(sockets=[self.sock])

    def _when_ready(self, on_ready: Callable[[], None]) -> None:
        while not self._server.started and not self._server.should_exit:
            time.sleep(0.05)
        if self._server.started:
            on_ready()

    def start(self) -> Server:
        ready = threading.Event()
        self._thread = threading.Thread(target=self.run, args=(ready.set,), daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the explorer's server did not start within 30 s")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.sock.close()


def serve(app: Any, host: str = LOCAL, port: int = 8000, open_browser: bool = True) -> None:
    """Serve ``app`` until interrupted, printing its address and opening it in the browser."""
    sock = bind(host, port)
    server = Server(app, sock)
    if not is_loopback(sock):
        log.warning(
            "satclip explore listens on %s: anyone who can reach this machine can use the explorer "
            "and make it compute; bind 127.0.0.1 (the default) unless you mean to share it",
            host,
        )

    def ready() -> None:
        print(f"satclip explore: {server.url} (Ctrl+C to stop)", flush=True)
        explorer = getattr(app.state, "explorer", None)
        if explorer is not None:  # the first tiles then need not wait for fetches and fits
            threading.Thread(target=explorer.warm, daemon=True).start()
        if open_browser:
            webbrowser.open(server.url)

    server.run(ready)
