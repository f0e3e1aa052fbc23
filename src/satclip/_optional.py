"""Importing an optional dependency, with an error that names the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from satclip.errors import MissingDependencyError


def missing_extra(
    package: str, extra: str, purpose: str | None, error: Exception | str
) -> MissingDependencyError:
    """The error to raise when ``package`` is missing: it says which extra installs it."""
    return MissingDependencyError(
        f"{purpose or 'this'} needs {package}: pip install 'satclip[{extra}]' ({error})"
    )


def require(module: str, extra: str, purpose: str | None = None, min_major: int | None = None) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` saying ``pip install 'satclip[extra]'``.

    ``purpose`` says what needs it ("writing Zarr"); ``min_major`` refuses older major versions
    (zarr 2 cannot write the Zarr v3 format, for example).
    """
    package = module.split(".")[0]
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise missing_extra(package, extra, purpose, e) from e
    if min_major is not None:
        version = str(getattr(importlib.import_module(package), "__version__", "0"))
        if int(version.split(".")[0]) < min_major:
            raise missing_extra(f"{package}>={min_major}", extra, purpose, f"this is {version}")
    return mod
