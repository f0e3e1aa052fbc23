"""The ``satclip`` commands that use a trained model at scale: embed, raster, map, export-onnx."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from satclip._onnx_precision import ONNX_PRECISIONS
from satclip._precision import PRECISIONS
from satclip.cli._args import (
    add_model,
    add_out,
    add_reader_options,
    add_time_options,
    parse_bbox,
    reader_options,
)
from satclip.errors import InputError
from satclip.pretrained import RECOMMENDED

if TYPE_CHECKING:
    from satclip.embedder import Embedder


def _load_model(
    model: str, backend: str = "torch", device: str = "cpu", precision: str = "float32"
) -> Embedder:
    """A satclip model (name, .safetensors, published .ckpt) or, for the onnx backend, an .onnx
    file; a non-ONNX model with ``--backend onnx`` is exported to a temporary .onnx first."""
    from satclip.pretrained import load

    if backend == "torch":
        if model.lower().endswith(".onnx"):
            raise InputError(f"{model} is an ONNX file; pass --backend onnx to run it with onnxruntime")
        return load(model, device=device, precision=precision)
    if precision == "bf16":
        raise InputError(
            "--precision bf16 is the torch backend's; an ONNX file's precision is chosen when it "
            "is exported (satclip export-onnx --precision)"
        )
    from satclip.onnx_runtime import OnnxEncoder

    if model.lower().endswith(".onnx"):
        return OnnxEncoder(model)
    from satclip.onnx_export import export_onnx
    from satclip.pretrained import cache_dir

    enc = load(model)
    # Exported once per model content and reused: a resumed run then sees the same ONNX file.
    path = cache_dir() / f"onnx-{enc.fingerprint()[:32]}.onnx"
    if not path.exists():
        export_onnx(enc, path)
    return OnnxEncoder(path, training_index=enc.training_index)


def _cmd_embed(args: argparse.Namespace) -> int:
    from satclip.io import embed_file

    enc = _load_model(args.model, args.backend, args.device, args.precision)
    n = embed_file(
        enc,
        args.input,
        args.out,
        layout=args.layout,
        geoparquet=args.geoparquet,
        ood=args.ood,
        chunk_rows=args.chunk_rows,
        resume=args.resume,
        progress=not args.quiet,
        month_col=args.month_col,
        date_col=args.date_col,
        month=args.month,
        **reader_options(args),
    )
    print(f"wrote {n} embedding{'' if n == 1 else 's'} of dim {enc.dim} to {args.out}")
    return 0


def _cmd_raster(args: argparse.Namespace) -> int:
    from satclip.pretrained import load
    from satclip.raster import embedding_raster, grid_of

    if args.like is not None:
        if args.bbox is not None or args.resolution is not None:
            raise InputError(
                "--like takes the bbox and resolution from its raster: drop --bbox and --resolution"
            )
        bbox, resolution = grid_of(args.like)
    elif args.bbox is None or args.resolution is None:
        raise InputError("give --bbox and --resolution, or --like RASTER to copy an existing raster's grid")
    else:
        bbox, resolution = args.bbox, args.resolution
    enc = load(args.model, precision=args.precision)
    out = embedding_raster(
        enc,
        bbox,
        resolution,
        args.out,
        pca=args.pca,
        tile=args.tile,
        progress=not args.quiet,
        dtype=args.dtype,
        month=args.month,
    )
    print(f"wrote {out}")
    return 0


def _cmd_map(args: argparse.Namespace) -> int:
    from satclip.maps import WORLD, embedding_map
    from satclip.pretrained import load

    compare = load(args.compare, precision=args.precision) if args.compare else None
    out = embedding_map(
        load(args.model, precision=args.precision),
        out=args.out,
        resolution=args.resolution,
        title=args.model,
        land_only=not args.global_pca,
        coastlines=not args.no_coastlines,
        compare=compare,
        compare_title=args.compare,
        bbox=WORLD if args.bbox is None else args.bbox,
        month=args.month,
        compare_month=args.compare_month,
    )
    print(f"wrote {out}")
    return 0


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from satclip.onnx_export import export_onnx
    from satclip.pretrained import load

    out = export_onnx(load(args.model), args.out, input_dtype=args.dtype, precision=args.precision)
    print(f"wrote {out}" + _lowered_note(out))
    return 0


def _lowered_note(path: Path) -> str:
    """What a lower-precision export chose and measured, from the file's metadata ("" if none)."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    if "satclip_precision" not in props:
        return ""
    info = json.loads(props["satclip_precision"])
    return (
        f" ({info['precision']} in layers {', '.join(map(str, info['layers']))}; worst cosine to "
        f"float32 {info['worst_cosine']}, 10 km differences off by {info['local_error']:.1%})"
    )


