"""Coastlines for maps: Natural Earth 1:110m land, from the ``land-110m`` registry source
(world-atlas TopoJSON on npm)."""

from __future__ import annotations

import functools
import json

import numpy as np

from satclip.sources import fetch


def decode_arcs(topology: dict) -> list[np.ndarray]:
    """The arcs of a quantised TopoJSON topology as (k, 2) lon/lat arrays.

    Quantised arcs store the first position and then deltas, in integer grid units that the
    topology's ``transform`` (scale, translate) maps back to coordinates.
    """
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        a = np.asarray(arc, dtype=np.float64)
        if transform:
            a = np.cumsum(a, axis=0) * transform["scale"] + transform["translate"]
        arcs.append(a)
    return arcs


def split_at_antimeridian(line: np.ndarray) -> list[np.ndarray]:
    """Break a lon/lat polyline where it jumps across ±180°, so it is not drawn across the map."""
    jumps = np.flatnonzero(np.abs(np.diff(line[:, 0])) > 180) + 1
    return [p for p in np.split(line, jumps) if len(p) > 1]


@functools.lru_cache(maxsize=1)
def coastlines() -> tuple[np.ndarray, ...]:
    """Every 1:110m land boundary as (k, 2) lon/lat polylines (fetched once, then cached)."""
    with open(fetch("land-110m")) as f:
        topology = json.load(f)
    return tuple(p for arc in decode_arcs(topology) for p in split_at_antimeridian(arc))
