"""The derivation catalog: one small module per named derivation, registered by name.

Each module defines a function decorated with ``@register("name")`` that builds and returns a
:class:`jacobian_lab.core.derivation.Derivation` (without proving it: proofs run on demand).

>>> import derivations
>>> "neuron-relu" in derivations.names()
True
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING

from jacobian_lab.errors import JlabError, UnknownNameError, UserCodeError, did_you_mean

if TYPE_CHECKING:
    from pathlib import Path

    # lazy: listing and registering entries stays free of SymPy; checked only for users' files
    from jacobian_lab.core.derivation import Derivation

Builder = Callable[[], "Derivation"]
_REGISTRY: dict[str, Builder] = {}
_ORDER: list[str] = []
_USER_FILES: dict[str, Path] = {}  # names registered by load_file: the file they came from
_loaded = False


def register(name: str) -> Callable[[Builder], Builder]:
    """Register a derivation builder under ``name`` (kebab-case)."""

    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise JlabError(f"Derivation `{name}` is registered twice")
        _REGISTRY[name] = fn
        if name not in _ORDER:
            _ORDER.append(name)
        return fn

    return deco


# The catalog's reading order (the order of the notes); modules not listed come after.
ORDER = [
    "gradient", "jacobian", "scalar-chain", "jacobian-chain", "no-intermediate", "neuron",
    "layer", "elementwise", "hadamard", "scalar-expansion", "vector-sum", "dot-product",
    "neuron-relu", "mse-neuron", "sigmoid", "tanh", "softmax", "softmax-cross-entropy",
    "gradient-descent", "backprop", "mnist-network", "errata",
]


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def names() -> list[str]:
    """All registered names, in the notes' order."""
    _load_all()
    known = [n for n in ORDER if n in _REGISTRY]
    return known + [n for n in _ORDER if n not in known]


def _load_for(name: str) -> None:
    """Import the module that registers ``name`` — by convention ``neuron-relu`` lives in
    ``neuron_relu.py`` — else every module (a name registered elsewhere, or unknown)."""
    if name in _REGISTRY:
        return
    module = name.replace("-", "_")
    if (module.isidentifier() and not module.startswith("_")
            and importlib.util.find_spec(f"{__name__}.{module}") is not None):
        importlib.import_module(f"{__name__}.{module}")  # 15 ms less than all of them
    if name not in _REGISTRY:
        _load_all()


def get(name: str) -> Derivation:
    """Build the derivation called ``name``; an unknown name lists the known ones."""
    _load_for(name)
    if name not in _REGISTRY:
        hint = did_you_mean(name, _REGISTRY)
        raise UnknownNameError(
            f"Unknown derivation `{name}`{hint}{'' if hint else '.'} Known: {', '.join(names())}"
        )
    builder = _REGISTRY[name]
    origin = _USER_FILES.get(name)
    if origin is None:
        return builder()
    # lazy: listing and registering entries stays free of SymPy; checked only for users' files
    from jacobian_lab.core.derivation import Derivation

    try:
        result = builder()
    except JlabError:
        raise
    except Exception as e:
        raise _user_error(origin, f"its builder `{builder.__name__}` of `{name}` raised", e
                          ) from None
    if not isinstance(result, Derivation):
        raise UserCodeError(
            f"{origin}: the builder `{builder.__name__}` registered as `{name}` returned "
            f"{type(result).__name__} {_short(result)}, not a Derivation; return "
            "Derivation(name, title, summary, ...)")
    return result


def _short(value: object) -> str:
    text = " ".join(repr(value).split())
    return f"({text[:60]}…)" if len(text) > 60 else f"({text})"


def _user_error(origin: Path, what: str, e: BaseException) -> UserCodeError:
    # lazy: traceback (and textwrap) only when a user's file fails; `jlab derive` skips them
    import traceback

    details = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    first = " ".join(str(e).split())[:120]
    return UserCodeError(f"{origin}: {what} {type(e).__name__}: {first} (your file's "
                         "traceback follows)", details)


def load_file(path: str | Path) -> list[str]:
    """Import a user's derivation file; returns the names it registered.

    The file is ordinary Python that the user wrote (like a test file), run with
    ``@derivations.register`` available; it is not an expression typed at the prompt.
    """
    # lazy: pathlib only for a user's file (7 ms `jlab derive NAME` does not need)
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        what = "a directory" if p.is_dir() else "no such file"
        raise UnknownNameError(f"--file {p}: {what}; give a Python file that registers a "
                               "derivation")
    before = set(_REGISTRY)
    spec = importlib.util.spec_from_file_location(f"derivations._user_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise UnknownNameError(f"Cannot import {p} as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except JlabError:
        raise
    except Exception as e:  # the user's own code: keep its traceback, under our line
        raise _user_error(p, "importing it raised", e) from None
    added = [n for n in _REGISTRY if n not in before]
    _USER_FILES.update(dict.fromkeys(added, p))
    if not added:
        raise UnknownNameError(f"{p} registered no derivation (use @derivations.register(...))")
    return added
