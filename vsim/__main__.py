"""``python -m vsim ...``: the ``vsim`` command, with the same output and exit codes."""

import sys

from vsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
