"""`satclip explore` tile latency (issue 33): what the browser waits for, over real HTTP.

    .venv/bin/python bench/bench_explore.py [--model NAME] [--tiles 16]

Starts the explorer's real server (uvicorn on a free 127.0.0.1 port), lets it fit its colours
(what it does in the background at start), then asks for ``--tiles`` distinct 256 x 256 tiles of
zoom 3 one after another, each for the first time, then the same tiles again (served from the
cache): principal components (the default layer), similarity to Paris, and the Blue Marble
base layer. Times are wall clock per request as the client sees it (median and worst), with the
same tiles rendered in process beside them (the model's share: the folded grid path for the
components, the full embedding for similarity).
"""

from __future__ import annotations

import argparse
import statistics
import time

import requests

from satclip.explore import Server, bind, create_app
from satclip.explore.layers import pixel_centres, tile_bbox
from satclip.pretrained import RECOMMENDED


def timed(session: requests.Session, url: str) -> float:
    t = time.perf_counter()
    r = session.get(url, timeout=60)
    r.raise_for_status()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=RECOMMENDED)
    p.add_argument("--tiles", type=int, default=16)
    args = p.parse_args()

    app = create_app(args.model)
    explorer = app.state.explorer
    t = time.perf_counter()
    explorer.warm()
    print(
        f"model {args.model}; start-up fits (colours, land mask, training index, imagery): {time.perf_counter() - t:.2f} s"
    )
    server = Server(app, bind("127.0.0.1", 0)).start()
    tiles = [(3, x, y) for y in range(8) for x in range(16)][:: max(1, 128 // args.tiles)][: args.tiles]
    layers = {
        "principal components": "/tiles/pca/0/{z}/{x}/{y}.png",
        "similarity to Paris": "/tiles/sim/0/{z}/{x}/{y}.png?lon=2.35&lat=48.85&vmin=-0.5",
        "Blue Marble base": "/tiles/base/{z}/{x}/{y}.png",
    }
    layer = explorer.layers[0]
    print(f"{len(tiles)} tiles of 256 x 256 at zoom 3, one request at a time; ms per tile")
    print(
        f"{'layer':24s} {'first: median':>14s} {'worst':>7s} {'cached: median':>15s} {'worst':>7s} {'in process':>11s}"
    )
    with requests.Session() as session:
        for name, template in layers.items():
            urls = [server.url + template.format(z=z, x=x, y=y).lstrip("/") for z, x, y in tiles]
            first = [timed(session, u) for u in urls]
            cached = [timed(session, u) for u in urls]
            inproc = []
            for z, x, y in tiles:
                grid = pixel_centres(tile_bbox(z, x, y), 256, 256)
                t = time.perf_counter()
                if name.startswith("principal"):
                    layer.pca(*grid, None)
                elif name.startswith("similarity"):
                    layer.similarity(*grid, (2.35, 48.85), None)
                else:
                    explorer.base.render(tile_bbox(z, x, y), 256, 256)
                inproc.append(time.perf_counter() - t)
            ms = [1000 * statistics.median(first), 1000 * max(first), 1000 * statistics.median(cached)]
            print(
                f"{name:24s} {ms[0]:14.0f} {ms[1]:7.0f} {ms[2]:15.1f} {1000 * max(cached):7.1f} "
                f"{1000 * statistics.median(inproc):11.0f}"
            )
    server.stop()


if __name__ == "__main__":
    main()
