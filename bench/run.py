"""Entry point of ``make bench`` (``python bench/run.py [--smoke]``); see ``bench/main.py``."""

import sys
from pathlib import Path

# Run as a script, so the repository root (home of ``bench``, ``deploy`` and ``tests``) is not
# on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
