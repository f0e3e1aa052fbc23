"""The explorer's server over real HTTP: the endpoints, their answers, and what they refuse
(malformed tiles, paths, oversized exports), each with a 400 or 404 that names the problem."""

import http.client
import io
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from PIL import Image

import satclip
from satclip.explore import create_app, load_points
from satclip.explore.layers import cosine, pixel_centres
from tests.explore.conftest import MODEL


def get(url, path, status=200):
    r = requests.get(url + path.lstrip("/"), timeout=120)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    return r


def raw_get(url, path):
    """A request whose path is sent as written (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def image(r):
    return np.asarray(Image.open(io.BytesIO(r.content)))


def test_page_and_the_files_it_loads(explorer_url):
    page = get(explorer_url, "/").text
    assert "/static/leaflet.js" in page and "/static/explore.js" in page
    for src in ("//", "http:", "https:"):  # nothing from another server
        assert f'src="{src}' not in page and f'href="{src}' not in page
    assert "Leaflet" in get(explorer_url, "/static/leaflet.js").text[:200]
    assert get(explorer_url, "/static/explore.css").headers["content-type"].startswith("text/css")
    get(explorer_url, "/static/app.py", 404)
    get(explorer_url, "/static/LICENSE-leaflet.txt", 404)  # in the package, not served


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2F..%2Fexplore%2Fapp.py",
        "/static/%2e%2e/%2e%2e/__init__.py",
        "/tiles/base/../../../etc/passwd",
        "/tiles/pca/0/1/1/..%2F..%2Fetc%2Fpasswd.png",
    ],
)
def test_no_path_from_the_request_reaches_a_file(explorer_url, path):
    status, body = raw_get(explorer_url, path)
    assert status in (400, 404)
    assert b"import" not in body and b"root:" not in body


def test_only_requests_addressed_to_this_machine(explorer_url):
    """DNS rebinding: a page on another host name that resolves to 127.0.0.1 gets nothing."""
    assert get(explorer_url.replace("127.0.0.1", "localhost"), "/api/info").ok
    r = requests.get(explorer_url + "api/points", headers={"Host": "evil.example:8000"}, timeout=30)
    assert r.status_code == 400 and b"value" not in r.content


def test_a_port_in_use_is_an_error_that_says_what_to_do(explorer_url):
    from satclip.errors import InputError
    from satclip.explore import bind

    with pytest.raises(InputError, match="choose another --port"):
        bind("127.0.0.1", urlsplit(explorer_url).port)


def test_tiles(explorer_url):
    first = get(explorer_url, "/tiles/pca/0/1/2/1.png?")
    assert first.headers["x-satclip-cache"] == "miss" and image(first).shape == (256, 256, 3)
    again = get(explorer_url, "/tiles/pca/0/1/2/1.png")
    assert again.headers["x-satclip-cache"] == "hit" and again.content == first.content
    base = image(get(explorer_url, "/tiles/base/3/5/2.png"))
    assert base.shape == (256, 256, 3) and base.std() > 5
    sim = get(explorer_url, "/tiles/sim/1/2/4/1.png?lon=2.35&lat=48.85&vmin=-0.5&month=7")
    assert image(sim).shape == (256, 256, 3)


@pytest.mark.parametrize(
    "path, words",
    [
        ("/tiles/pca/0/a/0/0.png", "zoom must be an integer"),
        ("/tiles/pca/0/15/0/0.png", "zoom must be in 0-14"),
        ("/tiles/pca/0/1/4/0.png", "x must be in 0-3"),
        ("/tiles/pca/0/1/0/-1.png", "y must be in 0-1"),
        ("/tiles/pca/0/1/0/1e3.png", "y must be an integer"),
        ("/tiles/pca/2/1/0/0.png", "m must be in 0-1"),
        ("/tiles/pca/0/1/0/0.png?month=7", "static model"),
        ("/tiles/pca/1/1/0/0.png?month=13", "month must be in 1-12"),
        ("/tiles/sim/0/1/0/0.png?lon=2&lat=48", "vmin must be a number"),
        ("/tiles/sim/0/1/0/0.png?lon=nan&lat=48&vmin=0", "lon must be in"),
        ("/tiles/sim/0/1/0/0.png?lon=2&lat=91&vmin=0", "lat must be in"),
        ("/api/probe?m=0&lon=2&lat=48&ref_lon=2", "ref_lat must be a number"),
        (
            "/api/export?format=jpg&layer=pca&m=0&bbox=0,0,1,1&width=2&height=2",
            "format must be one of png, tif",
        ),
        ("/api/export?format=png&layer=pca&m=0&bbox=0,0,1&width=2&height=2", "bbox must be W,S,E,N"),
        ("/api/export?format=png&layer=pca&m=0&bbox=10,0,1,1&width=2&height=2", "bbox must satisfy"),
        (
            "/api/export?format=png&layer=pca&m=0&bbox=0,0,1,1&width=2000&height=2000",
            "at most 1048576 pixels",
        ),
        ("/api/export?format=png&layer=pca&m=0&bbox=0,0,1,1&width=5000&height=1", "width must be in 1-4096"),
    ],
)
def test_malformed_requests_are_400s_that_say_why(explorer_url, path, words):
    r = get(explorer_url, path, 400)
    assert words in r.json()["error"]


def test_click_and_probe(explorer_url):
    click = get(explorer_url, "/api/click?lon=2.35&lat=48.85").json()
    assert click["vmax"] == 1.0 and -1 <= click["vmin"] < 1
    probe = get(explorer_url, "/api/probe?m=0&lon=10&lat=50&ref_lon=2.35&ref_lat=48.85").json()
    enc = satclip.load(MODEL)
    want = cosine(enc.embed([10.0], [50.0]), enc.embed([2.35], [48.85])[0])[0]
    assert probe["similarity"] == pytest.approx(want, abs=1e-6)
    assert probe["on_water"] is False and probe["ood_km"] >= 0
    alone = get(explorer_url, "/api/probe?m=1&lon=-30&lat=0&month=1").json()
    assert alone["similarity"] is None and alone["on_water"] is True


def test_exports(explorer_url):
    import rasterio

    query = "m=0&bbox=-10,35,30,60&width=80&height=50"
    png = image(get(explorer_url, f"/api/export?format=png&layer=pca&{query}"))
    assert png.shape == (50, 80, 3)
    r = get(explorer_url, f"/api/export?format=tif&layer=sim&lon=2.35&lat=48.85&vmin=0&{query}")
    assert r.headers["content-disposition"] == 'attachment; filename="satclip-sim.tif"'
    with rasterio.MemoryFile(r.content) as mem, mem.open() as src:
        assert src.crs.to_epsg() == 4326 and tuple(src.bounds) == (-10, 35, 30, 60)
        assert src.descriptions == ("cosine_similarity",) and src.tags()["satclip_model"] == MODEL
        sim = src.read(1)
    enc = satclip.load(MODEL)
    lons, lats = pixel_centres((-10, 35, 30, 60), 80, 50)
    want = cosine(enc.embed_grid(lons, lats), enc.embed([2.35], [48.85])[0])
    assert np.abs(sim - want).max() < 1e-5
    r = get(explorer_url, f"/api/export?format=tif&layer=pca&{query}")
    with rasterio.MemoryFile(r.content) as mem, mem.open() as src:
        assert src.count == 3 and "pca_components" in json.loads(src.tags()["pca"])
    base = image(get(explorer_url, f"/api/export?format=png&layer=base&{query}"))
    assert base.shape == (50, 80, 3)


def test_concurrent_tiles_equal_serial_ones(explorer_url):
    paths = [f"/tiles/pca/0/2/{x}/{y}.png" for x in range(3) for y in range(2)]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda p: get(explorer_url, p).content, paths))
    for path, data in zip(paths, together, strict=True):
        assert get(explorer_url, path).content == data


@pytest.fixture(scope="module")
def points_file(california, tmp_path_factory):
    """Real points: every 70th California block group, its log house value and a category."""
    rows = california.iloc[::70].copy()
    rows["half"] = np.where(rows["lat"] > 36, "north", "south")
    path = tmp_path_factory.mktemp("points") / "houses.csv"
    rows.to_csv(path, index=False)
    return path, rows


def test_points(serve, points_file):
    path, rows = points_file
    url = serve(create_app(MODEL, points=load_points(path)))
    info = get(url, "/api/info").json()
    assert info["points"] == {"n": len(rows), "columns": ["value", "half"]}
    points = get(url, "/api/points").json()
    np.testing.assert_allclose(points["lon"], rows["lon"], atol=1e-6)
    assert points["columns"]["half"]["kind"] == "category"
    assert points["columns"]["value"]["values"][:3] == pytest.approx(rows["value"][:3].tolist())


def test_no_points_is_a_404_that_says_how(explorer_url):
    assert "--points" in get(explorer_url, "/api/points", 404).json()["error"]


def test_load_points_thins_large_files_with_a_warning(points_file, monkeypatch):
    from satclip.explore import points as points_module

    monkeypatch.setattr(points_module, "MAX_POINTS", 100)
    path, rows = points_file
    with pytest.warns(UserWarning, match="one in 3 is drawn"):
        points = load_points(path)
    assert len(points["lon"]) == len(rows[::3]) <= 100


def test_command_line_binds_here_opens_the_browser_and_warns_when_exposed(cache, tmp_path):
    """`satclip explore` prints its address and opens it in the browser ($BROWSER here);
    another --host is said to expose it."""
    import os

    opened = tmp_path / "opened.txt"
    env = os.environ | {"BROWSER": f"sh -c 'echo %s > {opened}'"}
    cmd = [sys.executable, "-m", "satclip.cli", "explore", "--model", MODEL, "--port", "0"]
    for host, extra, warned in (("127.0.0.1", [], False), ("0.0.0.0", ["--no-browser"], True)):
        proc = subprocess.Popen(
            [*cmd, "--host", host, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            line = proc.stdout.readline()
            assert line.startswith(f"satclip explore: http://{host}:"), line
            url = line.split()[2]
            local = url.replace("0.0.0.0", "127.0.0.1")
            assert get(local, "/api/info").json()["models"][0]["label"] == MODEL
            if not extra:
                for _ in range(100):
                    if opened.exists() and opened.read_text().strip():
                        break
                    time.sleep(0.1)
                assert opened.read_text().strip() == url
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert ("anyone who can reach this machine" in err) == warned, err
    assert opened.read_text().strip().startswith("http://127.0.0.1:")  # --no-browser opened nothing
