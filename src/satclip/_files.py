"""Writing output files so that a half-written one never has its final name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def save_figure(fig: Any, out: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Save a matplotlib figure to ``out`` through a temporary name, then close it."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, out)
    return out
