"""Findings as comparable rows, and the differences between two sets of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from .baseline import Row

__all__ = ["diff", "engine_rows"]


def engine_rows(decision: Any) -> list[Row]:
    """``(rule, subject, outcome, due)`` for each finding of an ``engine.Decision``, in its order."""
    return [(f.rule, f.subject, f.outcome.value, f.due) for f in decision.findings]


def _fmt(due: dt.date | None) -> str:
    return "-" if due is None else due.isoformat()


def diff(expected: Sequence[Row], got: Iterable[Row], *, order: bool = True) -> list[str]:
    """What differs between ``expected`` (the engine's) and ``got``, one line per (rule, subject).

    With ``order`` the rows must also come in the same order (when they are otherwise equal).
    """
    got = list(got)
    if list(expected) == got:
        return []
    exp = {(r[0], r[1]): (r[2], r[3]) for r in expected}
    act = {(r[0], r[1]): (r[2], r[3]) for r in got}
    lines: list[str] = []
    for key in sorted(exp.keys() | act.keys()):
        e, a = exp.get(key), act.get(key)
        if e == a:
            continue
        es = "absent" if e is None else f"{e[0]} due {_fmt(e[1])}"
        as_ = "absent" if a is None else f"{a[0]} due {_fmt(a[1])}"
        lines.append(f"{key[0]} {key[1]}: engine {es}, other {as_}")
    if not lines and order:
        lines.append("same findings in a different order")
    if len(expected) != len(got) and not lines:
        lines.append(f"{len(expected)} findings vs {len(got)} (duplicates)")
    return lines
