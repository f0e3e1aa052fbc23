"""The ``satclip`` commands for pretraining: train, export, run."""

from __future__ import annotations

import argparse

from satclip.cli._args import add_out


def _cmd_train(args: argparse.Namespace) -> int:
    from satclip.training.config import load_config
    from satclip.training.run import train

    cfg = load_config(args.config, args.overrides)
    run_dir = args.out or f"runs/{cfg.name}"
    print(f"model written to {train(cfg, run_dir, progress=not args.quiet)}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from satclip.training.run import export

    print(f"wrote {export(args.run_dir, args.out, which=args.which)}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from satclip.training.pipeline import pipeline

    pipeline(args.out, args.config, args.overrides, progress=not args.quiet)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "train", help="contrastive pretraining from a YAML preset (satclip train --config NAME)"
    )
    s.add_argument(
        "--config", required=True, help="preset name (bluemarble-quick, bluemarble, s2-100k-paper) or YAML"
    )
    s.add_argument("overrides", nargs="*", help="section.key=value, e.g. optim.lr=3e-4 epochs=2")
    add_out(s, "run folder (default runs/<name>); rerun to resume", old=["--run-dir"])
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("export", help="the location encoder of a run, as a model file for satclip.load")
    s.add_argument("run_dir", help="a run folder, or one of its checkpoint files")
    add_out(s, "model file (.safetensors)", old=["--output"], required=True)
    s.add_argument("--which", default="best", choices=["best", "last"])
    s.set_defaults(func=_cmd_export)

    s = sub.add_parser("run", help="the main job: build data, train, evaluate, map, in one run folder")
    add_out(s, "run folder (default runs/bluemarble-quick)", default="runs/bluemarble-quick")
    s.add_argument("--config", default="bluemarble-quick")
    s.add_argument("overrides", nargs="*")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_run)
