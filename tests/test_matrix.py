"""The matrix layer on its own: each Jacobian rule of the table, the VJP of the affine map, the
sums over samples and every simplifier identity — each proven by instantiation at several
sizes against the component layer; and deliberately wrong rules, which the proofs must catch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

import derivations
from jacobian_lab.core.chain import chain_steps
from jacobian_lab.core.derivation import Case, Partial, Result, Transposed
from jacobian_lab.core.proof import prove, prove_result
from jacobian_lab.errors import ShapeError
from jacobian_lab.language.latex import latex
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix import identities
from jacobian_lab.matrix.batch import SUM_OUTER_RULE, SUM_RULE, SUM_SCALAR_RULE, Batch
from jacobian_lab.matrix.explicit import components, explicit
from jacobian_lab.matrix.expr import (
    DIM_K,
    DIM_M,
    DIM_N,
    SampleSum,
    Scalar,
    Softmax,
    T,
    apply,
    diag,
    divide,
    expand_scalar,
    hadamard,
    matrix,
    ones,
    scalar,
    softmax,
    specialise,
    vector,
    vsum,
)
from jacobian_lab.matrix.fastcheck import identical
from jacobian_lab.matrix.identities import IDENTITIES
from jacobian_lab.matrix.rules import RULES, VJP_RULE, defjac, jac, rule_name, vjp
from jacobian_lab.matrix.simplify import assume, simplify

n, k, m = DIM_N, DIM_K, DIM_M
SIZES = [{n: 1, k: 2, m: 1}, {n: 2, k: 3, m: 2}, {n: 3, k: 2, m: 3}]

x, u, v, w, y, z, b = (vector(s) for s in ("x", "u", "v", "w", "y", "z", "b"))
W = matrix("W", k, n)
s1, s2 = scalar("s"), scalar("t")


def assert_proven(
    expr: sp.Basic, of: sp.Basic, wrt: sp.Basic = (), kind: str = "jacobian",
    defs: Sequence[tuple[sp.MatrixSymbol, sp.Basic]] = (),
    sizes: Sequence[dict[sp.Symbol, int]] = SIZES,
) -> None:
    """``expr`` equals the component truth about ``of`` at every size (≥ 3 sizes)."""
    assert len(sizes) >= 3
    r = Result(Partial(of, wrt) if kind != "value" else of, expr, of, wrt, kind,  # type: ignore[arg-type]
               tuple(defs))
    for s in sizes:
        check = prove_result(r, s)
        assert check.ok, (notation(expr), s, check.summary())


def derived(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """∂expr/∂wrt from the table, simplified, proven at SIZES."""
    out = simplify(jac(expr, wrt))
    assert_proven(out, expr, wrt)
    return out


# --------------------------------------------------------------------------- the Jacobian table


def test_affine_map_has_jacobian_W_in_its_input_and_I_in_its_bias():
    affine = W * x + vector("b", k)
    assert notation(derived(affine, x)) == "W"
    assert notation(derived(affine, vector("b", k))) == "I"
    assert rule_name(affine, x) == "affine map: ∂(A u)/∂u = A (the other terms are constant)"


def test_hadamard_product_puts_the_other_factor_on_the_diagonal():
    assert notation(derived(hadamard(u, v), u)) == "diag(v)"
    assert notation(derived(hadamard(u, v), v)) == "diag(u)"
    assert notation(derived(hadamard(u, u), u)) == "2 diag(u)"


def test_hadamard_power_brings_down_the_exponent():
    assert notation(derived(sp.HadamardPower(u, 3), u)) == "3 diag(u^∘(2))"


def test_division_is_a_product_with_the_reciprocal():
    assert notation(derived(divide(u, v), u)) == "diag(v^∘(-1))"
    assert notation(derived(divide(u, v), v)) == "-diag(u ⊙ v^∘(-2))"


@pytest.mark.parametrize(("name", "text"), [
    ("sigmoid", "diag(sigmoid′(x))"), ("tanh", "diag(tanh′(x))"), ("relu", "diag(step(x))"),
    ("exp", "diag(exp(x))"), ("log", "diag(x^∘(-1))"), ("softplus", "diag(sigmoid(x))"),
])
def test_elementwise_function_has_a_diagonal_jacobian(name, text):
    assert notation(derived(apply(name, x), x)) == text


def test_softmax_jacobian_is_diag_s_minus_s_sT():
    out = derived(softmax(z), z)
    assert notation(out.xreplace({softmax(z): vector("s")})) == "diag(s) - s sᵀ"


def test_sum_and_scalar_expansion():
    assert notation(derived(vsum(x), x)) == "𝟏ᵀ"
    assert notation(derived(expand_scalar(s1, n), s1)) == "𝟏"
    assert notation(derived(sp.MatAdd(x, expand_scalar(s1, n)), x)) == "I"


def test_quadratic_form_and_product_rule():
    assert notation(derived(T(x) * x, x)) == "2 xᵀ"
    A = matrix("A", n, n)
    out = derived(T(x) * A * x, x)  # both factors depend on x
    assert notation(out) == "xᵀ Aᵀ + xᵀ A"
    r = sp.MatAdd(W * x, sp.MatMul(-1, vector("y", k)))
    out = derived(sp.MatMul(sp.Rational(1, 2), sp.Transpose(r), r), x)
    assert notation(out) == "(W x - y)ᵀ W"


def test_transpose_of_a_scalar_and_dot_product():
    assert notation(derived(T(T(w) * x), w)) == "xᵀ"
    assert rule_name(T(w) * x, w) == "dot product: ∂(uᵀx)/∂u = xᵀ"


def test_sum_over_samples_is_differentiated_sample_by_sample():
    xi, yi, X, Y = vector("xᵢ"), scalar("yᵢ"), matrix("X", n, m), vector("y", m)
    r = sp.MatAdd(T(w) * xi, sp.MatMul(-1, yi))
    cost = SampleSum(sp.MatMul(T(r), r), ((xi, X), (yi, Y)), m)
    out = simplify(jac(cost, w))
    assert notation(out) == "Σᵢ 2 (wᵀ xᵢ - yᵢ) xᵢᵀ"
    assert rule_name(cost, w) == "sum over samples: ∂(Σᵢ Cᵢ) = Σᵢ ∂Cᵢ"
    assert_proven(out, cost, w)
    with pytest.raises(ShapeError, match="changes from sample to sample"):
        jac(cost, xi)


def test_jacobian_wrt_a_matrix_is_refused_and_names_the_way_out():
    with pytest.raises(ShapeError, match="tensor"):
        jac(W * x, W)
    with pytest.raises(ShapeError, match="linearly"):
        vjp(apply("relu", W * x), W, T(vector("d", k)))


# --------------------------------------------------------------------------- matrix variables


def test_vjp_of_the_affine_map_is_delta_a_transpose():
    d = vector("δ", k)
    assert notation(simplify(vjp(W * x + vector("b", k), W, T(d)))) == "δ xᵀ"
    V = matrix("V", k, k)
    assert notation(simplify(vjp(V * W * x, W, T(d)))) == "Vᵀ δ xᵀ"


def test_chain_to_a_weight_matrix_gives_a_gradient_in_its_shape():
    zz, a, C = vector("z", k), vector("a", k), scalar("C")
    yk = vector("y", k)
    r = sp.MatAdd(a, sp.MatMul(-1, yk))
    links = [(zz, sp.MatAdd(W * x, vector("b", k))), (a, apply("sigmoid", zz)),
             (C, sp.MatMul(sp.Rational(1, 2), sp.Transpose(r), r))]
    steps, grad = chain_steps(links, W)
    assert steps[-1].rule == VJP_RULE
    assert notation(grad) == "((a - y) ⊙ sigmoid′(z)) xᵀ"
    assert_proven(grad, C, W, kind="gradient", defs=links)


# --------------------------------------------------------------------------- batches


def test_sums_over_samples_become_matrix_products():
    xi, di, X, D = vector("xᵢ"), vector("δᵢ", k), matrix("X", n, m), matrix("Δ", k, m)
    ei, E = scalar("eᵢ"), vector("e", m)
    batch = Batch(m, ((xi, X),), ((di, D), (ei, E)))
    outer, rule = batch.sum(SampleSum(di * T(xi), batch.data, m))
    assert (notation(outer), rule) == ("Δ Xᵀ", SUM_OUTER_RULE)
    col, rule = batch.sum(di)
    assert (notation(col), rule) == ("Δ 𝟏", SUM_RULE)
    scal, rule = batch.sum(sp.MatMul(ei, apply("relu", ei, 1)))
    assert (notation(scal), rule) == ("𝟏ᵀ (e ⊙ step(e))", SUM_SCALAR_RULE)
    row, _ = batch.sum(sp.MatMul(sp.Rational(1, 2), ei, T(xi)))
    assert notation(row) == "(1/2) eᵀ Xᵀ"


def test_stacking_broadcasts_parameters_and_maps_columns():
    xi, yi, X, Y = vector("xᵢ"), scalar("yᵢ"), matrix("X", n, m), vector("y", m)
    batch = Batch(m, ((xi, X), (yi, Y)))
    assert notation(batch.stack(sp.MatAdd(T(w) * xi, s1))) == "Xᵀ w + s 𝟏"
    assert notation(batch.stack(apply("relu", sp.MatAdd(W * xi, vector("b", k))))) == (
        "relu(W X + b 𝟏ᵀ)")
    assert notation(batch.stack(softmax(W * xi))) == "softmax(W X)"
    assert notation(batch.stack(yi)) == "y"


def test_the_sum_rules_hold_entry_by_entry():
    xi, yi, X, Y = vector("xᵢ"), scalar("yᵢ"), matrix("X", n, m), vector("y", m)
    zi, Z = scalar("zᵢ"), vector("z", m)
    batch = Batch(m, ((xi, X), (yi, Y)), ((zi, Z),))
    z_def = sp.MatAdd(T(w) * xi, s1)
    body = sp.MatMul(sp.MatAdd(zi, sp.MatMul(-1, yi)), apply("relu", zi, 1), T(xi))
    total = SampleSum(body, batch.data, m)
    flat, _ = batch.sum(total)
    assert notation(flat) == "((z - y) ⊙ step(z))ᵀ Xᵀ"
    defs = [(Z, batch.stack(z_def))]
    r = Result(total, flat, total.xreplace({zi: z_def}), (), "value", tuple(defs))
    sizes = [{n: 2, m: 1}, {n: 2, m: 2}, {n: 3, m: 3}]
    assert all(prove_result(r, s).ok for s in sizes)


def test_sample_sum_reads_sample_i_from_column_i():
    xi, yi, X, Y = vector("xᵢ"), scalar("yᵢ"), matrix("X", n, m), vector("y", m)
    total = SampleSum(sp.MatMul(yi, T(xi)), ((xi, X), (yi, Y)), m)
    out = explicit(total, {n: 2, m: 2})
    X_ = components(X, {n: 2, m: 2})
    y_ = components(Y, {m: 2})
    assert out == y_[0] * X_[:, 0].T + y_[1] * X_[:, 1].T
    with pytest.raises(ValueError, match="cannot hold"):
        SampleSum(xi, ((xi, Y),), m)


# --------------------------------------------------------------------------- simplifier

rz, ry, xs = vector("r"), vector("q"), scalar("ζ")
EXAMPLES: dict[str, Callable[[], MatrixExpr]] = {
    "(Aᵀ)ᵀ = A": lambda: sp.Transpose(sp.Transpose(W)),
    "diag(v)ᵀ = diag(v)": lambda: sp.Transpose(diag(v)),
    "a scalar is its own transpose": lambda: sp.MatMul(sp.Transpose(s1), T(x)),
    "(A B)ᵀ = Bᵀ Aᵀ": lambda: sp.Transpose(W * x),
    "𝟏, I and 𝟎 transposed": lambda: sp.Transpose(ones(n)),
    "log′(u) = u^∘(−1)": lambda: apply("log", x, 1),
    "exp′ = exp": lambda: apply("exp", x, 1),
    "u^∘1 = u": lambda: sp.HadamardPower(x, 1),
    "u^∘p ⊙ u^∘q = u^∘(p+q)": lambda: hadamard(x, sp.HadamardPower(x, -1), v),
    "u ⊙ 𝟏 = u": lambda: sp.HadamardProduct(x, ones(n)),
    "step(z) ⊙ relu(z) = step(z) ⊙ z (relu(z) = z where step(z) ≠ 0)":
        lambda: hadamard(apply("relu", rz, 1), sp.MatAdd(apply("relu", rz), sp.MatMul(-1, ry))),
    "uᵀ + vᵀ = (u + v)ᵀ": lambda: sp.MatAdd(T(x), sp.MatMul(-1, T(v))),
    "𝟏ᵀ diag(x) = xᵀ": lambda: ones(1, n) * diag(x),
    "diag(v) 𝟏 = v": lambda: diag(v) * ones(n),
    "diag(u) diag(v) = diag(u ⊙ v)": lambda: diag(u) * diag(v),
    "uᵀ diag(v) = (u ⊙ v)ᵀ": lambda: T(u) * diag(v),
    "diag(v) u = v ⊙ u": lambda: diag(v) * T(matrix("V", n, n)) * u,
    "(u ⊙ v^∘(−1))ᵀ v = 𝟏ᵀu": lambda: sp.MatMul(T(divide(u, v)), v),
    "uᵀ ⊙ vᵀ = (u ⊙ v)ᵀ": lambda: T(divide(u, v)) * v,  # `*` moves ᵀ into the product
    "a row times a sum: uᵀ(A + B) = uᵀA + uᵀB":
        lambda: T(u) * sp.MatAdd(diag(v), sp.MatMul(-1, v, T(v))),
    "−(u − v) = v − u": lambda: sp.MatMul(-1, sp.MatAdd(s1, sp.MatMul(-1, s2)), T(x)),
    "step(z) relu(z) = step(z) z (relu(z) = z where step(z) ≠ 0)":
        lambda: sp.MatMul(apply("relu", xs, 1), sp.MatAdd(apply("relu", xs), s1), T(x)),
    "scalars first": lambda: sp.MatMul(W, x, s1),
    "diag(v)ᵖ = diag(v^∘p)": lambda: sp.MatPow(diag(v), 2),
    "(c 𝟏𝟏ᵀ) ⊙ X = c X (scalar expansion, element-wise)":
        lambda: hadamard(ones(k, 1) * s1 * ones(1, n), W),
    "diag(s) = s for a scalar s": lambda: sp.MatMul(diag(s1), T(x)),
    "for scalars u ⊙ v = u v": lambda: sp.MatMul(hadamard(s1, s2), T(x)),
    "((Aᵀ)^∘p)ᵀ = A^∘p": lambda: T(sp.HadamardPower(T(W), -1)),
}


def test_every_identity_of_the_simplifier_has_an_example():
    assert {name for _, name, _ in IDENTITIES} == set(EXAMPLES)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_identity_is_used_and_holds_entry_by_entry(name):
    before = EXAMPLES[name]()
    used: list[str] = []
    after = simplify(before, trace=used)
    assert name in used, (notation(before), notation(after), used)
    assert after != before
    assert_proven(after, before, kind="value")


def test_simplifier_reads_like_the_notes():
    assert notation(simplify(ones(1, n) * diag(x))) == "xᵀ"
    assert notation(simplify(diag(v) * ones(n))) == "v"
    assert notation(simplify(T(u) * diag(v))) == "(u ⊙ v)ᵀ"
    assert notation(simplify(sp.MatMul(sp.Identity(1), apply("relu", xs, 1), T(x)))) == (
        "step(ζ) xᵀ")
    assert notation(simplify(sp.MatMul(1 / m, W, x))) == "1/m W x"


def test_only_restricts_the_simplifier_to_the_named_identities():
    e = T(u) * sp.MatAdd(diag(v), sp.MatMul(-1, v, T(v)))
    dist = simplify(e, only={"a row times a sum: uᵀ(A + B) = uᵀA + uᵀB"})
    assert notation(dist) == "uᵀ diag(v) - uᵀ v vᵀ"
    with pytest.raises(KeyError, match="Unknown identities"):
        simplify(e, only={"no such identity"})


def test_a_fact_replaces_a_scalar_product_where_it_stands():
    s = vector("s")
    general = sp.MatAdd(sp.MatMul(ones(1, n), y, T(s)), sp.MatMul(-1, T(y)))
    assert notation(simplify(assume(general, {vsum(y): 1}))) == "(s - y)ᵀ"
    assert assume(sp.MatMul(Scalar(vsum(y)), s), {vsum(y): 2}) == sp.MatMul(2, s)
    with pytest.raises(ShapeError):
        assume(general, {y: 1})


# --------------------------------------------------------------------------- deliberately wrong


def _own_diagonal(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """WRONG: ∂(u ⊙ v)/∂u = diag(u) (the factor's own diagonal, not the other's)."""
    terms = [sp.MatMul(DiagMatrix(a), jac(a, wrt)) for a in expr.args if a.has(wrt)]
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


def _softmax_without_outer(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """WRONG: ∂softmax(z)/∂z = diag(s), the −s sᵀ term dropped."""
    return sp.MatMul(DiagMatrix(expr), jac(expr.arg, wrt))


def _register_wrong(monkeypatch: pytest.MonkeyPatch, node: type, rule: Callable) -> None:
    """Make ``rule`` the table's only rule for ``node``, registered as any rule is."""
    monkeypatch.setitem(RULES, node, [])
    defjac(node, f"WRONG: {rule.__name__}")(rule)