def _add_precision(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="float32 (default, exact), bf16 (bfloat16 matrix products in the layers where "
        "they keep the embedding; refused where none does, as on every shipped model), auto "
        "(bf16 only on CPUs/GPUs with bf16 units and where it keeps the embedding)",
    )


def _month(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; give 1-12 (1 = January)")
    return value


def _add_month(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--month",
        type=_month,
        help=f"a seasonal model's time of year: {what} (default: its annual embedding)",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "embed",
        help="embed the rows of a CSV, (Geo)Parquet, Excel (.xlsx) or vector file "
        "(GeoJSON, GPKG, FlatGeobuf, SHP)",
    )
    s.add_argument(
        "input",
        help="CSV, Parquet, GeoParquet, Excel .xlsx (first sheet), GeoJSON, GPKG, FlatGeobuf or SHP: "
        "lon/lat columns or geometries, any CRS",
    )
    add_model(
        s,
        f"model name (satclip list), model file, or .onnx with --backend onnx (default {RECOMMENDED})",
        default=RECOMMENDED,
    )
    add_out(
        s,
        ".npy, .parquet (input columns kept; GeoParquet for geometries) or .csv (input columns and emb_0..)",
        old=["--output"],
        required=True,
    )
    add_reader_options(s)
    add_time_options(s)
    _add_month(s, "one month (1-12) for every row")
    s.add_argument(
        "--layout",
        choices=["list", "columns"],
        default="list",
        help="one `embedding` list column, or emb_0.. columns",
    )
    s.add_argument(
        "--geoparquet",
        action="store_true",
        help="write GeoParquet, adding point geometries for lon/lat input",
    )
    s.add_argument(
        "--ood", action="store_true", help="add ood_km (km to the nearest pretraining location) and on_water"
    )
    s.add_argument("--resume", action="store_true", help="continue a killed run where it stopped")
    s.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    s.add_argument("--chunk-rows", type=int, default=65536)
    s.add_argument("--device", default="cpu")
    _add_precision(s)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_embed)

    s = sub.add_parser(
        "raster", help="an embedding raster of a bounding box: Cloud-Optimised GeoTIFF or Zarr"
    )
    add_model(s, f"model name or file (default {RECOMMENDED})", default=RECOMMENDED)
    s.add_argument("--bbox", type=parse_bbox, help="W,S,E,N in degrees")
    s.add_argument("--resolution", type=float, help="pixel size in degrees")
    s.add_argument(
        "--like",
        metavar="RASTER",
        help="take the bbox and resolution of this lon/lat raster (e.g. a WorldClim layer): "
        "the output is aligned with it pixel for pixel",
    )
    add_out(s, ".tif (COG) or .zarr", old=["--output"], required=True)
    s.add_argument(
        "--pca", type=int, help="write the first k principal components instead of every dimension"
    )
    s.add_argument("--tile", type=int, default=256, help="tile size in pixels (memory is bounded by it)")
    _add_month(s, "the month (1-12) of the whole raster")
    s.add_argument(
        "--dtype",
        choices=("float16", "float32", "float64"),
        help="value type (default: the model's, float32 or float64); float16 halves a .zarr",
    )
    _add_precision(s)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_raster)

    s = sub.add_parser("map", help="map of a model's first three principal components as RGB (world or bbox)")
    add_model(s, f"model name or file (default {RECOMMENDED})", default=RECOMMENDED)
    add_out(s, "PNG file", old=["--output"], required=True)
    s.add_argument("--compare", help="a second model, drawn side by side")
    s.add_argument(
        "--bbox",
        type=parse_bbox,
        help="W,S,E,N in degrees (default the world; east past 180 across the antimeridian)",
    )
    s.add_argument("--resolution", type=float, help="degrees per pixel (default: 720 pixels across)")
    s.add_argument(
        "--global-pca", action="store_true", help="fit the components on the whole globe, not on land"
    )
    s.add_argument("--no-coastlines", action="store_true")
    _add_month(s, "the month (1-12) mapped")
    s.add_argument(
        "--compare-month",
        type=_month,
        help="--compare's month; without --compare, the same seasonal model at this month beside "
        "--month, both coloured by one set of components",
    )
    _add_precision(s)
    s.set_defaults(func=_cmd_map)

    s = sub.add_parser("export-onnx", help="a model as ONNX, for onnxruntime (satclip embed --backend onnx)")
    add_model(s, "model name (satclip list) or model file", required=True, positional=True)
    add_out(s, ".onnx file", old=["--output"], required=True)
    s.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="type of the lonlat input (default float32, what most tools pass; float64 keeps a "
        "float64 model's coordinates unrounded)",
    )
    s.add_argument(
        "--precision",
        choices=ONNX_PRECISIONS,
        default="float32",
        help="the network's matrix products in fp16 or int8, each layer only where they keep "
        "the embedding (refused where none does, as on every shipped model)",
    )
    s.set_defaults(func=_cmd_export_onnx)
