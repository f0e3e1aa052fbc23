"""The package's version, from one source: the installed package's metadata (pyproject.toml)."""

from __future__ import annotations


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("satclip")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"
