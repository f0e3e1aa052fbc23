"""The explorer in a real browser (headless Chromium): the page loads from the local server only,
its tiles land where the Python API puts the same places, click, hover, the second model, the
month slider, the user's points and the exports."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import satclip
from satclip.explore import create_app, load_points
from satclip.explore.layers import colour, cosine, pixel_centres
from tests.explore.conftest import MODEL, SEASONAL

pytestmark = pytest.mark.slow
VIEW = "?zoom=2&lat=20&lon=10"
# Rows of a map's screenshot that no control covers (title and zoom buttons above, export
# links and attribution below).
TOP, BOTTOM = 80, 35


def open_page(browser, url, query=VIEW):
    page = browser.new_page(viewport={"width": 1202, "height": 720})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + query)
    wait_idle(page)
    return page, requests


def wait_idle(page):
    page.wait_for_function("window.satclipExplore && window.satclipExplore.idle()", timeout=120_000)
    page.wait_for_timeout(500)  # Leaflet fades tiles in over 200 ms
    page.wait_for_function("window.satclipExplore.idle()", timeout=120_000)


def view(page, i):
    """(bbox, width, height) of map i, from Leaflet's own pixel-to-place transform."""
    w, n, e, s, width, height = page.evaluate(
        """i => { const m = satclipExplore.maps[i].map, z = m.getSize();
        const a = m.containerPointToLatLng([0, 0]), b = m.containerPointToLatLng([z.x, z.y]);
        return [a.lng, a.lat, b.lng, b.lat, z.x, z.y]; }""",
        i,
    )
    return (w, s, e, n), width, height


def shot(page, i):
    png = page.locator(f"#map{i}").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def mismatch(got, want, mask=None):
    """(median channel difference, share of pixels off by more than 16), over the rows no
    control covers and outside ``mask``."""
    diff = np.abs(got - want).max(axis=-1)[TOP:-BOTTOM]
    keep = np.ones_like(diff, bool) if mask is None else ~mask[TOP:-BOTTOM]
    return float(np.median(diff[keep])), float((diff[keep] > 16).mean())


def pca_expected(app, i, model, bbox, width, height, month=None):
    """What satclip.load(model).embed_grid gives on the view's pixel centres, coloured by the
    explorer's principal components (fitted on the annual world grid)."""
    lons, lats = pixel_centres(bbox, width, height)
    emb = satclip.load(model).embed_grid(lons, lats, **({"month": month} if month else {}))
    rgb = app.state.explorer.layers[i].colours(emb.reshape(-1, emb.shape[-1]))
    return (rgb.reshape(height, width, 3) * 255).round().astype(int)


def sim_expected(app, model, bbox, width, height, ref, vmin, month=None):
    lons, lats = pixel_centres(bbox, width, height)
    kw = {"month": month} if month else {}
    enc = satclip.load(model)
    sim = cosine(enc.embed_grid(lons, lats, **kw), enc.embed([ref[0]], [ref[1]], **kw)[0])
    return colour(sim, vmin, 1.0, app.state.explorer.lut).astype(int)


