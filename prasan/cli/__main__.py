"""`python -m prasan.cli`: the `prasan` command without its console script."""

import sys

from prasan.cli import main

sys.exit(main())
