"""The fused training step at run time: its BLAS and its Numba compilation.

The step itself is printed by ``jlab codegen`` into :mod:`jacobian_lab.kernels._fused` (plain
Python over NumPy; see :mod:`jacobian_lab.codegen.fused`). :func:`load` executes that source
(or another one: mutation testing prints wrong ones) in a namespace of its own, binds its
``_sgemm``/``_dgemm`` to the ``cblas_?gemm`` of the OpenBLAS that NumPy itself loaded (through
``ctypes``: the same library, the same ``OPENBLAS_NUM_THREADS``, no copy of the matrices) and
compiles it with ``numba.njit``.

What is cached where: nothing on disk. A step compiled by Numba embeds the address of the
BLAS functions, which changes from process to process, so ``cache=True`` cannot be used;
each process compiles the step once, on first use for each dtype (about 2–4 s), and keeps it
in memory (:func:`load` is memoised on the source). Numba is optional (``pip install
'jacobian-lab[fast]'``) and imported only here, only when a step is loaded: ``import
jacobian_lab.kernels`` and ``jlab --help`` stay light. Without Numba (``jit=False``) the same
source runs as plain Python, far too slowly to train with but enough to verify it on small
arrays.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jacobian_lab.errors import JlabError

__all__ = ["FusedUnavailable", "blas", "load", "unavailable_reason"]

SOURCE = Path(__file__).with_name("_fused.py")
_I64, _I32, _P = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
#: (s, d) symbol names of row-major CBLAS gemm and their integer type, tried in order.
_SYMBOLS = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", _I64),
            ("cblas_sgemm64_", "cblas_dgemm64_", _I64),
            ("scipy_cblas_sgemm", "scipy_cblas_dgemm", _I32),
            ("cblas_sgemm", "cblas_dgemm", _I32))


class FusedUnavailable(JlabError):
    """The fused step cannot run here (no Numba, or no BLAS found); the reason is the text."""


def _libraries() -> list[Path]:
    """The BLAS libraries NumPy's wheel ships (``numpy.libs``), then NumPy's own modules."""
    root = Path(np.__file__).parent
    found = sorted((root.parent / "numpy.libs").glob("*openblas*"))
    found += sorted((root / ".dylibs").glob("*openblas*"))
    found += sorted((root / "_core").glob("_multiarray_umath*"))
    return found


@functools.cache
def blas() -> tuple[Any, Any]:
    """NumPy's own ``cblas_sgemm`` and ``cblas_dgemm`` as ctypes functions."""
    for path in _libraries():
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for s_name, d_name, integer in _SYMBOLS:
            try:
                s, d = getattr(lib, s_name), getattr(lib, d_name)
            except AttributeError:
                continue
            for fn, real in ((s, ctypes.c_float), (d, ctypes.c_double)):
                fn.restype = None
                fn.argtypes = [integer] * 6 + [real, _P, integer, _P, integer, real, _P, integer]
            return s, d
    raise FusedUnavailable("no CBLAS gemm found in the BLAS NumPy loaded")


def _numba() -> Any:
    try:
        # lazy: Numba is an optional extra, and costs about a second to import
        import numba
    except ImportError:
        raise FusedUnavailable("numba is not installed (pip install 'jacobian-lab[fast]')"
                               ) from None
    return numba


def unavailable_reason() -> str | None:
    """Why the fused step cannot be compiled here, or None when it can."""
    try:
        _numba()
        blas()
    except FusedUnavailable as e:
        return str(e)
    return None


@functools.lru_cache(maxsize=8)
def load(source: str | None = None, jit: bool = True) -> Callable[..., Any]:
    """``fused_epoch`` of ``source`` (default: the generated module), bound to BLAS and
    compiled with Numba (``jit=False``: as plain Python). The source is ours — printed by
    ``jlab codegen`` from the kernel specs — never a user's string."""
    text = SOURCE.read_text(encoding="utf-8") if source is None else source
    namespace: dict[str, Any] = {"__name__": "jacobian_lab.kernels._fused_loaded"}
    exec(compile(text, str(SOURCE), "exec"), namespace)  # our generated code
    namespace["_sgemm"], namespace["_dgemm"] = blas()
    if not jit:
        fn: Callable[..., Any] = namespace["fused_epoch"]
        return fn
    numba = _numba()
    # NumPy's error model: x / 0 is inf or NaN, as in the NumPy kernels (Python's would raise)
    namespace["_gemm"] = numba.njit(namespace["_gemm"], error_model="numpy")
    step: Callable[..., Any] = numba.njit(namespace["fused_epoch"], error_model="numpy")
    return step
