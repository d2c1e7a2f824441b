"""``python -m futures_settle``: the seed article's quick example on every engine at hand.

It prints the same text on every run; how, and the tasks it runs, are in ``_demo``.
"""

import sys

from ._demo import main

if __name__ == "__main__":
    sys.exit(main())
