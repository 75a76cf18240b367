"""Leaf: the types of the policy language and of the facts schema.

Primitive types, enumerations and record types come from the facts schema (``policies/schema.yaml``);
``Nullable`` marks a fact that may be ``null`` (the event has not happened, there is none).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

PrimName = Literal["int", "decimal", "bool", "text", "date", "yearmonth", "duration", "period", "verdict", "none"]


@attrs.frozen
class Prim:
    name: PrimName

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class EnumT:
    name: str
    members: tuple[str, ...]
    #: how a member reads in Chinese messages (``passed`` → ``合格``); members without one show as is
    labels_zh: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.name

    def label(self, member: str, lang: str) -> str:
        if lang == "zh":
            for key, label in self.labels_zh:
                if key == member:
                    return label
        return member


@attrs.frozen
class Field:
    name: str
    type: Type
    absent_means_none: bool = False
    doc: str = ""
    #: how judging as of a day cuts this date (``dated:`` in the schema): ``"event"`` — a date after
    #: that day reads as none (not done yet); ``"exists"`` — the record holding it does not exist yet;
    #: None — never cut (a calendar fact)
    dated: Literal["event", "exists"] | None = None


@attrs.define(eq=False)
class RecordT:
    """A record type. Compared by identity: the schema builds each one once (they may be recursive)."""

    name: str
    fields: dict[str, Field] = attrs.Factory(dict)
    doc: str = ""

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class ListT:
    elem: Type

    def __str__(self) -> str:
        return f"list[{self.elem}]"


@attrs.frozen
class SetT:
    """The type of a set literal ``{a, b}``."""

    elem: Type

    def __str__(self) -> str:
        return f"set[{self.elem}]"


@attrs.frozen
class Nullable:
    inner: Type

    def __str__(self) -> str:
        return f"{self.inner}?"


@attrs.frozen
class FnT:
    params: tuple[Type, ...]
    result: Type

    def __str__(self) -> str:
        return f"({', '.join(map(str, self.params))}) -> {self.result}"


Type: TypeAlias = Prim | EnumT | RecordT | ListT | SetT | Nullable | FnT

INT = Prim("int")
#: a number that may have a fraction (schooling years: 2.5); compares and equals ints
DECIMAL = Prim("decimal")
BOOL = Prim("bool")
TEXT = Prim("text")
DATE = Prim("date")
YEARMONTH = Prim("yearmonth")
DURATION = Prim("duration")
PERIOD = Prim("period")
VERDICT = Prim("verdict")  # true / false / pending: what `act by due` gives
NONE = Prim("none")  # the type of the literal `none`

PRIMITIVES: dict[str, Prim] = {p.name: p for p in (INT, DECIMAL, BOOL, TEXT, DATE, YEARMONTH)}


def strip(t: Type) -> Type:
    """The type without its nullability."""
    return t.inner if isinstance(t, Nullable) else t


def nullable(t: Type) -> Type:
    return t if isinstance(t, Nullable) or t == NONE else Nullable(t)


def is_nullable(t: Type) -> bool:
    return isinstance(t, Nullable) or t == NONE


def same(a: Type, b: Type) -> bool:
    """Types equal up to nullability (``none`` matches any nullable type)."""
    if a == NONE or b == NONE:
        return True
    return strip(a) == strip(b) or {strip(a), strip(b)} <= NUMBERS


#: the numbers: an int and a decimal compare with each other
NUMBERS = frozenset({INT, DECIMAL})


def is_truth(t: Type) -> bool:
    return t in (BOOL, VERDICT)
