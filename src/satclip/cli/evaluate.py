"""The ``satclip evaluate`` command: downstream evaluation of encoders, on built-in tasks or yours."""

from __future__ import annotations

import argparse
from typing import Any

from satclip.cli._args import Renamed, add_out, add_reader_options, add_time_options, reader_options
from satclip.errors import InputError
from satclip.pretrained import RECOMMENDED

# Without --models: the recommended model against the raw features it is built on (L=40
# harmonics), the simplest baseline, the labels interpolated on the coordinates (idw) and the
# pretraining imagery read at the points (imagery), as EVALUATION.md compares them.
DEFAULT_MODELS = f"{RECOMMENDED},sh40,wrap,idw,imagery"


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from satclip.evaluation import suite
    from satclip.evaluation.splits import SPLITS
    from satclip.evaluation.tasks import MONTHLY_TASKS, annual_tasks, list_tasks

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.task_file is None and (args.target or args.kind):
        raise InputError("--target and --kind describe a --task-file; add --task-file FILE")
    default_tasks = "all" if args.task_file is None else ""
    text = args.tasks if args.tasks is not None else default_tasks
    # "all": the annual tasks (the tables of EVALUATION.md); "monthly": the tasks by month.
    groups = {"all": annual_tasks(), "monthly": list(MONTHLY_TASKS)}
    names = [n for t in text.split(",") if t.strip() for n in groups.get(t.strip(), [t.strip()])]
    tasks: list[Any] = suite.parse_names(",".join(dict.fromkeys(names)), list_tasks(), "task(s)")
    if args.task_file is not None:
        from satclip.evaluation.custom import task_from_file

        if not args.target:
            raise InputError("--task-file needs --target COLUMN, the column that holds the label")
        # Its notices are warnings, which main shows in flags ("--kind regression to change").
        task = task_from_file(
            args.task_file,
            args.target,
            args.kind,
            month_col=args.month_col,
            date_col=args.date_col,
            **reader_options(args),
        )
        tasks.append(task)
    splits = suite.parse_names(args.splits, SPLITS, "split(s)")
    n_train = [v.strip() for v in args.n_train.split(",") if v.strip()]
    rows = suite.run(
        models, tasks, args.probe, splits, progress=not args.quiet, block_deg=args.block_deg, n_train=n_train
    )
    print(suite.markdown(rows))
    if args.out is None:
        print("(add -o DIR to keep these scores as results.csv, results.md and a chart per task)")
    else:
        out = suite.write_outputs(rows, args.out)
        print(f"wrote {out / 'results.csv'}, {out / 'results.md'} and a chart per task")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("evaluate", help="downstream evaluation of encoders on real geographic tasks")
    s.add_argument(
        "--models",
        "--encoders",
        action=Renamed,
        old=["--encoders"],
        default=DEFAULT_MODELS,
        help=f"comma list of models: wrap,sh40,geoclip,MODEL_FILE,...; idw adds the labels "
        f"interpolated on the coordinates as a reference row, imagery the pretraining imagery read at "
        f"the points (default {DEFAULT_MODELS})",
    )
    s.add_argument(
        "--tasks",
        default=None,
        help="comma list, 'all' (the annual tasks) or 'monthly' (the tasks by month; a static model "
        "gets the month as probe features) (default: all, or none with --task-file)",
    )
    s.add_argument("--probe", default="linear", choices=["linear", "mlp", "knn"])
    s.add_argument(
        "--splits",
        "--split",
        action=Renamed,
        old=["--split"],
        default="random,block",
        help="comma list of random, block, continent, or 'all' (default random,block)",
    )
    s.add_argument("--block-deg", type=float, help="block size of the block split in degrees (default 10)")
    s.add_argument(
        "--n-train",
        default="all",
        help="label regimes: comma list of label counts and 'all', e.g. 100,1000,all: each count "
        "fits the probe on that many points of each fold's training part, three draws (default all)",
    )
    add_out(s, "folder for results.csv, results.md and the charts (default: print only)", old=["--output"])
    s.add_argument("-q", "--quiet", action="store_true")
    own = s.add_argument_group("your own labelled points")
    own.add_argument(
        "--task-file",
        help="CSV, Parquet, GeoParquet, Excel .xlsx or vector file of points with a label column",
    )
    own.add_argument("--target", help="the label column")
    own.add_argument(
        "--kind",
        choices=["regression", "classification"],
        help="default: inferred from the labels, and stated",
    )
    add_reader_options(own)
    add_time_options(own)
    s.set_defaults(func=_cmd_evaluate)
