"""`python -m drift.bench NAME`: the same as `drift bench NAME`."""

import sys

from drift.bench.cli import main

raise SystemExit(main(sys.argv[1:]))
