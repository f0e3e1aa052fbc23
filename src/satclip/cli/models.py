"""The ``satclip`` commands about models themselves: list, demo, info, download."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from satclip.cli._args import add_model

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
    from satclip.encodings import list_encodings
    from satclip.networks import list_networks
    from satclip.pretrained import PRETRAINED, RECOMMENDED, model_path

    print("encodings:", ", ".join(list_encodings()))
    print("networks: ", ", ".join(list_networks()))
    print("models (satclip.load(NAME); * = recommended, the default of embed, raster and map):")
    width = max(map(len, PRETRAINED))
    for name, model in PRETRAINED.items():
        if model.bundled:
            where = "in the package"
        else:
            try:
                model_path(name)
                where = "downloaded"
            except (FileNotFoundError, ValueError):  # not in the cache, or a damaged copy
                where = f"satclip download --model {name}"
        mark = "*" if name == RECOMMENDED else " "
        print(f"  {mark} {name:<{width}}  {model.description}  [{where}]")
    return 0


def _demo_encoder(model: str | None):
    from satclip.pretrained import PRETRAINED, load, model_path

    if model:
        return load(model), model
    for name in PRETRAINED:
        try:
            model_path(name)
        except (FileNotFoundError, ValueError):
            continue
        return load(name), name
    # No trained model is available yet: show the machinery on a freshly initialised encoder,
    # round-tripped through a model file, and say so.
    import torch

    from satclip.checkpoints import save
    from satclip.encoder import LocationEncoder
    from satclip.encodings import create_encoding
    from satclip.networks import create_network

    with torch.random.fork_rng(devices=[]):  # a fixed demo, without reseeding the caller's generator
        torch.manual_seed(0)
        sh = create_encoding("sphericalharmonics", legendre_polys=10)
        net = create_network("siren", dim_in=sh.dim, dim_out=256)
    path = Path(tempfile.mkdtemp()) / "untrained-sh10-siren.safetensors"
    save(LocationEncoder(sh, net), path)
    print(f"no pretrained model is installed or cached; using an UNTRAINED L=10 encoder saved to {path}")
    return load(path), "untrained L=10 SIREN"


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

    import torch

    from satclip.pretrained import load

    enc = load(args.model)
    if enc.config is not None:
        print(json.dumps(enc.config.to_dict(), indent=2))
    if isinstance(enc, torch.nn.Module):
        print(f"parameters: {sum(p.numel() for p in enc.parameters())}")
    else:
        print(f"{enc!r}: dim {enc.dim}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from satclip.pretrained import download

    print(download(args.model, force=args.force))
    return 0


# Three registration functions, not one: `satclip --help` lists info and download apart from
# list and demo, in the order the commands were added, and build_parser keeps that order.
def _cmd_push_to_hub(args: argparse.Namespace) -> int:
    from pathlib import Path

    from satclip.hub import model_card, push_to_hub
    from satclip.pretrained import PRETRAINED, resolve_torch

    enc = resolve_torch(args.model, "push-to-hub")
    known = PRETRAINED.get(args.model)
    name = args.model if known else Path(args.model).stem
    filename = args.filename or f"{name}.safetensors"
    scores = Path(args.scores).read_text() if args.scores else None
    card = model_card(
        enc,
        name,
        filename,
        data_sources=known.data if known else (),
        description=known.description if known else "",
        scores=scores,
        teachers=known.teachers if known else (),
    )
    url = push_to_hub(
        enc, args.repo, filename, card, revision=args.revision, private=args.private, message=args.message
    )
    print(f"pushed {filename} and README.md to {args.repo}: {url}")
    return 0


def add_push_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("push-to-hub", help="upload a model file with a model card to the Hugging Face Hub")
    add_model(s, "model name (satclip list) or model file", required=True, positional=True)
    s.add_argument("repo", help="the Hub model repository, OWNER/NAME (created if needed)")
    s.add_argument("--filename", help="name in the repository (default: MODEL.safetensors)")
    s.add_argument("--scores", help="markdown scores for the card, e.g. results.md of satclip evaluate")
    s.add_argument("--revision", help="branch to commit to (default: main)")
    s.add_argument("--private", action="store_true", help="create the repository as private")
    s.add_argument("--message", help="commit message")
    s.set_defaults(func=_cmd_push_to_hub)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """list and demo."""
    s = sub.add_parser("list", help="list encodings, networks and named models")
    s.set_defaults(func=_cmd_list)

    s = sub.add_parser("demo", help="load a model and embed a few cities")
    add_model(s, "name or path (default: the first available pretrained model)")
    s.set_defaults(func=_cmd_demo)


def add_info_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("info", help="print a model's config")
    add_model(s, "model name (satclip list) or model file", required=True, positional=True)
    s.set_defaults(func=_cmd_info)


def add_download_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("download", help="fetch a published SatCLIP checkpoint into the cache (online)")
    add_model(s, "a published model's name (satclip list)", required=True, positional=True)
    s.add_argument("--force", action="store_true", help="download again even if cached")
    s.set_defaults(func=_cmd_download)
