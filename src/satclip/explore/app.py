"""The explorer's web application (Starlette): the page, its static files, map tiles rendered on
demand from the models, the hover and click answers, the user's points, and exports.

No endpoint takes a path from the request: static files come from a fixed table, tiles and
exports from numbers that are checked (a malformed one is a 400 naming it), and each request's
work is bounded (one 256 x 256 tile, an export of at most ``MAX_EXPORT_PIXELS``).
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np

from satclip.embedder import Embedder
from satclip.errors import InputError
from satclip.explore.layers import (
    MAX_ZOOM,
    TILE,
    BaseImagery,
    Bbox,
    ModelLayers,
    colour,
    colour_lut,
    cosine,
    first_use,
    pixel_centres,
    tile_bbox,
)
from satclip.pretrained import ModelSpec, resolve

MAX_EXPORT_PIXELS = 1 << 20  # one export: at most 1024 x 1024 pixels of embeddings
MAX_EXPORT_SIDE = 4096
CACHE_BYTES = 256 << 20  # rendered tiles kept in memory
# The page's files, by the only names a request may ask for.
STATIC = {
    "leaflet.js": "text/javascript",
    "leaflet.css": "text/css",
    "explore.js": "text/javascript",
    "explore.css": "text/css",
}


class TileCache:
    """Rendered PNGs by request, least recently used first out, within ``budget`` bytes."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget, self.size = budget, 0
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], render: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The PNG for ``key`` and whether it was cached; ``render`` makes it when not."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], True
        data = render()
        with self._lock:
            if key not in self._items:
                self._items[key] = data
                self.size += len(data)
            while self.size > self.budget and self._items:
                self.size -= len(self._items.popitem(last=False)[1])
        return data, False


def png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 → PNG bytes (fast compression: tiles are made on demand)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def geotiff(bands: np.ndarray, bbox: Bbox, tags: dict[str, str], names: Sequence[str]) -> bytes:
    """(H, W, B) values → a deflate-compressed GeoTIFF of ``bbox`` in EPSG:4326, in memory."""
    from satclip._optional import require

    require("rasterio", "raster")
    from rasterio.io import MemoryFile
    from rasterio.transform import from_bounds

    h, w, b = bands.shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": b,
        "dtype": bands.dtype.name,
        "crs": "EPSG:4326",
        "transform": from_bounds(*bbox, w, h),
        "compress": "deflate",
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(np.moveaxis(bands, -1, 0))
            dst.update_tags(**tags)
            for i, name in enumerate(names, 1):
                dst.set_band_description(i, name)
        return bytes(mem.read())


