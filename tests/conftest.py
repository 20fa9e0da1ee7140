"""Shared fixtures: a seeded NumPy generator and real scalar symbols."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def xy() -> tuple[sp.Symbol, sp.Symbol]:
    return sp.symbols("x y", real=True)
