"""Deprecated alias: this module moved to :mod:`satclip.coastlines` (it serves inference and
evaluation too, not only pretraining data). Importing it gives that module itself."""

import sys
import warnings

from satclip import coastlines as _moved

warnings.warn(
    "satclip.data.coastlines moved to satclip.coastlines; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
