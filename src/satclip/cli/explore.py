"""``satclip explore``: the interactive map of an embedding, served on this machine."""

from __future__ import annotations

import argparse

from satclip.cli._args import add_model, add_reader_options, reader_options
from satclip.pretrained import RECOMMENDED


def _cmd_explore(args: argparse.Namespace) -> int:
    from satclip.explore import create_app, load_points, serve
    from satclip.io.readers import ReadOptions
    from satclip.pretrained import load

    points = load_points(args.points, ReadOptions(**reader_options(args))) if args.points else None
    compare = load(args.compare) if args.compare else None
    labels = [args.model] + ([args.compare] if args.compare else [])
    app = create_app(load(args.model), compare, points=points, labels=labels)
    serve(app, host=args.host, port=args.port, open_browser=not args.no_browser)
    return 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; give 0-65535 (0: any free port)")
    return value


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "explore",
        help="an interactive map of a model in the browser: principal components, similarity to a "
        "clicked place, a second model beside it, your points",
    )
    add_model(s, f"model name or file (default {RECOMMENDED})", default=RECOMMENDED)
    s.add_argument("--compare", metavar="MODEL", help="a second model, side by side with the first")
    s.add_argument(
        "--points",
        metavar="FILE",
        help="points to draw, coloured by a column: any file satclip embed reads (CSV, Parquet, "
        "GeoJSON, ...)",
    )
    add_reader_options(s)
    s.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000; 0: any free)")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; another exposes the "
        "explorer to the network, with a warning)",
    )
    s.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")
    s.set_defaults(func=_cmd_explore)
