"""The thin products of the fused training step: ``gemm`` as plain loops, for a product with a
side of a few units (a layer of 10 units: OpenBLAS runs ``128×784 · 784×10`` at half its
large-shape rate in float32 and a third in float64; these loops take 0.52–0.60 × its time,
measured in ``benchmarks/thin_products.py``).

:data:`THIN_SOURCE` is printed as is into ``kernels/_fused.py`` beside the step; each function
computes what a row-major CBLAS ``?gemm`` with the same ``M, N, K, α, β`` would (``C = α op(A)
op(B) + β C``, ``C`` not read when ``β = 0``), for one pair of transpositions (:data:`THIN`).
They are orchestration, like the ``gemm`` calls they stand in for: the printer
(:meth:`~jacobian_lab.codegen.loops.LoopPrinter.gemm`) prints, for every product of the specs,
a branch on the layer's shape — ``if thin:`` the loop, else BLAS, where the step sets
``thin = min(m, n_out, n_in) <= small`` per layer (the three sides of each of its products) —
with the same arguments, ``α`` and ``β`` in both, printed from the spec. The step is verified
on both branches (:func:`jacobian_lab.training.fused.verify`).

Written for LLVM's vectoriser (:mod:`jacobian_lab.kernels.fused` compiles them with
``fastmath={"reassoc", "contract"}``, only them: the step's element-wise arithmetic stays IEEE):
the innermost loop runs along the contiguous dimension of the long operand, and each loaded
chunk is used for several rows of the other (four rows of ``A`` × two of ``B`` for ``A Bᵀ``;
four terms of the sum per pass for ``A B`` and ``Aᵀ B``, two rows of ``Aᵀ`` at a time).
Accumulators start from ``zero`` of the arrays' dtype: a Python ``0.0`` would make a float32
sum a float64 one and keep it scalar.
"""

from __future__ import annotations

#: (A transposed?, B transposed?) → the loop that stands in for ``gemm``.
THIN = {(False, True): "thin_abt", (False, False): "thin_ab", (True, False): "thin_atb"}

THIN_SOURCE = '''\
def _put(C, i, j, alpha, s, beta):
    if beta == 0:
        C[i, j] = alpha * s
    else:
        C[i, j] = alpha * s + beta * C[i, j]


def thin_abt(M, N, K, alpha, A, B, beta, C):
    """C = α A Bᵀ + β C (M × N, the sum over K): four rows of A with two of B at a time,
    each entry a dot product along the contiguous rows (the last block repeats rows, its
    entries are written once)."""
    acc = np.empty((4, 2), C.dtype)
    zero = acc.dtype.type(0)
    for i in range(0, M, 4):
        r0 = i
        r1 = min(i + 1, M - 1)
        r2 = min(i + 2, M - 1)
        r3 = min(i + 3, M - 1)
        for j in range(0, N, 2):
            q0 = j
            q1 = min(j + 1, N - 1)
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for p in range(K):
                b0 = B[q0, p]
                b1 = B[q1, p]
                a = A[r0, p]
                s00 += a * b0
                s01 += a * b1
                a = A[r1, p]
                s10 += a * b0
                s11 += a * b1
                a = A[r2, p]
                s20 += a * b0
                s21 += a * b1
                a = A[r3, p]
                s30 += a * b0
                s31 += a * b1
            acc[0, 0], acc[0, 1], acc[1, 0], acc[1, 1] = s00, s01, s10, s11
            acc[2, 0], acc[2, 1], acc[3, 0], acc[3, 1] = s20, s21, s30, s31
            for u in range(min(4, M - i)):
                for v in range(min(2, N - j)):
                    _put(C, i + u, j + v, alpha, acc[u, v], beta)


def thin_ab(M, N, K, alpha, A, B, beta, C):
    """C = α A B + β C (M × N, the sum over K): a row of C at a time, four rows of B added
    per pass along the contiguous N."""
    t = np.empty(N, C.dtype)
    zero = t.dtype.type(0)
    for i in range(M):
        t[:] = zero
        for p in range(0, K - 3, 4):
            a0 = A[i, p]
            a1 = A[i, p + 1]
            a2 = A[i, p + 2]
            a3 = A[i, p + 3]
            for j in range(N):
                t[j] += a0 * B[p, j] + a1 * B[p + 1, j] + a2 * B[p + 2, j] + a3 * B[p + 3, j]
        for p in range(K - K % 4, K):
            a0 = A[i, p]
            for j in range(N):
                t[j] += a0 * B[p, j]
        for j in range(N):
            _put(C, i, j, alpha, t[j], beta)


def thin_atb(M, N, K, alpha, A, B, beta, C):
    """C = α Aᵀ B + β C (M × N, the sum over K): two rows of C at a time, four rows of B
    added per pass along the contiguous N; 32 rows of B (the sum's) for every row of C before
    the next 32, so that they are read from the cache nearest (a float64 batch of 784 inputs
    is more than this core's L2)."""
    T = np.empty((M + 1, N), C.dtype)
    T[:, :] = T.dtype.type(0)
    for k0 in range(0, K, 32):
        k1 = min(k0 + 32, K)
        for i in range(0, M, 2):
            i1 = min(i + 1, M - 1)
            t0 = T[i]
            t1 = T[i + 1]
            for p in range(k0, k1 - 3, 4):
                a0 = A[p, i]
                a1 = A[p + 1, i]
                a2 = A[p + 2, i]
                a3 = A[p + 3, i]
                c0 = A[p, i1]
                c1 = A[p + 1, i1]
                c2 = A[p + 2, i1]
                c3 = A[p + 3, i1]
                for j in range(N):
                    b0 = B[p, j]
                    b1 = B[p + 1, j]
                    b2 = B[p + 2, j]
                    b3 = B[p + 3, j]
                    t0[j] += a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3
                    t1[j] += c0 * b0 + c1 * b1 + c2 * b2 + c3 * b3
            for p in range(k1 - (k1 - k0) % 4, k1):
                a0 = A[p, i]
                c0 = A[p, i1]
                for j in range(N):
                    t0[j] += a0 * B[p, j]
                    t1[j] += c0 * B[p, j]
    for i in range(M):
        for j in range(N):
            _put(C, i, j, alpha, T[i, j], beta)
'''

#: The functions of :data:`THIN_SOURCE` the step calls (compiled with fastmath).
HELPERS = ("_put", *THIN.values())

__all__ = ["HELPERS", "THIN", "THIN_SOURCE"]
