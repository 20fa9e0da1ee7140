"""Doctest collection (``--doctest-modules``) imports every module: those that need an
optional dependency are skipped when it is not installed."""

from __future__ import annotations

import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["jacobian_lab/testing/_torch.py"]
