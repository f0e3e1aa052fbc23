"""What the subcommands share: the parser class that holds the command line's vocabulary
(``--model``, ``-o/--out``, plural list options; old spellings kept for a while, with a notice),
the table that turns the library's argument names into flags, ``parse_bbox`` (raster, data s2)
and the input reader options (embed, evaluate --task-file)."""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any

from satclip._compat import warn_renamed


class _OldSpelling(argparse.Action):
    """An action that stores its value and, when the user gave it an old spelling, warns with
    the library's notice (:func:`satclip._compat.warn_renamed`), which names the new one."""

    new: str

    def _old_used(self, option_string: str | None, values: Any) -> str | None:
        """The old spelling this call used, or None."""
        raise NotImplementedError

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        old = self._old_used(option_string, values)
        if old is not None:
            warn_renamed(parser.prog, old, self.new)
        setattr(namespace, self.dest, values)


class Renamed(_OldSpelling):
    """A value option with old spellings (``old``) after its new ones. The old ones still work,
    with the notice, and are kept out of --help and of argparse's messages. One action holds
    every spelling, so ``required=True`` is met by whichever is given."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, old: Iterable[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.old = tuple(old)
        if not set(self.old) <= set(option_strings) or option_strings[0] in self.old:
            raise ValueError(f"old spellings {self.old} must follow the new ones in {option_strings}")
        self.new = "/".join(s for s in self.option_strings if s not in self.old)

    def _old_used(self, option_string: str | None, values: Any) -> str | None:
        return option_string if option_string in self.old else None


class PositionalModel(_OldSpelling):
    """The model as a positional argument, as info, export-onnx, download and push-to-hub once
    took it: still accepted, with the notice, and moved into ``--model`` by :class:`Parser`."""

    old = ("MODEL",)
    new = "--model MODEL"

    def _old_used(self, option_string: str | None, values: Any) -> str | None:
        # argparse calls an absent nargs="?" positional with its default, None
        return "MODEL (positional)" if values is not None else None


class _Formatter(argparse.HelpFormatter):
    """--help without the old spellings, and a ``--model`` that must be given shown as such."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if isinstance(action, Renamed) and action.old:
            action = copy.copy(action)
            action.option_strings = [s for s in action.option_strings if s not in action.old]
        return super()._format_action_invocation(action)

    def _format_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any) -> str:
        # argparse cannot require --model where a positional may stand in for it; Parser checks
        # it after parsing, and the usage line still says it is needed.
        needed = [a for a in actions if getattr(a, "needed", False)]
        for a in needed:
            a.required = True
        try:
            return super()._format_usage(usage, actions, groups, prefix)
        finally:
            for a in needed:
                a.required = False


