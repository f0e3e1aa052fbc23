"""Helpers shared by the benchmark scripts: fresh-process rows and markdown tables."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def child(script: str, *one: str) -> dict[str, Any]:
    """Run ``script`` again with the same options plus ``--one ONE...`` in a fresh process (peak
    RSS is per process) and return the JSON it prints last, or {"error": ...}."""
    cmd = [sys.executable, script, *sys.argv[1:], "--one", *one]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:  # e.g. killed for memory at full size: report it, keep the other rows
        return {"error": f"rc={proc.returncode}: {proc.stderr.strip()[-300:]}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(r) + " |" for r in lines)
