"""Prose with inline formulas, as the catalog writes it ("∂a/∂w = step(z) xᵀ for a ReLU
neuron"), turned into LaTeX that needs no Unicode support: the formulas set as math
(``$\\frac{}{}$``-free, ``$\\partial a/\\partial w = \\operatorname{step}(z) x^{\\top}$``),
the words escaped, ``*word*`` as ``\\emph{word}``. The output is pure ASCII, so a fragment
compiles in a bare ``article`` with amsmath and amssymb.

A word belongs to a formula when it holds a mathematical character (∂ ⊙ ᵀ σ …), an operator
(= + / ^ |), a call ``f(x)`` or a single-letter name; numbers and function names (cos, diag,
step …) join a formula already open, and a comma inside brackets does not close one.
"""

from __future__ import annotations

import re

# One character of a formula -> its LaTeX (math mode).
MATH_SYMBOLS: dict[str, str] = {
    "∂": r"\partial ", "⊙": r"\odot ", "⊘": r"\oslash ", "∘": r"\circ ", "○": r"\circ ",
    "𝟏": r"\mathbf{1}", "𝟎": r"\mathbf{0}", "≤": r"\le ", "≥": r"\ge ", "×": r"\times ",
    "−": "-", "‖": r"\| ", "Σ": r"\Sigma ", "∑": r"\sum ", "∇": r"\nabla ",
    "→": r"\to ", "←": r"\leftarrow ", "·": r"\cdot ", "⋅": r"\cdot ", "∈": r"\in ",
    "ℝ": r"\mathbb{R}", "≠": r"\ne ", "≈": r"\approx ", "±": r"\pm ", "∞": r"\infty ",
    "…": r"\ldots ", "½": r"\tfrac{1}{2}", "⟨": r"\langle ", "⟩": r"\rangle ",
    "δ": r"\delta ", "Δ": r"\Delta ", "σ": r"\sigma ", "θ": r"\theta ", "α": r"\alpha ",
    "λ": r"\lambda ", "η": r"\eta ", "ε": r"\varepsilon ", "π": r"\pi ",
}
SUPERSCRIPTS = dict(zip("ˡᴸᴬ⁺⁻⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾ʸˣⁿᶻᵀ′", "lLA+-0123456789()yxnz", strict=False))
SUPERSCRIPTS.update({"ᵀ": r"\top ", "′": r"\prime "})
SUBSCRIPTS = dict(zip("ᵢⱼₖₐₘ₀₁₂₃₄₅₆₇₈₉", "ijkam0123456789", strict=True))
# Typography of the words around the formulas.
TEXT_SYMBOLS: dict[str, str] = {
    "—": "---", "–": "--", "…": r"\ldots{}", "“": "``", "”": "''", "’": "'", "‘": "`",
    "✓": r"$\checkmark$", "✗": r"$\times$",
}
_TEXT_ESCAPES = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_MATH_ESCAPES = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "{": r"\{", "}": r"\}",
                 "~": r"\sim ", "\\": r"\backslash "}
FUNCTIONS = frozenset({"cos", "sin", "tan", "exp", "log", "ln", "max", "min", "tanh"})
OPERATORS = frozenset({"diag", "sum", "relu", "step", "softmax", "sigmoid", "softplus", "sign",
                       "ReLU", "mean", "argmax", "gelu", "leaky_relu"})
_MATH_CHARS = frozenset(MATH_SYMBOLS) | frozenset(SUPERSCRIPTS) | frozenset(SUBSCRIPTS)
_OPERATOR_TOKENS = frozenset({"=", "+", "-", "−", "⊙", "×", "·", "⊘", "≤", "≥", "≈", "≠", "→"})
_CALL = re.compile(r"^[(\[]*([A-Za-z]|[A-Za-z_]+)'*\(")
_INDEXED = re.compile(r"[(\[]*d?[A-Za-z][0-9]+'*[)\]]*")  # dZ2, A1, W2: the notes' names
_NUMBER = re.compile(r"^[(\[]*[−-]?[0-9]+(\.[0-9]+)?[)\]]*$")
_TRAILING = ",;:.!?"


def _core(token: str) -> str:
    return token.rstrip(_TRAILING)


def _is_math(token: str) -> bool:
    core = _core(token)
    if not core:
        return False
    if any(c in _MATH_CHARS for c in core) or any(c in "=+^|<>" for c in core):
        return True
    if core in _OPERATOR_TOKENS or _INDEXED.fullmatch(core):
        return True
    if "/" in core and not core.isalpha():
        return True
    m = _CALL.match(core)
    if m and (len(m.group(1)) == 1 or m.group(1) in FUNCTIONS | OPERATORS):
        return True
    if re.fullmatch(r"[(\[]*[0-9]*[A-Za-z]'*[)\]]*", core) and core.strip("()[]") not in (
            "a", "A", "I"):
        return True  # x, W, (b), 2x: a name
    return bool(re.fullmatch(r"[(\[]*[0-9]+[A-Za-z][)\]]*", core))


def _joins(token: str, run_open: bool, nxt: str | None) -> bool:
    """Words that are math only next to math: numbers and number lists ([6, 4]), function
    names, the letters a, A, I; they join an open formula or one that the next word opens."""
    if not run_open and _core(token) != token:
        return False  # "sum:" ends its own clause: a word, not the start of a formula
    core = _core(token).strip("()[]")
    joiner = bool(_NUMBER.match(_core(token))) or core in FUNCTIONS | OPERATORS or core in (
        "a", "A", "I")
    neighbour = run_open or (nxt is not None and (_is_math(nxt) or _core(nxt) in
                                                  _OPERATOR_TOKENS))
    return joiner and neighbour


