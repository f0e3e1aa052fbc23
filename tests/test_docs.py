"""The documentation: the README's and the examples page's Python blocks run, and the site builds."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"(<!-- not run: [^>]*-->\n)?```python\n(.*?)```", re.DOTALL)


def python_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, without those marked ``<!-- not run: why -->``."""
    return [code for skip, code in _BLOCK.findall(path.read_text()) if not skip]


@pytest.mark.slow
@pytest.mark.parametrize("page", ["README.md", "docs/guides/examples.md"])
def test_python_examples_run_as_written(page, cache, tmp_path, monkeypatch, capsys):
    blocks = python_blocks(ROOT / page)
    assert blocks, f"{page} has no Python examples"
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{page} block {i + 1}", "exec"), namespace)
        except Exception as e:  # the message names the page and the block
            raise AssertionError(
                f"{page}, Python block {i + 1} failed: {type(e).__name__}: {e}\n{code}"
            ) from e


def test_blocks_marked_not_run_are_left_out(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("```python\nx = 1\n```\n<!-- not run: needs the network -->\n```python\ny = 2\n```\n")
    assert python_blocks(page) == ["x = 1\n"]


@pytest.mark.slow
def test_the_site_builds_with_no_warning(tmp_path):
    pytest.importorskip("mkdocs")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    # No -q: mkdocs 1.6 counts the warnings it logs, and -q silences them, so --strict then
    # passes a broken link or anchor.
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("embed_grid") > 0
