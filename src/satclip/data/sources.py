"""Deprecated alias: this module moved to :mod:`satclip.sources` (it serves inference and
evaluation too, not only pretraining data). Importing it gives that module itself."""

import sys
import warnings

from satclip import sources as _moved

warnings.warn(
    "satclip.data.sources moved to satclip.sources; import it from there", DeprecationWarning, stacklevel=2
)
sys.modules[__name__] = _moved