def math(formula: str) -> str:
    r"""A formula written in Unicode as LaTeX math-mode source (ASCII).

    >>> print(math("δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ σ′(z⁽ˡ⁾)"))
    \delta^{(l)} = (W^{(l+1)\top} \delta^{(l+1)}) \odot \sigma^{\prime}(z^{(l)})
    """
    out: list[str] = []
    i, scripted = 0, ""
    while i < len(formula):
        c = formula[i]
        for table, mark in ((SUPERSCRIPTS, "^"), (SUBSCRIPTS, "_")):
            j = i
            while j < len(formula) and formula[j] in table:
                j += 1
            if j > i:
                body = "".join(table[ch] for ch in formula[i:j]).strip()
                if mark in scripted:
                    out.append("{}")  # x²ᵢᵀ: a second superscript after a subscript
                    scripted = ""
                out.append(f"{mark}{{{body}}}")
                scripted += mark
                i = j
                break
        else:
            scripted = ""
            word = re.match(r"[A-Za-z]{2,}", formula[i:])
            if word and (i == 0 or not formula[i - 1].isalpha()):
                w = word.group(0)
                if w in FUNCTIONS:
                    out.append(f"\\{w} ")
                elif w in OPERATORS:
                    out.append(f"\\operatorname{{{w}}}")
                else:
                    out.append(w)
                i += len(w)
                continue
            if c in "^_" and formula[i + 1:i + 2] == "{":
                # Σ_{i∈B}: a script written in braces, its content a formula
                end = formula.find("}", i)
                if end > 0:
                    out.append(f"{c}{{{math(formula[i + 2:end])}}}")
                    i = end + 1
                    continue
            if c == "^":
                # w^∘(−2): the whole power goes up, not its first character only
                power = re.match(r"\^(∘?\([^)]*\)|∘?[^\s(){}]+)", formula[i:])
                if power:
                    out.append(f"^{{{math(power.group(1))}}}")
                    i += len(power.group(0))
                    continue
            if c == "_":
                sub = re.match(r"_([A-Za-z0-9]+)", formula[i:])
                if sub:
                    out.append(f"_{{\\mathrm{{{sub.group(1)}}}}}")
                    i += len(sub.group(0))
                    continue
            out.append(MATH_SYMBOLS.get(c) or _MATH_ESCAPES.get(c) or _ascii(c))
            i += 1
    return re.sub(r"(\\[A-Za-z]+) (?=[^A-Za-z])", r"\1", "".join(out)).strip()


def _ascii(c: str) -> str:
    return c if ord(c) < 128 else r"\text{?}"


def text(words: str) -> str:
    """Words (no formula) as LaTeX text: escaped, ``*word*`` emphasised, typography in ASCII."""
    out = []
    for part in re.split(r"(\*[^*\s][^*]*\*)", words):
        if part.startswith("*") and part.endswith("*") and len(part) > 2:
            out.append(f"\\emph{{{text(part[1:-1])}}}")
            continue
        for k, c in enumerate(part):
            if c == "-" and part[k + 1:k + 2] == "-":
                out.append("-{}")  # --layout stays two hyphens, not an en dash
            elif c in MATH_SYMBOLS and c not in TEXT_SYMBOLS:
                out.append(f"${math(c)}$")
            else:
                out.append(_TEXT_ESCAPES.get(c) or TEXT_SYMBOLS.get(c) or _ascii(c))
    return "".join(out)


def tex(prose: str) -> str:
    r"""Prose with inline formulas as LaTeX: each formula in ``$…$``, the words as text.

    >>> print(tex("a = relu(wᵀx + b): the *other* factor"))
    $a = \operatorname{relu}(w^{\top}x + b)$: the \emph{other} factor
    """
    tokens = prose.split(" ")
    out: list[str] = []
    run: list[str] = []
    depth = 0

    def close(trailing: str = "") -> None:
        nonlocal depth
        if run:
            formula = " ".join(run)
            while formula and (formula[-1] in _TRAILING or (formula.endswith(")") and
                               formula.count(")") > formula.count("("))):
                trailing, formula = formula[-1] + trailing, formula[:-1]
            lead = ""
            if formula.startswith("(") and formula.count("(") > formula.count(")"):
                lead, formula = "(", formula[1:]
            out.append(f"{lead}${math(formula)}$" + text(trailing))
            run.clear()
        depth = 0

    for k, token in enumerate(tokens):
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if _is_math(token) or _joins(token, bool(run), nxt) or (run and depth > 0 and (
                _joins(token, True, nxt) or len(_core(token).strip("()[]")) <= 1)):
            if not token:
                continue
            depth += sum(token.count(c) for c in "([") - sum(token.count(c) for c in ")]")
            core = _core(token)
            if depth > 0 or core == token:
                run.append(token)
            else:
                run.append(core)
                close(token[len(core):])
            continue
        close()
        out.append(text(token))
    close()
    return " ".join(out)


def ascii_math(source: str) -> str:
    r"""LaTeX math from a printer, with any Unicode left in it (a name such as ``C′ᵢ``)
    written as LaTeX too, so that the source is pure ASCII.

    >>> print(ascii_math("C′_{i} + x"))
    C^{\prime}_{i} + x
    """
    if source.isascii():
        return source
    def one(m: re.Match[str]) -> str:
        out = math(m.group(0))
        # \nabla before C: the command needs its space back
        return out + " " if re.search(r"\\[A-Za-z]+$", out) else out

    return re.sub(r"[^\x00-\x7f]+", one, source)
