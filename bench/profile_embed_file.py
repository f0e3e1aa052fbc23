"""Where `satclip embed`'s time goes on one file: the encoder, and on the writer's side the
output tables, the parts and the final file (which overlap the encoder's next chunk, so their
sum can exceed the total).

    .venv/bin/python bench/profile_embed_file.py POINTS.csv OUT.parquet

Times the calls of ``satclip.io.embed_file`` by wrapping them (reading the CSV is the rest of
the total). To compare two versions side by side, run it alternately with ``PYTHONPATH`` set to
each checkout's ``src`` (e.g. a ``git worktree`` of the older commit).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any

import satclip
from satclip.io import embed as E
from satclip.io import writers as W

TIMES: dict[str, float] = {}


def timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def g(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        r = f(*a, **k)
        TIMES[name] = TIMES.get(name, 0.0) + time.perf_counter() - t
        return r

    return g


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    for name in ("output_table", "write_part", "write_json"):
        setattr(E, name, timed(name, getattr(E, name)))
    if hasattr(W, "MergedOutput"):  # the final file written as the parts are made
        for name in ("add", "close"):
            setattr(W.MergedOutput, name, timed(f"final file {name}", getattr(W.MergedOutput, name)))
    elif hasattr(E, "merge_parts"):  # before: the final file merged from the parts at the end
        E.merge_parts = timed("merge_parts", E.merge_parts)
    enc = satclip.load()
    enc.embed_array = timed("embed_array", enc.embed_array)  # type: ignore[method-assign]
    t = time.perf_counter()
    E.embed_file(enc, src, out, progress=False)
    total = time.perf_counter() - t
    print(f"total {total:.2f} s", {k: round(v, 2) for k, v in TIMES.items()})


if __name__ == "__main__":
    main()
