"""The ``satclip`` command line: the parser, ``main``, and the fix for negative coordinates."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
import warnings
from collections.abc import Iterator

from satclip._version import package_version
from satclip.cli import data, evaluate, explore, models, train, use
from satclip.cli._args import Parser, flag_names, parse_bbox
from satclip.cli.models import CITIES
from satclip.errors import SatCLIPError

# CITIES and parse_bbox were importable from the single-module cli; they still are.
__all__ = ["CITIES", "build_parser", "main", "parse_bbox"]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="satclip", description="Location embeddings from satellite imagery.")
    p.add_argument("--version", action="version", version=f"satclip {package_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `satclip --help` lists commands in the order they were added, not by group: kept as it was.
    models.add_parsers(sub)  # list, demo
    use.add_parsers(sub)  # embed, raster, map, export-onnx
    models.add_info_parser(sub)  # info
    data.add_parsers(sub)  # data list, fetch, build, preview, s2
    train.add_parsers(sub)  # train, export, run
    evaluate.add_parsers(sub)  # evaluate
    explore.add_parsers(sub)  # explore
    models.add_download_parser(sub)  # download
    models.add_push_parser(sub)  # push-to-hub
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
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # `satclip` alone: the commands, as `git` does, rather than "command is required"
        parser.print_help(sys.stderr)
        return 2
    args = _parse(parser, argv)
    with _notices(args.command, quiet=getattr(args, "quiet", False)):
        try:
            return int(args.func(args))
        except (SatCLIPError, ValueError, OSError, ImportError) as e:
            # What the user can fix (input, files, disk, extras, registries): one line. Anything
            # else is a bug in satclip or below it, and keeps its traceback.
            # The library names its arguments (resume=True); here they are flags (--resume).
            print(f"satclip {args.command}: error: {flag_names(str(e))}", file=sys.stderr)
            return 2


class _NoticeFormatter(logging.Formatter):
    """Notices as they are; warnings as one line that says so, like the errors."""

    def __init__(self, command: str) -> None:
        super().__init__("%(message)s")
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        text = flag_names(super().format(record))
        return text if record.levelno < logging.WARNING else f"satclip {self.command}: warning: {text}"


@contextlib.contextmanager
def _notices(command: str, quiet: bool) -> Iterator[None]:
    """The library's log notices (warnings only with ``--quiet``) and its Python warnings on
    stderr for the length of one command. The library never configures logging, and the
    process is left as it was: ``main`` also runs inside notebooks and tests."""
    logger = logging.getLogger("satclip")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_NoticeFormatter(command))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)

    def show(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        # Ours are UserWarnings; another library's keep their category's name.
        kind = "warning" if category is UserWarning else category.__name__
        print(f"satclip {command}: {kind}: {flag_names(str(message))}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _one_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> str:
    return f"{category.__name__}: {message}\n"


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The parsed arguments; an old spelling's notice is one line on stderr, not the warnings
    module's two (file, line and source of satclip's parser mean nothing to the user)."""
    shown = warnings.formatwarning
    warnings.formatwarning = _one_line
    try:
        return parser.parse_args(_join_negative_values(parser, argv))
    finally:
        warnings.formatwarning = shown