def test_page_tiles_click_hover_compare_month_and_export(browser, explorer_url, explorer_app, tmp_path):
    page, requests = open_page(browser, explorer_url)
    assert page.locator(".map-title").all_inner_texts() == [MODEL, f"{SEASONAL} (seasonal)"]

    # The principal-component layer is the Python API's, pixel for pixel, on both maps.
    for i, model in enumerate([MODEL, SEASONAL]):
        bbox, width, height = view(page, i)
        got, want = shot(page, i), pca_expected(explorer_app, i, model, bbox, width, height)
        median, off = mismatch(got, want)
        assert median <= 2 and off < 0.02, (model, median, off)
        # The comparison can fail: the same image 40 pixels west does not pass.
        assert mismatch(got, np.roll(want, 40, axis=1))[1] > 0.05

    # Click a place: the similarity layer appears on both maps, on one colour scale.
    bbox, width, height = view(page, 0)
    cx, cy = width // 3, height // 2
    box = page.locator("#map0").bounding_box()
    page.mouse.click(box["x"] + cx, box["y"] + cy)
    page.wait_for_function("satclipExplore.state.layer === 'sim'")
    wait_idle(page)
    state = page.evaluate("satclipExplore.state")
    ref, vmin = (state["ref"]["lon"], state["ref"]["lat"]), state["vmin"]
    lons, lats = pixel_centres(bbox, width, height)
    assert abs(ref[0] - lons[cx]) < 0.5 and abs(ref[1] - lats[cy]) < 0.5
    assert page.locator("#colorbar").is_visible() and page.inner_text("#vmin") == f"{vmin:.2f}"
    yy, xx = np.mgrid[:height, :width]
    marker = (np.abs(xx - cx) < 12) & (np.abs(yy - cy) < 12)
    for i, model in enumerate([MODEL, SEASONAL]):
        bbox_i, w_i, h_i = view(page, i)
        want = sim_expected(explorer_app, model, bbox_i, w_i, h_i, ref, vmin)
        median, off = mismatch(shot(page, i), want, marker)
        assert median <= 2 and off < 0.02, (model, median, off)

    # Hover: longitude, latitude, similarity and the distance to the training data.
    hx, hy = 2 * width // 3, height // 3
    page.mouse.move(box["x"] + hx, box["y"] + hy)
    page.wait_for_function(
        f"document.getElementById('hover').dataset.similarity && "
        f"Math.abs(document.getElementById('hover').dataset.lon - {lons[hx]}) < 0.5"
    )
    data = page.locator("#hover").evaluate("el => ({...el.dataset})")
    lon, lat = float(data["lon"]), float(data["lat"])
    assert abs(lon - lons[hx]) < 0.5 and abs(lat - lats[hy]) < 0.5
    enc = satclip.load(MODEL)
    want_sim = cosine(enc.embed([lon], [lat]), enc.embed([ref[0]], [ref[1]])[0])[0]
    assert float(data["similarity"]) == pytest.approx(want_sim, abs=1e-5)
    assert float(data["oodKm"]) >= 0
    assert "similarity" in page.inner_text("#hover") and "km" in page.inner_text("#hover")

    # The month slider: the seasonal map shows July, the static one is unchanged.
    july = page.locator("#month")
    july.evaluate(
        "el => { el.value = 7; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }"
    )
    page.wait_for_function("satclipExplore.maps[1].overlay._url.includes('month=7')")
    wait_idle(page)
    assert "month" not in page.evaluate("satclipExplore.maps[0].overlay._url")
    assert page.inner_text("#month-label") == "Jul"
    state = page.evaluate("satclipExplore.state")
    bbox1, w1, h1 = view(page, 1)
    got = shot(page, 1)
    want_july = sim_expected(explorer_app, SEASONAL, bbox1, w1, h1, ref, state["vmin"], month=7)
    median, off = mismatch(got, want_july, marker)
    assert median <= 2 and off < 0.02, (median, off)
    want_annual = sim_expected(explorer_app, SEASONAL, bbox1, w1, h1, ref, state["vmin"])
    assert np.abs(want_july - want_annual).max() > 16, "July must differ from the annual embedding"

    # Export the view: PNG as on screen, GeoTIFF with the cosine values and the view's bounds.
    with page.expect_download() as png_download:
        page.locator("#map0 ~ .map-export a[data-format=png]").click()
    exported = np.asarray(Image.open(png_download.value.path()).convert("RGB")).astype(int)
    assert exported.shape == (height, width, 3)
    median, off = mismatch(
        exported, sim_expected(explorer_app, MODEL, bbox, width, height, ref, state["vmin"])
    )
    assert median <= 2 and off < 0.02
    with page.expect_download() as tif_download:
        page.locator("#map0 ~ .map-export a[data-format=tif]").click()
    import rasterio

    with rasterio.open(tif_download.value.path()) as src:
        assert src.crs.to_epsg() == 4326 and (src.width, src.height) == (width, height)
        assert np.allclose(tuple(src.bounds), bbox, atol=1e-3)
        sim = src.read(1)
    lons, lats = pixel_centres(tuple(src.bounds), width, height)
    want = cosine(enc.embed_grid(lons, lats), enc.embed([ref[0]], [ref[1]])[0])
    assert np.abs(sim - want).max() < 1e-4

    # The README's screenshot: the imagery shows through the similarity layer.
    page.locator("#opacity").evaluate("el => { el.value = 70; el.dispatchEvent(new Event('input')); }")
    assert page.evaluate("satclipExplore.maps[0].overlay.options.opacity") == 0.7
    shot_path = Path(os.environ.get("SATCLIP_EXPLORE_SCREENSHOT", tmp_path / "explore.png"))
    page.screenshot(path=str(shot_path), **({"quality": 85} if shot_path.suffix == ".jpg" else {}))
    page.close()

    # Nothing but the local server was asked for anything.
    assert requests and all(u.startswith(explorer_url) or u.startswith("data:") for u in requests), {
        u for u in requests if not u.startswith(explorer_url)
    }


