"""``python -m jacobian_lab`` is ``jlab``."""

from __future__ import annotations

import sys

from jacobian_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
