"""The command line's vocabulary, held over every subcommand: the model is ``--model``, an output
is ``-o/--out``, an option that takes a list has a plural name, and each old spelling still
works for a while with a FutureWarning that names the new one."""

import argparse
import re
import subprocess
import sys

import pytest

from satclip.cli import build_parser, main
from satclip.cli._args import FLAGS, PositionalModel, Renamed, flag_names, parse_bbox

# Every old spelling and the new one it warns about: removing one from the parser, or adding one
# without its notice, fails here; CHANGELOG lists the same table.
OLD_SPELLINGS = {
    ("embed", "--output"): "-o/--out",
    ("raster", "--output"): "-o/--out",
    ("map", "--output"): "-o/--out",
    ("export-onnx", "--output"): "-o/--out",
    ("export-onnx", "MODEL"): "--model MODEL",
    ("info", "MODEL"): "--model MODEL",
    ("download", "MODEL"): "--model MODEL",
    ("push-to-hub", "MODEL"): "--model MODEL",
    ("data preview", "--output"): "-o/--out",
    ("train", "--run-dir"): "-o/--out",
    ("export", "--output"): "-o/--out",
    ("evaluate", "--encoders"): "--models",
    ("evaluate", "--split"): "--splits",
    ("evaluate", "--output"): "-o/--out",
}
TAKE_A_MODEL = {"demo", "embed", "raster", "map", "export-onnx", "info", "download", "push-to-hub", "explore"}
WRITE_AN_OUTPUT = {
    "embed",
    "raster",
    "map",
    "export-onnx",
    "data build",
    "data preview",
    "data s2",
    "train",
    "export",
    "run",
    "evaluate",
}
# Spellings of a model or an output that the vocabulary replaced: never shown.
NOT_SHOWN = {
    "--encoder",
    "--encoders",
    "--output",
    "--out-dir",
    "--output-dir",
    "--run-dir",
    "--dst",
    "--split",
}


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand that runs something ("data build", ...), by name."""
    found = {}

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        if parser.get_default("func") is not None:
            found[" ".join(path)] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    return found


def _shown(action: argparse.Action) -> list[str]:
    """The option strings --help shows."""
    return [s for s in action.option_strings if s not in getattr(action, "old", ())]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help is not argparse.SUPPRESS]


def test_the_walk_finds_every_command():
    names = set(_commands())
    assert {"list", "demo", "data list", "data fetch", "evaluate", "train", "run"} <= names
    assert names >= TAKE_A_MODEL | WRITE_AN_OUTPUT


@pytest.mark.parametrize("name", sorted(_commands()))
def test_model_is_the_option_model(name):
    parser = _commands()[name]
    models = [a for a in parser._actions if a.dest == "model"]
    if name not in TAKE_A_MODEL:
        assert not models and not any(isinstance(a, PositionalModel) for a in parser._actions)
        return
    assert [_shown(a) for a in models] == [["--model"]], name


@pytest.mark.parametrize("name", sorted(_commands()))
def test_no_positional_model(name):
    for action in _commands()[name]._actions:
        if not action.option_strings and not isinstance(action, PositionalModel):
            assert not re.search(r"model|encoder", action.dest), (name, action.dest)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_output_is_o_out(name):
    parser = _commands()[name]
    outs = [a for a in _options(parser) if a.dest == "out"]
    assert [_shown(a) for a in outs] == ([["-o", "--out"]] if name in WRITE_AN_OUTPUT else []), name
    for action in _options(parser):
        assert not set(_shown(action)) & NOT_SHOWN, (name, action.option_strings)
        if "-o" in action.option_strings or re.fullmatch(
            r"out\w*|\w*_out|output\w*|\w*dst|\w*_dir", action.dest
        ):
            assert action.dest == "out", (name, action.option_strings)


# A list flag whose singular reads right: `--n-train 100,1000,all` is "the number of training
# labels", each value one regime (issue 37 and CoordBench name it so).
SINGULAR_LISTS = {"--n-train"}


@pytest.mark.parametrize("name", sorted(_commands()))
def test_options_that_take_a_list_are_plural(name):
    for action in _options(_commands()[name]):
        if set(action.option_strings) & SINGULAR_LISTS:
            continue
        if action.nargs in ("+", "*") or "comma list" in (action.help or ""):
            assert all(s.endswith("s") for s in _shown(action) if s.startswith("--")), (name, action.dest)


def _filler(action: argparse.Action) -> list[str]:
    if action.nargs in ("*", "?"):
        return []
    if action.choices:
        return [str(next(iter(action.choices)))]
    return {int: ["1"], float: ["1"], parse_bbox: ["0,0,1,1"]}.get(action.type, ["x"])


def _needed(parser: argparse.ArgumentParser, leave_out: argparse.Action) -> tuple[list[str], list[str]]:
    """The positionals and required options ``parser`` needs, but for ``leave_out``."""
    positionals: list[str] = []
    options: list[str] = []
    for action in parser._actions:
        if action is leave_out or isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            positionals += _filler(action)
        elif action.required or getattr(action, "needed", False):
            options += [action.option_strings[0], *_filler(action)]
    return positionals, options


def _old_spellings():
    for name, parser in _commands().items():
        for action in parser._actions:
            if isinstance(action, Renamed | PositionalModel):
                for old in action.old:
                    yield name, parser, action, old


def test_every_old_spelling_is_in_the_table():
    assert {(name, old): action.new for name, _, action, old in _old_spellings()} == OLD_SPELLINGS


@pytest.mark.parametrize(
    ("name", "old"), [(name, old) for name, _, _, old in _old_spellings()], ids=lambda v: str(v)
)
def test_old_spellings_work_with_a_warning_naming_the_new(name, old):
    parser, action = next((p, a) for n, p, a, o in _old_spellings() if (n, o) == (name, old))
    positionals, options = _needed(parser, leave_out=action)
    if isinstance(action, PositionalModel):
        model = next(a for a in parser._actions if a.dest == "model")
        positionals, options = _needed(parser, leave_out=model)
        argv, value = [*name.split(), "m", *positionals, *options], "m"
    else:
        value = _filler(action)
        argv = [*name.split(), *positionals, *options, old, *value]
        value = action.type(value[0]) if action.type else value[0]
    with pytest.warns(FutureWarning, match=re.escape(f"satclip {name}: {old}")) as caught:
        args = build_parser().parse_args(argv)
    (warning,) = [w for w in caught if w.category is FutureWarning]
    assert f"is now {OLD_SPELLINGS[name, old]};" in str(warning.message)
    dest = "model" if isinstance(action, PositionalModel) else action.dest
    assert getattr(args, dest) == value and not hasattr(args, "old_model")
    # Hidden from --help: only the new spelling is taught.
    text = parser.format_help()
    assert not re.search(rf"{re.escape(old)}(?![\w-])", text) or old == "MODEL"
    assert "old_model" not in text


def test_new_spellings_give_no_warning(recwarn):
    parser = build_parser()
    for argv in (
        ["info", "--model", "m"],
        ["push-to-hub", "--model", "m", "me/repo"],
        ["push-to-hub", "me/repo", "--model", "m"],
        ["evaluate", "--models", "a,b", "--splits", "random", "-o", "d"],
        ["train", "--config", "c", "-o", "r"],
        ["embed", "in.csv", "--out", "x.npy"],
    ):
        parser.parse_args(argv)
    assert not [w for w in recwarn if w.category is FutureWarning]


def test_model_positional_and_option_together_or_neither_are_refused(capsys):
    parser = build_parser()
    with pytest.warns(FutureWarning), pytest.raises(SystemExit):
        parser.parse_args(["info", "a", "--model", "b"])
    assert "give the model once, with --model MODEL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["info"])
    err = capsys.readouterr().err
    assert "usage: satclip info [-h] --model MODEL" in err
    assert "the following arguments are required: --model" in err
    # argparse's own messages name the option by its new spellings only.
    with pytest.raises(SystemExit):
        parser.parse_args(["embed", "in.csv", "--output"])
    assert "argument -o/--out: expected one argument" in capsys.readouterr().err


def test_the_notice_is_one_line_on_stderr(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "satclip.cli", "info", "satclip-bluemarble-l10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "FutureWarning: satclip info: MODEL (positional) is now --model MODEL; "
        "MODEL (positional) stops working in satclip 0.3"
    ]
    assert '"legendre_polys": 10' in out.stdout


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("rerun without resume=True to start over", "rerun without --resume to start over"),
        ("choose another out= or pass overwrite=True", "choose another -o/--out or pass --overwrite"),
        ("differs from crs=EPSG:3857; drop crs= to use", "differs from --crs EPSG:3857; drop --crs to use"),
        ("(kind='regression' to change)", "(--kind regression to change)"),
        ("Name them with lon_col= / lat_col=, or", "Name them with --lon-col / --lat-col, or"),
        ("for geoparquet=True or ood=True", "for --geoparquet or --ood"),
        # Other names, and names inside longer ones, are left alone.
        ("batch_size=8, timeout=3, payout=5", "batch_size=8, timeout=3, payout=5"),
        ("--layout x", "--layout x"),
    ],
)
def test_argument_names_become_flags(message, shown):
    assert flag_names(message) == shown


def test_every_flag_of_the_table_exists():
    spellings = {"/".join(_shown(a)) for p in _commands().values() for a in _options(p)}
    spellings |= {s for p in _commands().values() for a in _options(p) for s in _shown(a)}
    assert set(FLAGS.values()) <= spellings


def test_library_errors_show_flags(tmp_path, capsys):
    src = tmp_path / "p.csv"
    src.write_text("x,y\n1,2\n")
    assert main(["embed", str(src), "-o", str(tmp_path / "e.npy"), "--ood", "-q"]) == 2
    assert "write .parquet for --geoparquet or --ood" in capsys.readouterr().err
    assert main(["embed", str(src), "-o", str(tmp_path / "e.parquet"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Name them with --lon-col / --lat-col, or --geometry-col" in err and "lon_col" not in err
