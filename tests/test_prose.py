"""Prose with inline formulas as LaTeX: formulas in $…$, words escaped, pure ASCII."""

from __future__ import annotations

from jacobian_lab.language.prose import ascii_math, math, tex, text


def test_formula_is_set_as_math_and_words_as_text():
    assert tex("power rule: d(x²)/dx = 2x") == "power rule: $d(x^{2})/dx = 2x$"
    assert tex("∂(A b)/∂b = Aᵀ (numerator layout)") == (
        "$\\partial(A b)/\\partial b = A^{\\top}$ (numerator layout)")


def test_comma_inside_brackets_keeps_the_formula_open():
    assert tex("f(x, y) = x² + cos y: ∇f = [2x, −sin y], a row") == (
        "$f(x, y) = x^{2} + \\cos y$: $\\nabla f = [2x, -\\sin y]$, a row")


def test_article_a_stays_a_word_and_a_name_joins_its_formula():
    assert tex("a is a scalar") == "a is a scalar"
    assert tex("a = [1, 0]ᵀ, b") == "$a = [1, 0]^{\\top}$, $b$"


def test_unbalanced_brackets_stay_outside_the_formula():
    assert tex("(unless b = 0).") == "(unless $b = 0$)."
    assert tex("itself (k × n: one row)") == "itself ($k \\times n$: one row)"


def test_layer_indices_and_primes_make_one_superscript():
    assert math("W⁽ˡ⁺¹⁾ᵀ") == "W^{(l+1)\\top}"
    assert math("σ′(z)") == "\\sigma^{\\prime}(z)"
    assert math("x²ᵢᵀ") == "x^{2}_{i}{}^{\\top}"  # never a double superscript


def test_powers_and_braced_scripts_go_up_whole():
    assert math("w^∘(−2)") == "w^{\\circ(-2)}"
    assert math("Σ_{i∈B} ∇Cᵢ") == "\\Sigma_{i\\in B} \\nabla C_{i}"


def test_markdown_emphasis_and_typography_in_text():
    assert text("the *other* factor — ½") == "the \\emph{other} factor --- $\\tfrac{1}{2}$"
    assert text("50% of a_b & c") == "50\\% of a\\_b \\& c"


def test_printer_output_with_unicode_becomes_ascii():
    assert ascii_math("\\mathbf{∇C}") == "\\mathbf{\\nabla C}"
    assert ascii_math("C′_{i}") == "C^{\\prime}_{i}"


def test_function_name_ending_its_clause_stays_a_word():
    assert tex("sum: sum(u) = 𝟏ᵀu") == "sum: $\\operatorname{sum}(u) = \\mathbf{1}^{\\top}u$"
    assert tex("derivative of cos: d(cos y)/dy") == "derivative of cos: $d(\\cos y)/dy$"
