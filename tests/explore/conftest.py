"""Explorer fixtures: real servers on free local ports, and a real Chromium (Debian's, driven by
Playwright) where one can be found."""

import os
import shutil

import pytest

from satclip.explore import Server, bind, create_app

# Small shipped models keep the suite fast: an L=10 model and the seasonal L=40 beside it.
MODEL = "satclip-bluemarble-l10"
SEASONAL = "satclip-bluemarble-seasonal-l40"


def chromium_path() -> str | None:
    """A Chromium or Chrome binary: $SATCLIP_CHROMIUM, else the first on PATH."""
    names = [
        os.environ.get("SATCLIP_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",  # macOS
    ]
    for name in names:
        found = name and shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def serve(source_cache):
    """serve(app) → the URL of ``app`` on a free 127.0.0.1 port, stopped after the session."""
    servers = []

    def start(app):
        servers.append(Server(app, bind("127.0.0.1", 0)).start())
        return servers[-1].url

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATCLIP_CACHE", str(source_cache))
        yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def explorer_app(source_cache):
    """The explorer of MODEL with SEASONAL as the second model."""
    return create_app(MODEL, SEASONAL)


@pytest.fixture(scope="session")
def explorer_url(serve, explorer_app):
    return serve(explorer_app)


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is in satclip[test]")
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium: scripts/setup.sh installs Debian's chromium where apt-get runs as root; "
            "elsewhere set SATCLIP_CHROMIUM to a Chromium or Chrome binary"
        )
    with playwright.sync_playwright() as p:
        # --no-sandbox: Chromium refuses to start as root (CI containers) with its sandbox on.
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield b
        b.close()
