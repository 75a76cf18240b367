"""Leaf: the abstract syntax tree of the policy language.

Frozen attrs nodes. ``pos`` is the ``(start, end)`` character offset of the node inside the rule text
it came from; it is excluded from equality so that ``parse(fmt(x)) == parse(x)`` holds. The loader
maps offsets to file line and column (see :mod:`engine.sources.yamlsource`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Literal, TypeAlias

import attrs

Pos: TypeAlias = tuple[int, int]
NOPOS: Pos = (0, 0)


def _pos() -> Pos:
    return attrs.field(default=NOPOS, eq=False, repr=False)


# ---------------------------------------------------------------------------------------------- expressions


@attrs.frozen
class Name:
    id: str
    pos: Pos = _pos()


@attrs.frozen
class Attr:
    obj: Expr
    name: str
    pos: Pos = _pos()
    name_pos: Pos = _pos()


@attrs.frozen
class IntLit:
    value: int
    pos: Pos = _pos()


@attrs.frozen
class StrLit:
    value: str
    pos: Pos = _pos()


@attrs.frozen
class DateLit:
    value: dt.date
    pos: Pos = _pos()


@attrs.frozen
class BoolLit:
    value: bool
    pos: Pos = _pos()


@attrs.frozen
class NoneLit:
    pos: Pos = _pos()


Unit = Literal["days", "weeks", "months", "years", "working_days"]
Rounding = Literal["down", "up"]


@attrs.frozen
class Duration:
    amount: int
    unit: Unit
    rounding: Rounding | None = None  # only meaningful for months/years; None = the default (clamp)
    pos: Pos = _pos()


@attrs.frozen
class SetLit:
    items: tuple[Expr, ...]
    pos: Pos = _pos()


@attrs.frozen
class Neg:
    operand: Expr
    pos: Pos = _pos()


@attrs.frozen
class Not:
    operand: Expr
    pos: Pos = _pos()


BinOp = Literal["+", "-", "*", "=", "!=", "<", "<=", ">", ">=", "and", "or"]


@attrs.frozen
class Binary:
    op: BinOp
    left: Expr
    right: Expr
    pos: Pos = _pos()
    op_pos: Pos = _pos()


@attrs.frozen
class Member:
    value: Expr
    collection: Expr
    negated: bool = False
    pos: Pos = _pos()


@attrs.frozen
class Exists:
    value: Expr
    pos: Pos = _pos()


@attrs.frozen
class Missing:
    value: Expr
    pos: Pos = _pos()


@attrs.frozen
class By:
    """``act by due``: the act (a nullable date) happened on or before ``due``; pending while not yet due."""

    act: Expr
    due: Expr
    pos: Pos = _pos()


@attrs.frozen
class Overlaps:
    left: Expr
    right: Expr
    pos: Pos = _pos()


@attrs.frozen
class If:
    cond: Expr
    then: Expr
    orelse: Expr
    pos: Pos = _pos()


@attrs.frozen
class Call:
    fn: str
    args: tuple[Expr, ...]
    pos: Pos = _pos()


AggKind = Literal["count", "any", "all", "min", "max"]


@attrs.frozen
class Aggregate:
    kind: AggKind
    var: str
    collection: Expr
    where: Expr | None = None
    body: Expr | None = None
    pos: Pos = _pos()
    var_pos: Pos = _pos()


Expr: TypeAlias = (
    Name
    | Attr
    | IntLit
    | StrLit
    | DateLit
    | BoolLit
    | NoneLit
    | Duration
    | SetLit
    | Neg
    | Not
    | Binary
    | Member
    | Exists
    | Missing
    | By
    | Overlaps
    | If
    | Call
    | Aggregate
)


# ----------------------------------------------------------------------------------------------- statements


@attrs.frozen
class Param:
    name: str
    type_name: str
    pos: Pos = _pos()
    type_pos: Pos = _pos()


@attrs.frozen
class For:
    var: str
    collection: Expr
    pos: Pos = _pos()
    var_pos: Pos = _pos()


@attrs.frozen
class Let:
    name: str
    expr: Expr
    params: tuple[Param, ...] | None = None  # None: a value; a tuple: a function
    pos: Pos = _pos()
    name_pos: Pos = _pos()


@attrs.frozen
class Deadline:
    name: str
    expr: Expr
    pos: Pos = _pos()
    name_pos: Pos = _pos()


@attrs.frozen
class Arises:
    """``arises <date>``: the day the rule's obligation arises. The version of the measures in force on
    that day judges the finding, and dated parameters take their value of that day."""

    expr: Expr
    pos: Pos = _pos()


@attrs.frozen
class Clause:
    kind: Literal["when", "unless"]
    expr: Expr
    pos: Pos = _pos()


@attrs.frozen
class Verdict:
    kind: Literal["require", "forbid", "invariant"]
    cond: Expr
    clauses: tuple[Clause, ...] = ()
    pos: Pos = _pos()


Statement: TypeAlias = For | Let | Deadline | Arises | Verdict


@attrs.frozen
class Program:
    statements: tuple[Statement, ...]
    pos: Pos = _pos()

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return tuple(s for s in self.statements if isinstance(s, Verdict))

    @property
    def loop(self) -> For | None:
        return next((s for s in self.statements if isinstance(s, For)), None)

    @property
    def arises(self) -> Arises | None:
        """The rule's `arises` statement: the day its obligation arises (None: not declared)."""
        return next((s for s in self.statements if isinstance(s, Arises)), None)

    @property
    def definitions(self) -> tuple[Let | Deadline, ...]:
        return tuple(s for s in self.statements if isinstance(s, Let | Deadline))

    @property
    def due_by(self) -> By | None:
        """The `by` whose due date is the rule's: the first in its condition (pre-order)."""
        if not self.verdicts:
            return None
        return next((n for n in walk(self.verdicts[0].cond) if isinstance(n, By)), None)

    @property
    def due_deadline(self) -> Deadline | None:
        """Without a `by`, the rule's one `deadline` statement gives its due date (two give none)."""
        deadlines = [st for st in self.statements if isinstance(st, Deadline)]
        return deadlines[0] if self.due_by is None and len(deadlines) == 1 else None


def walk(node: Expr) -> Iterator[Expr]:
    """The node and every node below it, pre-order."""
    yield node
    for c in children(node):
        yield from walk(c)


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node`` (for walks that do not care about node kinds)."""
    match node:
        case Attr(obj=o):
            return (o,)
        case SetLit(items=items):
            return items
        case Neg(operand=o) | Not(operand=o) | Exists(value=o) | Missing(value=o):
            return (o,)
        case Binary(left=a, right=b) | Overlaps(left=a, right=b) | By(act=a, due=b):
            return (a, b)
        case Member(value=a, collection=b):
            return (a, b)
        case If(cond=c, then=t, orelse=e):
            return (c, t, e)
        case Call(args=args):
            return args
        case Aggregate(collection=c, where=w, body=b):
            return tuple(x for x in (c, w, b) if x is not None)
        case _:
            return ()
