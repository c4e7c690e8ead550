"""``python -m kit``: the ``kit`` command line."""

import sys

from kit.cli import main

sys.exit(main())
