"""``python -m genrnn``: the same command line as ``genrnn``."""
import sys

from genrnn.cli import main

sys.exit(main())
