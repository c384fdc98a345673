"""``python -m lbalgo``: the same as the ``lbalgo`` command."""

import sys

from .cli import main

sys.exit(main())
