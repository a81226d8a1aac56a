"""``python -m ganbook.train``: the same command line as ``ganbook-train``."""

import sys

from ganbook.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
