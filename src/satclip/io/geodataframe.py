"""``embed_geodataframe``: a GeoDataFrame in, the same frame with its embeddings out."""

from __future__ import annotations

from typing import Any

import numpy as np

from satclip._compat import warn_renamed
from satclip.embedder import Embedder
from satclip.errors import InputError, InputTypeError
from satclip.io.points import representative_lonlat
from satclip.io.writers import LAYOUTS
from satclip.pretrained import ModelSpec, resolve


def embed_geodataframe(
    model: Embedder | ModelSpec,
    gdf: Any,
    column: str = "embedding",
    layout: str = "list",
    batch_size: int | None = None,
) -> Any:
    """A copy of ``gdf`` with the embedding of each row's geometry.

    Points are embedded where they are; polygons and lines at their centroid computed in an
    equal-area frame (:mod:`satclip.io.points`), from any CRS. ``model`` is a loaded model or
    what :func:`satclip.load` takes. ``layout="list"`` adds one ``column`` of 1-D arrays;
    ``"columns"`` adds ``emb_0..emb_{dim-1}``. ``batch_size`` defaults to the model's.
    (Before 0.2 the frame came first; that order still works, with a ``FutureWarning``.)
    """
    if _is_frame(model) and not _is_frame(gdf):
        warn_renamed("embed_geodataframe()", "(gdf, model)", "(model, gdf)")
        model, gdf = gdf, model
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not hasattr(gdf, "geometry"):
        raise InputTypeError(f"expected a geopandas GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise InputError(
            "the GeoDataFrame has no CRS; set it first, e.g. gdf.set_crs('EPSG:4326') for lon/lat degrees"
        )
    model = resolve(model)
    lonlat = representative_lonlat(np.asarray(gdf.geometry.values, dtype=object), gdf.crs)
    emb = model.embed_array(lonlat, batch_size=batch_size)
    out = gdf.copy()
    names = [column] if layout == "list" else [f"emb_{j}" for j in range(emb.shape[1])]
    clash = [n for n in names if n in out.columns]
    if clash:
        raise InputError(f"the frame already has column(s) {clash[:3]}; pass another column= or drop them")
    if layout == "list":
        out[column] = list(emb)
    else:
        import pandas as pd

        out = pd.concat([out, pd.DataFrame(emb, columns=names, index=out.index)], axis=1)
    return out


def _is_frame(obj: Any) -> bool:
    """A (Geo)DataFrame or GeoSeries, as opposed to a model or a spec."""
    return hasattr(obj, "geometry") or hasattr(obj, "columns")