def test_points_coloured_by_a_column(browser, serve, california, tmp_path):
    rows = california.iloc[::70].copy()
    rows["half"] = np.where(rows["lat"] > 36, "north", "south")
    path = tmp_path / "houses.csv"
    rows.to_csv(path, index=False)
    url = serve(create_app(MODEL, points=load_points(path)))
    page, requests = open_page(browser, url, "?zoom=5&lat=37&lon=-120")
    assert page.locator("#points-box").is_visible()
    options = page.locator("#points-col option").all_inner_texts()
    assert options == ["(one colour)", "value", "half"]
    count = "satclipExplore.maps[0].map.hasLayer(satclipExplore.maps[0].points) && satclipExplore.maps[0].points.getLayers().length"
    assert page.evaluate(count) == len(rows)

    def colours():
        return page.evaluate("satclipExplore.maps[0].points.getLayers().map(l => l.options.fillColor)")

    by_value = colours()
    stops = page.evaluate("satclipExplore.info.colormap")
    lo, hi = rows["value"].min(), rows["value"].max()
    want = [stops[round((v - lo) / (hi - lo) * (len(stops) - 1))] for v in rows["value"]]
    assert by_value == want
    page.select_option("#points-col", "half")
    by_half = colours()
    assert set(by_half) == {"#1f77b4", "#ff7f0e"}
    north = rows["lat"].to_numpy() > 36
    assert {c for c, n in zip(by_half, north, strict=True) if n} == {by_half[int(np.argmax(north))]}
    assert "half" in page.inner_text(".legend") and "north" in page.inner_text(".legend")
    # Drawn where they are: the canvas has the points' colours at their pixels.
    wait_idle(page)
    got = shot(page, 0)
    at = page.evaluate(
        "satclipExplore.maps[0].points.getLayers().map(l => { const p = satclipExplore.maps[0].map.latLngToContainerPoint(l.getLatLng()); return [p.x, p.y]; })"
    )
    xy = np.array(at)
    gap = np.sort(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)), axis=1)[:, 1]
    inside = [  # points no other point overlaps
        (round(x), round(y), c)
        for (x, y), c, g in zip(at, by_half, gap, strict=True)
        if TOP < y < got.shape[0] - BOTTOM and 0 < x < got.shape[1] and g > 8
    ]
    hits = sum(
        np.abs(got[y, x] - [int(c[i : i + 2], 16) for i in (1, 3, 5)]).max() < 40 for x, y, c in inside
    )
    assert inside and hits >= 0.8 * len(inside)
    page.close()
    assert all(u.startswith(url) or u.startswith("data:") for u in requests)
