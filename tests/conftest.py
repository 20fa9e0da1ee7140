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


@pytest.fixture(autouse=True, scope="session")
def _jlab_cache_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
                    ) -> str:
    """Point ``JLAB_CACHE_DIR`` at a fresh directory for the whole session (and for every
    ``jlab`` a test runs in a subprocess): no test reads or writes a developer's
    ``~/.cache/jacobian_lab`` — neither the proof cache of ``jlab list`` nor the data caches."""
    root = str(tmp_path_factory.mktemp("jlab-cache"))
    mp = pytest.MonkeyPatch()
    mp.setenv("JLAB_CACHE_DIR", root)
    request.addfinalizer(mp.undo)
    return root