class Parser(argparse.ArgumentParser):
    """The ``satclip`` parser and, through ``add_subparsers``, every subcommand's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        # argparse names an option by all its spellings ("argument -o/--out/--output"): not the old.
        for action in self._actions:
            if isinstance(action, Renamed):
                for old in action.old:
                    message = message.replace(f"/{old}", "")
        super().error(message)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            if isinstance(action, PositionalModel):
                given = getattr(namespace, action.dest, None)
                delattr(namespace, action.dest)
                if given is not None:
                    if namespace.model is not None:
                        self.error("give the model once, with --model MODEL")
                    namespace.model = given
        for action in self._actions:
            if getattr(action, "needed", False) and getattr(namespace, action.dest) is None:
                self.error(f"the following arguments are required: {'/'.join(action.option_strings)}")
        return namespace, extras


def add_model(
    parser: Any, help: str, *, default: str | None = None, required: bool = False, positional: bool = False
) -> None:
    """``--model``; with ``positional``, the model may still come as the old positional argument."""
    action = parser.add_argument("--model", default=default, metavar="MODEL", help=help)
    if positional:
        action.needed = required
        parser.add_argument("old_model", nargs="?", action=PositionalModel, help=argparse.SUPPRESS)
    else:
        action.required = required


def add_out(parser: Any, help: str, *, old: Iterable[str] = (), **kwargs: Any) -> None:
    """``-o/--out``, the output of every command that writes one; ``old``: its former spellings."""
    parser.add_argument("-o", "--out", *old, action=Renamed, old=old, help=help, **kwargs)


# The library's messages name Python arguments (``resume=True``, ``crs=EPSG:2056``, ``lon_col=``);
# the command line shows the same advice with its flags.
FLAGS = {
    "model": "--model",
    "out": "-o/--out",
    "resume": "--resume",
    "overwrite": "--overwrite",
    "force": "--force",
    "from_folder": "--from",
    "geoparquet": "--geoparquet",
    "ood": "--ood",
    "precision": "--precision",
    "layout": "--layout",
    "chunk_rows": "--chunk-rows",
    "lon_col": "--lon-col",
    "lat_col": "--lat-col",
    "geometry_col": "--geometry-col",
    "crs": "--crs",
    "delimiter": "--delimiter",
    "sheet": "--sheet",
    "bbox": "--bbox",
    "resolution": "--resolution",
    "pca": "--pca",
    "tile": "--tile",
    "target": "--target",
    "kind": "--kind",
    "month_col": "--month-col",
    "date_col": "--date-col",
}
_ARGUMENT = re.compile(r"(?<![\w.])(" + "|".join(FLAGS) + r")=(True\b|'[^']*'|\"[^\"]*\"|[^\s,;)]*)")

_QUOTES = "'\""


def flag_names(message: str) -> str:
    """``message`` with each ``name=value`` of :data:`FLAGS` as its flag: ``resume=True`` ->
    ``--resume``, ``kind='regression'`` -> ``--kind regression``, ``crs=`` -> ``--crs``."""

    def flag(m: re.Match[str]) -> str:
        value = m[2].strip(_QUOTES)
        return FLAGS[m[1]] if value in ("", "True") else f"{FLAGS[m[1]]} {value}"

    return _ARGUMENT.sub(flag, message)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """W,S,E,N degrees (argparse type)."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bbox must be W,S,E,N in degrees, e.g. 5.9,45.8,10.5,47.8 or -10,40,10,50; got {text!r}"
        ) from None
    return w, s, e, n


def add_reader_options(parser: Any) -> None:
    """The options that say where a file's points are: ``--lon-col``, ``--lat-col``,
    ``--geometry-col``, ``--crs``, ``--delimiter``, ``--sheet`` (see :class:`satclip.io.readers.InputTable`)."""
    parser.add_argument(
        "--lon-col",
        help="longitude column (default: the one named lon, lng, long, longitude or decimalLongitude, any case)",
    )
    parser.add_argument(
        "--lat-col",
        help="latitude column (default: the one named lat, latitude or decimalLatitude, any case)",
    )
    parser.add_argument("--geometry-col", help="WKB geometry column (default: the file's own geometry)")
    parser.add_argument(
        "--crs",
        help="CRS of the coordinate columns, e.g. EPSG:2056: they are then x/y and are reprojected "
        "(default lon/lat degrees; for vector files, the file's own CRS)",
    )
    parser.add_argument(
        "--delimiter",
        help="CSV delimiter: one character, or tab, comma, semicolon, pipe (default: sniffed; with "
        "a delimiter other than a comma, decimal commas are read)",
    )
    parser.add_argument(
        "--sheet", help="the sheet of an Excel workbook to read, by name (default: the first)"
    )


def add_time_options(parser: Any) -> None:
    """``--month-col`` and ``--date-col``: each point's time of year, for a seasonal model (and
    the month features of a monthly task)."""
    time = parser.add_mutually_exclusive_group()
    time.add_argument("--month-col", help="column of month numbers 1-12 (1 = January), one per point")
    time.add_argument(
        "--date-col", help="column of dates (ISO text such as 2024-07-15, or date/datetime values)"
    )


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """The values of :func:`add_reader_options`, as keyword arguments of the readers."""
    return {
        "lon_col": args.lon_col,
        "lat_col": args.lat_col,
        "geometry_col": args.geometry_col,
        "crs": args.crs,
        "delimiter": args.delimiter,
        "sheet": args.sheet,
    }
