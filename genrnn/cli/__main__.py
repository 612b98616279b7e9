import sys

from genrnn.cli import main

sys.exit(main())
