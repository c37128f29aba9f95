"""``python -m modelcentrality.cli``: the same as the ``modelcentrality`` command."""

import sys

from . import main

sys.exit(main())
