"""The ``satclip evaluate`` command: downstream evaluation of encoders."""

from __future__ import annotations

import argparse


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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("evaluate", help="downstream evaluation of encoders on real geographic tasks")
    s.add_argument("--encoders", required=True, help="comma list: wrap,sh40,geoclip,MODEL_FILE,...")
    s.add_argument("--tasks", default="all", help="comma list or 'all'")
    s.add_argument("--probe", default="linear", choices=["linear", "mlp", "knn"])
    s.add_argument("--split", default="random,block", help="comma list of random, block, continent, or 'all'")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cmd_evaluate)
