"""`python tui.py [--runs DIR] [--checkpoints DIR] [--save-dir DIR]`: the genrnn terminal app,
the same command as `genrnn tui` (a shim; see genrnn/tui/)."""

import sys

from genrnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["tui", *sys.argv[1:]]))
