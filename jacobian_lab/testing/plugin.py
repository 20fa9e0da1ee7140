"""The pytest plugin (entry point ``pytest11``): a ``gradcheck`` fixture.

A user's test reads ``gradcheck(f, grad, W, x, b)``; a failure shows the check's report as the
assertion message. Each test gets its own seed (printed in a failure's report);
``pytest --jlab-gradcheck-seed=N`` fixes it, to reproduce a failure.

pytest loads this module in every session of everyone who installs jacobian_lab: it imports
nothing but pytest until a check runs (no NumPy, SymPy or torch).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jlab-gradcheck", "jacobian_lab gradient checks")
    group.addoption("--jlab-gradcheck-seed", type=int, default=None, metavar="N",
                    help="seed of the gradcheck fixture's random points and directions "
                         "(default: a fresh one per test, printed when a check fails)")


class GradCheck:
    """``gradcheck(f, grad, *args, **kw)`` is :func:`jacobian_lab.testing.assert_gradient`;
    ``.jacobian``, ``.vjp`` and ``.autograd_function`` the other assertions, all seeded."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _call(self, name: str, *args: Any, **kw: Any) -> Any:
        __tracebackhide__ = True
        # lazy: the plugin loads in every pytest run of an installing project; NumPy only
        # when a test uses the fixture
        from jacobian_lab import testing

        kw.setdefault("seed", self.seed)
        check: Callable[..., Any] = getattr(testing, name)
        return check(*args, **kw)

    def __call__(self, f: Callable[..., Any], grad: Callable[..., Any], *args: Any,
                 **kw: Any) -> Any:
        __tracebackhide__ = True
        return self._call("assert_gradient", f, grad, *args, **kw)

    def jacobian(self, f: Callable[..., Any], jac: Callable[..., Any], *args: Any,
                 **kw: Any) -> Any:
        __tracebackhide__ = True
        return self._call("assert_jacobian", f, jac, *args, **kw)

    def vjp(self, f: Callable[..., Any], vjp: Callable[..., Any], *args: Any,
            **kw: Any) -> Any:
        __tracebackhide__ = True
        return self._call("assert_vjp", f, vjp, *args, **kw)

    def autograd_function(self, fn: Any, *inputs: Any, **kw: Any) -> Any:
        __tracebackhide__ = True
        return self._call("assert_autograd_function", fn, *inputs, **kw)


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradCheck:
    """Check a gradient: ``gradcheck(f, grad, *args, wrt=…, kink=…)`` (see
    :func:`jacobian_lab.testing.assert_gradient`)."""
    seed = request.config.getoption("--jlab-gradcheck-seed")
    if seed is None:
        seed = zlib.crc32(request.node.nodeid.encode() + os.urandom(4))
    return GradCheck(int(seed))
