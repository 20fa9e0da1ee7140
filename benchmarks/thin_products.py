"""The fused step's products one by one: its thin loops against the BLAS ``?gemm`` call.

For a layer of ``n_in`` inputs and ``n_out`` units on a batch of ``m`` samples, the three
products of the step (as :mod:`jacobian_lab.kernels._fused` makes them): the forward
``Z = A Wᵀ`` (``thin_abt``), the update ``W += α dZᵀ A`` (``thin_atb``) and BP2
``dZ_prev = dZ W`` (``thin_ab``), each timed as the step's compiled loop and as the CBLAS call
it stands in for, taking turns (median of ``repeat`` runs of ``calls`` calls each), with their
largest relative difference. One thread (set before NumPy imports). The threshold
:data:`jacobian_lab.kernels.fused.SMALL` comes from this table: the loops win below it.

    python benchmarks/thin_products.py                        # n_out 10 … 128, both dtypes
    python benchmarks/thin_products.py --n-in 128 --units 10  # the 784-128-10 output layer
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"


def helpers() -> dict[str, Any]:
    """The step's thin loops, compiled as :mod:`jacobian_lab.kernels.fused` compiles them."""
    import numba
    import numpy as np

    from jacobian_lab.codegen.thin import HELPERS, THIN_SOURCE
    from jacobian_lab.kernels.fused import THIN_FASTMATH

    namespace: dict[str, Any] = {"np": np}
    exec(compile(THIN_SOURCE, "<thin>", "exec"), namespace)  # our own loops
    for name in HELPERS:
        namespace[name] = numba.njit(error_model="numpy", fastmath=set(THIN_FASTMATH))(
            namespace[name])
    return namespace


def timed(fns: dict[str, Callable[[], object]], calls: int, repeat: int) -> dict[str, float]:
    """Median seconds per call of each function, taking turns after a warm-up call each."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - t0) / calls)
    return {k: statistics.median(v) for k, v in times.items()}


def products(dtype: str, m: int, n_in: int, n_out: int, calls: int,
             repeat: int) -> list[tuple[str, float, float, float]]:
    """(product, thin µs, gemm µs, relative difference) for one layer shape."""
    import numpy as np

    from jacobian_lab.kernels.fused import blas

    dt = np.dtype(dtype)
    gemm = blas()[0 if dt == np.float32 else 1]
    h = helpers()
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((m, n_in)).astype(dt), rng.standard_normal((n_out, n_in)).astype(dt)
    dZ = rng.standard_normal((m, n_out)).astype(dt)
    Z, Zb = np.empty((m, n_out), dt), np.empty((m, n_out), dt)
    D, Db = np.empty((m, n_in), dt), np.empty((m, n_in), dt)
    W1, W2 = W.copy(), W.copy()
    alpha = -0.1 / m
    cases = {
        "forward Z = A Wᵀ": (
            lambda: h["thin_abt"](m, n_out, n_in, 1.0, A, W, 0.0, Z),
            lambda: gemm(101, 111, 112, m, n_out, n_in, 1.0, A.ctypes, n_in, W.ctypes, n_in,
                         0.0, Zb.ctypes, n_out), Z, Zb),
        "update W += α dZᵀ A": (
            lambda: h["thin_atb"](n_out, n_in, m, alpha, dZ, A, 1.0, W1),
            lambda: gemm(101, 112, 111, n_out, n_in, m, alpha, dZ.ctypes, n_out, A.ctypes,
                         n_in, 1.0, W2.ctypes, n_in), W1, W2),
        "BP2 dZ_prev = dZ W": (
            lambda: h["thin_ab"](m, n_in, n_out, 1.0, dZ, W, 0.0, D),
            lambda: gemm(101, 111, 111, m, n_in, n_out, 1.0, dZ.ctypes, n_out, W.ctypes, n_in,
                         0.0, Db.ctypes, n_in), D, Db),
    }
    out = []
    for name, (thin, blas_call, got, want) in cases.items():
        t = timed({"thin": thin, "gemm": blas_call}, calls, repeat)
        if name.startswith("update"):  # both applied the same number of updates from W
            diff = float(np.abs(W1 - W2).max() / np.abs(W2 - W).max())
        else:
            diff = float(np.abs(got - want).max() / np.abs(want).max())
        out.append((name, t["thin"] * 1e6, t["gemm"] * 1e6, diff))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float32", "float64"), action="append")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--n-in", type=int, default=784)
    parser.add_argument("--units", type=int, action="append",
                        help="n_out (default: 10 16 24 32 48 64 128)")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"m = {args.batch}, n_in = {args.n_in}; median of {args.repeat} runs of "
          f"{args.calls} calls, one thread\n")
    print("| dtype | n_out | product | thin loops µs | BLAS µs | thin ÷ BLAS | rel. diff |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for dtype in args.dtype or ["float32", "float64"]:
        for n_out in args.units or [10, 16, 24, 32, 48, 64, 128]:
            for name, thin, gemm, diff in products(dtype, args.batch, args.n_in, n_out,
                                                   args.calls, args.repeat):
                print(f"| {dtype} | {n_out} | {name} | {thin:.1f} | {gemm:.1f} | "
                      f"{thin / gemm:.2f} | {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
