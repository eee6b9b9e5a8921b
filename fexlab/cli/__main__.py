"""``python -m fexlab.cli``: the ``fexlab`` command."""

import sys

from fexlab.cli import main

sys.exit(main())