def test_a_wrong_hadamard_rule_makes_the_proof_of_neuron_relu_fail(monkeypatch):
    assert prove(derivations.get("neuron-relu")).ok
    _register_wrong(monkeypatch, sp.HadamardProduct, _own_diagonal)
    d = derivations.get("neuron-relu")
    assert notation(d.results[0].expr) == "step(z) wᵀ"
    proof = prove(d)
    assert not proof.ok and proof.method == "failed"
    check = proof.results[0].checks[1][1]
    assert check.verdict == "incorrect" and check.mismatches and check.counterexample
    # The notes' claim is judged against the components, not against the table: still right.
    assert proof.claims[0].correct


def test_a_dropped_softmax_term_makes_softmax_cross_entropy_fail(monkeypatch):
    _register_wrong(monkeypatch, Softmax, _softmax_without_outer)
    proof = prove(derivations.get("softmax-cross-entropy"), sizes=[{n: 2}])  # one size: fast
    assert not proof.ok
    assert [r.ok for r in proof.results] == [True, False, False, False, False]


def test_a_wrong_identity_is_caught_too(monkeypatch):
    def twice(e: MatrixExpr) -> MatrixExpr | None:
        fs = e.as_coeff_matrices()[1]
        if len(fs) == 2 and isinstance(fs[0], DiagMatrix) and isinstance(fs[1], sp.OneMatrix):
            return sp.MatMul(2, fs[0].args[0])
        return None

    wrong = [(c, nm, twice if nm == "diag(v) 𝟏 = v" else f) for c, nm, f in IDENTITIES]
    monkeypatch.setattr(identities, "IDENTITIES", wrong)
    before = diag(v) * ones(n)
    r = Result(before, simplify(before), before, (), "value")
    check = prove_result(r, {n: 2})
    assert check.verdict == "incorrect"
    assert check.diagnosis == "the claim is the Jacobian times a constant factor 2"


