"""satclip's errors: one family, each also the built-in error it matches.

``except satclip.SatCLIPError`` catches every problem the library reports on purpose, while
``except ValueError`` or ``except FileNotFoundError`` keep working as in any Python library:
each class below derives from both. Messages speak of the Python arguments (``resume=True``);
the command line swaps in its flag names (``--resume``) where it shows them.
"""

from __future__ import annotations

import os
from pathlib import Path


class SatCLIPError(Exception):
    """Base of every error satclip raises on purpose."""


class InputError(SatCLIPError, ValueError):
    """An argument or a value in the user's data that cannot be used; the message names it."""


class InputTypeError(SatCLIPError, TypeError):
    """An argument of a type that satclip does not take; the message names the types it does."""


class ModelFileError(InputError):
    """A model file is truncated, corrupt, or not a location-encoder file."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)


class ModelNotFoundError(SatCLIPError, FileNotFoundError):
    """A model named by path or by name is not on this machine; the message says how to get it."""


class InputFileNotFoundError(SatCLIPError, FileNotFoundError):
    """An input file or folder (points, a dataset, a run) does not exist or is not complete."""


class OutputExistsError(SatCLIPError, FileExistsError):
    """An output path is taken by something that this call must not overwrite."""


class OutputIsDirectoryError(SatCLIPError, IsADirectoryError):
    """An output path names an existing folder where a file is to be written."""


class MissingDependencyError(SatCLIPError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


class DownloadError(SatCLIPError, OSError):
    """A download failed; the message names what was fetched and how to retry or place it by hand."""


class SourceError(SatCLIPError, RuntimeError):
    """A data source could not be fetched or failed its checksum."""


class BusyError(SatCLIPError, OSError):
    """Another process holds the lock of an output that this one was asked to write."""


__all__ = [
    "BusyError",
    "DownloadError",
    "InputError",
    "InputFileNotFoundError",
    "InputTypeError",
    "MissingDependencyError",
    "ModelFileError",
    "ModelNotFoundError",
    "OutputExistsError",
    "OutputIsDirectoryError",
    "SatCLIPError",
    "SourceError",
]
