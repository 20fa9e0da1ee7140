"""Bounds on the numbers a text may build: SymPy evaluates huge exact numbers, perfect-power
searches and nested powers only very slowly, so the parser refuses them up front."""

from __future__ import annotations

import math

import sympy as sp

MAX_RESULT_DIGITS = 310  # |numbers| < 10**310, about the float range: SymPy stays quick


def digits(r: sp.Rational) -> float:
    """About how many decimal digits the numerator or denominator of ``r`` has."""
    return math.log10(max(abs(int(r.p)), int(r.q)))


def too_large(value: sp.Expr) -> bool:
    """Whether a number exceeds 10**MAX_RESULT_DIGITS: an exact one with that many digits, or
    a constant such as exp(exp(10)), which SymPy would compare and print only very slowly."""
    coeff = value.as_coeff_Mul()[0]
    if coeff.is_Rational and digits(coeff) > MAX_RESULT_DIGITS:
        return True
    if value.is_Rational or value.free_symbols or not value.is_number:
        return False
    # An mpf is (sign, mantissa, exponent, bit count): |x| < 2**(exponent + bit count).
    return any(f._mpf_[2] + f._mpf_[3] > MAX_RESULT_DIGITS / math.log10(2)
               for f in value.evalf(3).atoms(sp.Float))


def root_digits(base: sp.Expr, exp: sp.Expr) -> float:
    """About how many digits the integers have that SymPy searches for perfect powers when it
    evaluates ``base**exp``: N**(p/q) leads it to N**min(p, q - 1), exp(log(N)*r) to N**r, and
    an integer power of N**(p/q) to N**(q - 1). Beyond a few hundred digits that search is slow.
    """
    roots_in_base = [p.exp for p in base.atoms(sp.Pow)
                     if p.exp.is_Rational and not p.exp.is_Integer]
    fractions = [r.q - 1 for r in roots_in_base] + [
        min(abs(r.p), r.q - 1) for r in exp.atoms(sp.Rational)]
    numbers = [*base.atoms(sp.Rational), *(r for log in exp.atoms(sp.log)
                                          for r in log.atoms(sp.Rational))]
    return max(fractions, default=0) * sum(map(digits, numbers))


def radical_digits(factors: list[sp.Expr]) -> float:
    """The same for a product, where SymPy merges roots: sqrt(a)*sqrt(b) becomes sqrt(a*b)."""
    return sum(root_digits(f.base, f.exp) for a in factors for f in sp.Mul.make_args(a)
               if f.is_Pow and f.base.is_Rational)


def degree(expr: sp.Basic, memo: dict[sp.Basic, sp.Rational]) -> sp.Rational:
    """The effective exponent of ``expr``: the largest product of the numeric exponents met on
    a path from the root to a variable, so that ``((x^2)^2)^2``, ``x^600*x^600`` and
    ``exp(1000*log(x))`` count as x^8, x^1200 and x^1000 whatever the nesting, while
    ``x^1000*y^1000`` counts 1000 (one variable at a time). Constants count 0.
    """
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        value: sp.Rational = sp.Integer(1)
    elif not expr.free_symbols:
        value = sp.Integer(0)
    elif expr.is_Pow and expr.exp.is_Rational:
        value = abs(expr.exp) * degree(expr.base, memo)
    elif isinstance(expr, sp.exp) and expr.args[0].is_Mul:  # exp(1000*log(x)) is x^1000
        c, rest = expr.args[0].as_coeff_Mul()
        value = abs(c) * degree(rest, memo) if isinstance(rest, sp.log) else \
            degree(expr.args[0], memo)
    else:
        value = max((degree(a, memo) for a in expr.args), default=sp.Integer(0))
    memo[expr] = value
    return value
