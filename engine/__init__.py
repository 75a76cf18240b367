"""Xueji (学籍): a declarative rules engine for the CCIT student-status and credential e-registration
measures (长春工程学院学生学籍学历电子注册管理办法, 2021).

    >>> import engine
    >>> decision = engine.evaluate(record, on="2024-10-15")
    >>> [f.to_dict() for f in decision.violations]

Pipeline: ``policies/*.yaml`` ─load─▶ rule text with positions ─parse─▶ AST ─check─▶ types
─compile─▶ closures; ``record + on`` ─evaluate─▶ :class:`Decision`.
"""

from __future__ import annotations

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