# --------------------------------------------------------------------------- the fast check


def test_fast_check_confirms_only_what_is_right():
    a, c = sp.symbols("a c", real=True)
    relu_expr = explicit(apply("relu", x), {n: 1})[0]
    step = explicit(apply("relu", x, 1), {n: 1})[0]
    truth = sp.Matrix([[(relu_expr - a) * step]])
    assert identical(truth, sp.Matrix([[(relu_expr.args[0] - a) * step]])) == ("symbolic", 0)
    assert identical(truth, sp.Matrix([[(relu_expr - c) * step]])) is None
    e1, e2 = sp.exp(a), sp.exp(c)
    soft = sp.Matrix([[e1 / (e1 + e2) * (1 - e1 / (e1 + e2))]])
    assert identical(soft, sp.Matrix([[sp.exp(a + c) / (e1 + e2) ** 2]])) is not None


# --------------------------------------------------------------------------- names and printing


def test_components_of_names_ending_in_a_digit_take_a_separator():
    sizes = {n: 2, k: 2}
    assert str(list(components(vector("b1", k), sizes))) == "[b1_1, b1_2]"
    assert str(components(matrix("W1", k, n), sizes)[0, 1]) == "W1_12"
    assert str(components(matrix("W", k, n), sizes)[0, 1]) == "W12"


