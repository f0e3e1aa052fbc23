"""``python -m satclip.cli``: the ``satclip`` command, for environments without its script."""

import sys

from satclip.cli import main

sys.exit(main())
