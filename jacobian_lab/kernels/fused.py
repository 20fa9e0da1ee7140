"""The fused training step at run time: its BLAS and its Numba compilation.

The step itself is printed by ``jlab codegen`` into :mod:`jacobian_lab.kernels._fused` (plain
Python over NumPy; see :mod:`jacobian_lab.codegen.fused`). :func:`load` compiles it with
``numba.njit`` and hands it, at each call, the ``cblas_?gemm`` of the OpenBLAS NumPy itself
loaded (found through ``ctypes``: the same library, the same ``OPENBLAS_NUM_THREADS``, no copy
of the matrices).

What is cached where: the compiled step of the generated module is cached on disk by Numba
(``cache=True``) in ``$JLAB_CACHE_DIR/numba`` (else ``$XDG_CACHE_HOME/jacobian_lab/numba``,
else ``~/.cache/jacobian_lab/numba``), one entry per dtype and depth, keyed by Numba on the
file's timestamp and size (``jlab codegen`` rewriting it invalidates them) and on the CPU; the
BLAS is an argument, so no address of this process is baked in. The first run compiles (about
3–4 s), later processes load the entry (a fraction of a second). In each process the loaded
step is kept in memory (:func:`load` is memoised). Other sources (mutation testing prints
wrong ones) are compiled without a disk cache, or run as plain Python (``jit=False``: far too
slow to train with, enough to verify on small arrays). Numba is optional (``pip install
'jacobian-lab[fast]'``) and imported only here, only when a step is loaded: ``import
jacobian_lab.kernels`` and ``jlab --help`` stay light.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jacobian_lab.errors import JlabError
from jacobian_lab.files import cache_dir

__all__ = ["SMALL", "FusedUnavailable", "blas", "load", "unavailable_reason"]

SOURCE = Path(__file__).with_name("_fused.py")
#: A product of the step with a side of at most this many runs as the step's own loops, not
#: through BLAS (one thread, this machine: OpenBLAS is slow on thin products; see
#: ``benchmarks/thin_products.py``).
SMALL = 16
#: Numba's fastmath flags for the thin products' loops (not NaN/inf assumptions: only the
#: order of a sum and fused multiply-adds).
THIN_FASTMATH = frozenset({"reassoc", "contract"})
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


def _cached(dispatcher: Any) -> Any:
    """``dispatcher`` with Numba's disk cache in our cache directory (Numba's own choice
    would be ``__pycache__`` beside the package, or a directory shared by all its users).
    Numba's cache classes are internal: if they moved, the step is compiled per process."""
    try:
        # lazy: numba's internals, only when a step is compiled
        from numba.core import caching

        base = caching.UserProvidedCacheLocator
        root = str(cache_dir() / "numba")

        def init(self: Any, py_func: Any, py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

        def from_function(cls: Any, py_func: Any, py_file: str) -> Any:
            return super(base, cls).from_function(py_func, py_file)  # exists, writable

        locator = type("JlabLocator", (base,), {"__init__": init,
                                                "from_function": classmethod(from_function)})
        impl = type("JlabCacheImpl", (caching.CompileResultCacheImpl,),
                    {"_locator_classes": [locator]})
        cache = type("JlabFunctionCache", (caching.FunctionCache,), {"_impl_class": impl})
        dispatcher._cache = cache(dispatcher.py_func)
    except Exception:  # an internal API that changed: no disk cache, still correct
        return dispatcher
    return dispatcher


@functools.lru_cache(maxsize=8)
def _compiled(source: str | None, jit: bool) -> Callable[..., Any]:
    if source is None and jit:
        # lazy: the generated step is only needed when a fused run starts
        from jacobian_lab.kernels import _fused

        namespace = vars(_fused)
    else:
        text = SOURCE.read_text(encoding="utf-8") if source is None else source
        namespace = {"np": np}
        exec(compile(text, "<fused step>", "exec"), namespace)  # our generated code
    fn = namespace["fused_epoch"]
    if not jit:
        return fn
    numba = _numba()
    # The thin products' loops (in the step's globals, where Numba finds them) may reassociate
    # their sums and fuse multiply-adds — that is what lets LLVM vectorise a dot product; the
    # step itself keeps IEEE arithmetic.
    for name in namespace.get("HELPERS", ()):
        if not hasattr(namespace[name], "py_func"):  # not compiled yet
            namespace[name] = numba.njit(error_model="numpy", fastmath=set(THIN_FASTMATH))(
                namespace[name])
    # NumPy's error model: x / 0 is inf or NaN, as in the NumPy kernels (Python's would raise)
    step = numba.njit(error_model="numpy")(fn)
    return _cached(step) if source is None else step


def load(source: str | None = None, jit: bool = True) -> Callable[..., Any]:
    """``fused_epoch`` of ``source`` (default: the generated module) compiled with Numba
    (``jit=False``: as plain Python), with NumPy's BLAS passed in: called with the first 12
    arguments of ``fused_epoch`` (and ``small``: the products with a side of at most that
    many run as loops, the others through BLAS; default :data:`SMALL`). The source is ours —
    printed by ``jlab codegen`` from the kernel specs — never a user's string."""
    fn = _compiled(source, jit)
    sgemm, dgemm = blas()

    def step(xs: Any, *args: Any, small: int = SMALL) -> Any:
        return fn(xs, *args, sgemm if xs.dtype == np.float32 else dgemm, small)

    return step