def test_specialise_replaces_the_generic_activation():
    g = hadamard(T(W) * vector("d", k), apply("σ", x, 1))
    assert notation(specialise(g, {"σ": "relu"})) == "(Wᵀ d) ⊙ step(x)"
    with pytest.raises(Exception, match="Unknown element-wise function"):
        specialise(g, {"σ": "sigmoidd"})


def test_new_nodes_print_in_the_notes_notation():
    xi, X = vector("xᵢ"), matrix("X", n, m)
    total = sp.MatMul(1 / m, SampleSum(sp.MatMul(s1, T(xi)), ((xi, X),), m))
    assert notation(total) == "1/m Σᵢ s xᵢᵀ"
    assert latex(total) == r"\frac{1}{m} \sum_{i=1}^{m} s \mathbf{x_{i}}^{\top}"
    C = scalar("C")
    lhs = Case(Transposed(Partial(C, vector("bˡ⁺¹"))), "2-3-2")
    assert notation(lhs) == "(∂C/∂bˡ⁺¹)ᵀ (2-3-2)"
    assert latex(lhs) == (r"\left(\frac{\partial C}{\partial \mathbf{b^{l+1}}}\right)^{\top}"
                          r"\ \text{(2-3-2)}")
    assert notation(sp.MatMul(sp.Mul(-1, Scalar(s1), Scalar(s2)), W)) == "(-s t) W"
    assert latex(matrix("Wˡ⁺¹", k, n)) == "W^{l+1}"
    assert latex(vector("∇ₐC", k)) == r"\boldsymbol{\nabla _{a}C}"


def test_a_ones_matrix_prints_as_the_outer_product_of_ones_vectors_not_as_a_vector():
    # ∂(𝟏ᵀ X 𝟏)/∂X is the m × n matrix of ones: "𝟏" alone would read as a vector
    ones = sp.OneMatrix(n, m)
    assert [notation(e) for e in (ones, T(ones), sp.OneMatrix(n, 1), sp.OneMatrix(1, n))] == \
        ["𝟏𝟏ᵀ", "𝟏𝟏ᵀ", "𝟏", "𝟏ᵀ"]
    X = matrix("X", n, m)
    assert notation(sp.HadamardProduct(ones, X)) == "(𝟏𝟏ᵀ) ⊙ X"  # not 𝟏(𝟏ᵀ ⊙ X)
    assert latex(ones) == r"\mathbf{1}\mathbf{1}^{\top}"
    assert latex(sp.HadamardProduct(ones, X)) == r"\left(\mathbf{1}\mathbf{1}^{\top}\right) \odot X"
