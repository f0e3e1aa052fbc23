"""Old spellings of public arguments, accepted for one minor version with a ``FutureWarning``.

``@renamed(encoder="model", dst="out")`` lets ``f(encoder=enc)`` keep working while it warns
that the argument is now ``model``. The wrapper keeps the new signature (``inspect.signature``
follows ``__wrapped__``) and records its renames in ``__renamed__``, which the vocabulary test
reads (tests/test_vocabulary.py). Version 0.2 warns; 0.3 removes the old spellings.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from satclip.errors import InputTypeError

F = TypeVar("F", bound=Callable[..., Any])

REMOVED_IN = "0.3"


def warn_renamed(where: str, old: str, new: str, stacklevel: int = 3) -> None:
    """The one warning for an old spelling: it names the new one and when the old one goes."""
    warnings.warn(
        f"{where}: {old} is now {new}; {old} stops working in satclip {REMOVED_IN}",
        FutureWarning,
        stacklevel=stacklevel,
    )


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Accept each old keyword argument as its new name, with a ``FutureWarning``."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InputTypeError(
                            f"{fn.__qualname__}() got both {old}= and {new}=; pass {new}= only"
                        )
                    warn_renamed(f"{fn.__qualname__}()", f"{old}=", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        wrapper.__renamed__ = dict(old_to_new)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
