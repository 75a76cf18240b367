"""Xueji (学籍): a declarative rules engine for the CCIT student-status and credential e-registration
measures (长春工程学院学生学籍学历电子注册管理办法, 2021).

    >>> import engine
    >>> decision = engine.evaluate(record, on="2024-10-15")
    >>> [f.to_dict() for f in decision.violations]

Pipeline: ``policies/*.yaml`` ─load─▶ rule text with positions ─parse─▶ AST ─check─▶ types
─compile─▶ closures; ``record + on`` ─evaluate─▶ :class:`Decision`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first use (below)
    from engine.diagnostics import (
        CalendarError,
        Diagnostic,
        FactProblem,
        FactsError,
        PolicyError,
        RecordWarning,
        Span,
        XuejiError,
    )
    from engine.run.decision import Decision, Finding, Outcome
    from engine.run.evaluate import bundled_policy, evaluate
    from engine.run.pipeline import load_policy
    from engine.sources.policy import PolicySet

__version__ = "0.1.0"

__all__ = [
    "CalendarError",
    "Decision",
    "Diagnostic",
    "FactProblem",
    "FactsError",
    "Finding",
    "Outcome",
    "PolicyError",
    "PolicySet",
    "RecordWarning",
    "Span",
    "XuejiError",
    "__version__",
    "bundled_policy",
    "evaluate",
    "load_policy",
]

# Cold start (issue 13): ``import engine`` imports nothing else; a public name imports its module on
# first use (PEP 562), so ``python -m engine lint`` never loads the evaluator.
_HOME = {
    **dict.fromkeys(
        (
            "CalendarError",
            "Diagnostic",
            "FactProblem",
            "FactsError",
            "PolicyError",
            "RecordWarning",
            "Span",
            "XuejiError",
        ),
        "engine.diagnostics",
    ),
    **dict.fromkeys(("Decision", "Finding", "Outcome"), "engine.run.decision"),
    **dict.fromkeys(("bundled_policy", "evaluate"), "engine.run.evaluate"),
    "load_policy": "engine.run.pipeline",
    "PolicySet": "engine.sources.policy",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