class Params:
    """A request's query values, checked: every failure is an :class:`InputError` naming the
    parameter and what it takes (the app answers 400 with it)."""

    def __init__(self, query: Any) -> None:
        self.query = query

    def has(self, name: str) -> bool:
        return self.query.get(name) not in (None, "")

    def integer(self, name: str, lo: int, hi: int, text: str | None = None) -> int:
        raw = self.query.get(name) if text is None else text
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be an integer in {lo}-{hi}, got {raw!r}") from None
        if not lo <= value <= hi:
            raise InputError(f"{name} must be in {lo}-{hi}, got {value}")
        return value

    def number(self, name: str, lo: float, hi: float) -> float:
        raw = self.query.get(name)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number in [{lo}, {hi}], got {raw!r}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise InputError(f"{name} must be in [{lo}, {hi}], got {raw!r}")
        return value

    def month(self) -> int | None:
        return self.integer("month", 1, 12) if self.has("month") else None

    def place(self, lon: str = "lon", lat: str = "lat") -> tuple[float, float]:
        return self.number(lon, -180.0, 180.0), self.number(lat, -90.0, 90.0)

    def choice(self, name: str, options: Sequence[str]) -> str:
        value = self.query.get(name)
        if value not in options:
            raise InputError(f"{name} must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    def bbox(self) -> Bbox:
        raw = str(self.query.get("bbox", ""))
        try:
            w, s, e, n = (float(v) for v in raw.split(","))
        except ValueError:
            raise InputError(f"bbox must be W,S,E,N degrees, got {raw!r}") from None
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise InputError(f"bbox must satisfy -180 <= W < E <= 180 and -90 <= S < N <= 90, got {raw!r}")
        return w, s, e, n


class Explorer:
    """The models, base imagery and points behind one explorer, and what its endpoints compute."""

    def __init__(
        self,
        models: Sequence[tuple[str, Embedder]],
        points: dict[str, Any] | None = None,
        base: BaseImagery | None = None,
    ) -> None:
        self.layers = [ModelLayers(m, label) for label, m in models]
        self.points = points
        self._base = base
        self.lut = colour_lut()
        self.cache = TileCache()

    @property
    def base(self) -> BaseImagery:
        if self._base is None:  # checked again under the lock: the image is read once
            with first_use:
                if self._base is None:
                    self._base = BaseImagery()
        return self._base

    def warm(self) -> None:
        """Fetch and fit now what the first requests would wait for."""
        self.base  # noqa: B018
        for layer in self.layers:
            layer.colours  # noqa: B018
            layer.ood(0.0, 0.0)

    def model(self, params: Params, text: str | None = None) -> ModelLayers:
        return self.layers[params.integer("m", 0, len(self.layers) - 1, text)]

    def tile(self, kind: str, path: dict[str, str], params: Params) -> tuple[bytes, bool]:
        z = params.integer("zoom", 0, MAX_ZOOM, path["z"])
        x = params.integer("x", 0, 2 ** (z + 1) - 1, path["x"])
        y = params.integer("y", 0, 2**z - 1, path["y"])
        bbox = tile_bbox(z, x, y)
        if kind == "base":
            return self.cache.get(("base", z, x, y), lambda: png(self.base.render(bbox, TILE, TILE)))
        layer = self.model(params, path["m"])
        month = params.month()
        layer.check_month(month)
        if kind == "pca":
            key: tuple[Any, ...] = ("pca", id(layer), z, x, y, month)
            return self.cache.get(key, lambda: png(self.pca_rgb(layer, bbox, TILE, TILE, month)))
        ref, vmin = params.place(), params.number("vmin", -1.0, 0.999)
        key = ("sim", id(layer), z, x, y, month, ref, vmin)
        return self.cache.get(key, lambda: png(self.sim_rgb(layer, bbox, TILE, TILE, ref, vmin, month)))

    @staticmethod
    def pca_rgb(layer: ModelLayers, bbox: Bbox, width: int, height: int, month: int | None) -> np.ndarray:
        rgb = layer.pca(*pixel_centres(bbox, width, height), month)
        return (rgb * 255).round().astype(np.uint8)

    def sim_rgb(
        self,
        layer: ModelLayers,
        bbox: Bbox,
        width: int,
        height: int,
        ref: tuple[float, float],
        vmin: float,
        month: int | None,
    ) -> np.ndarray:
        return colour(layer.similarity(*pixel_centres(bbox, width, height), ref, month), vmin, 1.0, self.lut)

    def info(self) -> dict[str, Any]:
        return {
            "models": [
                {"label": layer.label, "seasonal": layer.seasonal, "dim": layer.model.dim}
                for layer in self.layers
            ],
            "points": None
            if self.points is None
            else {"n": len(self.points["lon"]), "columns": list(self.points["columns"])},
            "colormap": [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in self.lut[::17].tolist()],
            "max_zoom": MAX_ZOOM,
            "tile": TILE,
        }

    def click(self, params: Params) -> dict[str, Any]:
        """One colour scale for every model: from the lowest model's 1st percentile to 1."""
        ref = params.place()
        month = params.month()
        lows = [layer.similarity_low(ref, month if layer.seasonal else None) for layer in self.layers]
        return {"lon": ref[0], "lat": ref[1], "vmin": round(min(lows), 4), "vmax": 1.0}

    def probe(self, params: Params) -> dict[str, Any]:
        layer = self.model(params)
        lon, lat = params.place()
        month = params.month()
        layer.check_month(month)
        out: dict[str, Any] = {"lon": lon, "lat": lat, "similarity": None}
        if params.has("ref_lon") or params.has("ref_lat"):
            ref = params.place("ref_lon", "ref_lat")
            out["similarity"] = float(cosine(layer.vector(lon, lat, month), layer.vector(*ref, month)))
        return out | layer.ood(lon, lat)

    def export(self, params: Params) -> tuple[bytes, str, str]:
        """(bytes, media type, file name) of the view ``bbox`` at ``width`` x ``height``."""
        fmt = params.choice("format", ("png", "tif"))
        kind = params.choice("layer", ("pca", "sim", "base"))
        bbox = params.bbox()
        width = params.integer("width", 1, MAX_EXPORT_SIDE)
        height = params.integer("height", 1, MAX_EXPORT_SIDE)
        if width * height > MAX_EXPORT_PIXELS:
            raise InputError(
                f"an export is at most {MAX_EXPORT_PIXELS} pixels, got {width} x {height}; zoom in or "
                "use satclip raster for larger areas"
            )
        name = f"satclip-{kind}.{fmt}"
        if kind == "base":
            rgb = self.base.render(bbox, width, height)
            data = (
                png(rgb) if fmt == "png" else geotiff(rgb, bbox, {"layer": "base"}, ("red", "green", "blue"))
            )
            return data, _media(fmt), name
        layer, month = self.model(params), params.month()
        layer.check_month(month)
        tags = {"satclip_model": layer.label, "layer": kind, "month": str(month or "annual")}
        if kind == "pca":
            if fmt == "png":
                return png(self.pca_rgb(layer, bbox, width, height, month)), _media(fmt), name
            scores = layer.pca_scores(*pixel_centres(bbox, width, height), month).astype(np.float32)
            tags["pca"] = json.dumps(layer.colours.pca.attrs())
            return geotiff(scores, bbox, tags, ("pc1", "pc2", "pc3")), _media(fmt), name
        ref, vmin = params.place(), params.number("vmin", -1.0, 0.999)
        if fmt == "png":
            return png(self.sim_rgb(layer, bbox, width, height, ref, vmin, month)), _media(fmt), name
        sim = layer.similarity(*pixel_centres(bbox, width, height), ref, month).astype(np.float32)
        tags["reference_lon_lat"] = f"{ref[0]},{ref[1]}"
        return geotiff(sim[..., None], bbox, tags, ("cosine_similarity",)), _media(fmt), name


def _media(fmt: str) -> str:
    return "image/png" if fmt == "png" else "image/tiff"


def _static(name: str) -> bytes:
    return (resources.files("satclip.explore") / "static" / name).read_bytes()


def create_app(
    model: Embedder | ModelSpec,
    compare: Embedder | ModelSpec | None = None,
    points: dict[str, Any] | None = None,
    labels: Sequence[str] | None = None,
) -> Any:
    """The explorer as a Starlette (ASGI) application: ``model`` and the optional ``compare``
    are loaded models or what :func:`satclip.load` takes; ``points`` what
    :func:`satclip.explore.points.load_points` returns. Serve it with :func:`satclip.explore.serve`
    or any ASGI server."""
    from satclip._optional import require

    require("starlette", "explore")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    specs = [model] if compare is None else [model, compare]
    names = (
        list(labels)
        if labels
        else [s if isinstance(s, str) else f"model {i + 1}" for i, s in enumerate(specs)]
    )
    explorer = Explorer([(label, resolve(s)) for label, s in zip(names, specs, strict=True)], points)
    no_store = {"Cache-Control": "no-cache"}

    def page(request: Request) -> Response:
        return Response(_static("index.html"), media_type="text/html", headers=no_store)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse({"error": f"no file {name!r}"}, status_code=404)
        return Response(_static(name), media_type=STATIC[name], headers=no_store)

    def tiles(kind: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            data, cached = explorer.tile(kind, request.path_params, Params(request.query_params))
            return Response(
                data, media_type="image/png", headers={"X-Satclip-Cache": "hit" if cached else "miss"}
            )

        return endpoint

    def info(request: Request) -> Response:
        return JSONResponse(explorer.info())

    def click(request: Request) -> Response:
        return JSONResponse(explorer.click(Params(request.query_params)))

    def probe(request: Request) -> Response:
        return JSONResponse(explorer.probe(Params(request.query_params)))

    def points_json(request: Request) -> Response:
        if explorer.points is None:
            return JSONResponse({"error": "no points: start satclip explore with --points FILE"}, 404)
        return JSONResponse(explorer.points)

    def export(request: Request) -> Response:
        data, media, name = explorer.export(Params(request.query_params))
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    def bad_request(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/favicon.ico", no_icon),
            Route("/static/{name}", static),
            Route("/tiles/base/{z}/{x}/{y}.png", tiles("base")),
            Route("/tiles/pca/{m}/{z}/{x}/{y}.png", tiles("pca")),
            Route("/tiles/sim/{m}/{z}/{x}/{y}.png", tiles("sim")),
            Route("/api/info", info),
            Route("/api/click", click),
            Route("/api/probe", probe),
            Route("/api/points", points_json),
            Route("/api/export", export),
        ],
        exception_handlers={InputError: bad_request},
    )
    app.state.explorer = explorer
    return app
