"""Leaf: the runtime values and primitives both evaluators share (the compiled closures of
:mod:`engine.run.compiler` and the reference interpreter of :mod:`engine.run.interpreter`).

:class:`Absent` (a fact the record lacks, with its path), :data:`PENDING` (the third truth value of
``act by due``), :data:`UNKNOWN_DUE`, :class:`NotBefore` (a due date known only by its lower bound),
the Kleene tables for ``and``/``or``, date ± duration, period overlap, how values are shown in messages,
and the facts a finding read. Imports only leaves.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from engine.diagnostics import CalendarError, Msg
from engine.lang import syntax as s
from engine.lang.calendar import Rounding, WorkCalendar, add_days, add_months, add_years
from engine.lang.types import EnumT, Nullable, Type


class Absent(Exception):
    """A fact the record lacks; ``paths`` names it (``academic_years[1].tuition_paid``)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths


class _Pending:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()


class _UnknownDue:
    """The `{due}` of a message when the due date could not be computed (shown as `?`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN_DUE"


UNKNOWN_DUE: Any = _UnknownDue()


class NotBefore:
    """A due date known only by its lower bound: ``start + N working days`` where the count needs a year
    the working-day calendar does not cover. N working days are at least N calendar days, so the due
    date is on or after ``bound`` (start + N days).

    Only ``act by due`` reads it (on time when the act is on or before the bound; pending while no act
    and ``on`` ≤ bound). Anything else — a comparison, ``=``, arithmetic, ``year_of``,
    ``next_working_day``, a set look-up — raises the calendar's :class:`CalendarError` (the finding is
    ``unknown``, naming the year), as computing the date itself did: it can never pass for a date.
    A message shows it as "… 或之后某日" / "a day on or after …" (it follows "by"/"不晚于" there).
    """

    __slots__ = ("_reason", "_uncovered", "bound")  # no slot may share a name with a date attribute

    def __init__(self, bound: dt.date, reason: Msg, uncovered: int | None) -> None:
        self.bound = bound
        self._reason = reason  # the calendar's message, for when the bound does not settle the outcome
        self._uncovered = uncovered  # the year the calendar lacks

    def unknown(self) -> CalendarError:
        """The calendar's error: what any use the bound does not settle raises."""
        return CalendarError(self._reason, self._uncovered)

    def _refuse(self, *_: object) -> NoReturn:
        raise self.unknown()

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __add__ = __radd__ = __sub__ = __rsub__ = _refuse

    def __getattr__(self, name: str) -> NoReturn:
        """``.year``, ``.toordinal()``… of the unknown date (a dunder lookup stays an AttributeError)."""
        if name.startswith("__"):
            raise AttributeError(name)
        raise self.unknown()

    def __format__(self, spec: str) -> str:
        if spec:  # `yearmonth_of`: a formatted date
            raise self.unknown()
        return str(self)

    def __str__(self) -> str:
        return f"not before {self.bound.isoformat()}"

    def __repr__(self) -> str:
        return f"NotBefore({self.bound.isoformat()}, uncovered={self._uncovered})"

    def shown(self, lang: str) -> str:
        """In a message, where it usually follows "by …" / "不晚于 …": a day the bound begins."""
        year = f"{self._uncovered} 年" if self._uncovered else ""
        if lang == "zh":
            return f"{self.bound.isoformat()} 或之后某日（{year}工作日历尚未公布）"
        year_en = f"{self._uncovered} " if self._uncovered else ""
        return f"a day on or after {self.bound.isoformat()} (the {year_en}working-day calendar is not known yet)"


def act_by(due: Any, act: Any, on: dt.date) -> Any:
    """``act by due`` judged as of ``on``, for the closures and the generated code alike (both read the
    due date first, so that a missing due date is named before a missing act): an act dated after
    ``on`` is not done yet; pending while not done and ``on`` ≤ due; a due date known only by its bound
    (:class:`NotBefore`) decides where the bound settles it, else raises the calendar's error."""
    if due.__class__ is NotBefore:  # known only as `on or after due.bound`
        if act is None or act > on:
            if on <= due.bound:
                return PENDING
        elif act <= due.bound:
            return True
        raise due.unknown()  # the bound does not settle it: unknown, naming the year
    if act is None or act > on:  # not done as of `on` (the record shows a later act)
        return PENDING if on <= due else False
    return bool(act <= due)


def memo_key(values: Iterable[Any]) -> tuple[Any, ...]:
    """The arguments of a pure function call as a memo key: a record (or a due date known by its bound)
    by identity — it is the same element of the same record."""
    return tuple(id(v) if isinstance(v, dict | list | NotBefore) else v for v in values)


def value_by_day(values: Sequence[tuple[dt.date, Any]]) -> Callable[[dt.date], Any]:
    """A dated parameter's value on a day: the latest dated on or before it, else the first. ``values``
    are ``(date, literal)`` pairs sorted by date (``Parameter.values``)."""
    since = [d for d, _ in values]
    literals = [literal_value(v) for _, v in values]

    def on_day(day: dt.date) -> Any:
        return literals[max(bisect.bisect_right(since, day) - 1, 0)]

    return on_day


def kleene_and(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    if a is PENDING or b is PENDING:
        return PENDING
    return True


def kleene_or(a: Any, b: Any) -> Any:
    if a is True or b is True:
        return True
    if a is PENDING or b is PENDING:
        return PENDING
    return False


DateAdder = Callable[[dt.date, WorkCalendar], "dt.date | NotBefore"]


def duration_adder(n: int, unit: str, rounding: str | None) -> DateAdder:
    """``date + n units`` as a function of the date (and the working-day calendar). Months and years
    clamp to the month's last day unless the rule said ``rounded up``; ``n > 0`` working days that need
    a year the calendar does not cover give a :class:`NotBefore`."""
    if unit == "days":
        return lambda d, cal: add_days(d, n)
    if unit == "weeks":
        return lambda d, cal: add_days(d, 7 * n)
    if unit == "working_days":
        if n > 0:
            return lambda d, cal: _add_working_days(d, n, cal)
        return lambda d, cal: cal.add_working_days(d, n)
    r = Rounding.UP if rounding == "up" else Rounding.CLAMP
    by_calendar = add_months if unit == "months" else add_years
    return lambda d, cal: by_calendar(d, n, r)


def _add_working_days(d: dt.date, n: int, cal: WorkCalendar) -> dt.date | NotBefore:
    """``d + n`` working days (``n > 0``); a :class:`NotBefore` ``d + n`` days when the count needs a year
    the calendar does not cover."""
    try:
        return cal.add_working_days(d, n)
    except CalendarError as ex:
        if ex.year is None or isinstance(d, NotBefore):
            raise  # out of the representable dates, or a start that is itself not known
        try:
            bound = add_days(d, n)
        except CalendarError:
            raise ex from None
        return NotBefore(bound, ex.message, ex.year)


def add_duration(d: dt.date, dur: tuple[int, str, str | None], cal: WorkCalendar, sign: int = 1) -> dt.date | NotBefore:
    amount, unit, rounding = dur
    return duration_adder(sign * amount, unit, rounding)(d, cal)


def literal_value(e: s.Expr) -> Any:
    """The runtime value of a literal (a dated parameter's value): durations as ``(n, unit, rounding)``."""
    match e:
        case s.Duration(amount=n, unit=unit, rounding=rounding):
            return (n, unit, rounding)
        case s.IntLit(value=v) | s.StrLit(value=v) | s.DateLit(value=v) | s.BoolLit(value=v):
            return v
    raise AssertionError(f"not a literal: {e!r}")


def start_of_year(year: int) -> dt.date:
    """1 January of ``year`` (``start_of_year(admission.year)``)."""
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise CalendarError(Msg(f"年份 {year} 超出日期范围", f"the year {year} is out of the range of dates"))
    return dt.date(year, 1, 1)


def due_before(due: dt.date | NotBefore, since: dt.date) -> bool:
    """Whether an obligation due on ``due`` fell due before ``since`` (Art. 22: it is then not applicable).
    A due date known only by its bound is not, when the bound is on or after ``since``; a bound before
    ``since`` does not settle it (raises the calendar's error)."""
    if isinstance(due, NotBefore):
        if due.bound >= since:
            return False
        raise due.unknown()
    return due < since


def overlaps(p: tuple[dt.date, dt.date | None], q: tuple[dt.date, dt.date | None]) -> bool:
    """Half-open periods ``[from, to)``; ``to = none`` never ends. Back-to-back periods do not overlap."""
    (a1, b1), (a2, b2) = p, q
    return (b2 is None or a1 < b2) and (b1 is None or a2 < b1)


def shown(value: Any, t: Type, lang: str) -> Any:
    """A message placeholder's value as a reader sees it: an enum member by its label (zh)."""
    base = t.inner if isinstance(t, Nullable) else t
    if isinstance(base, EnumT) and isinstance(value, str):
        return base.label(value, lang)
    return value


def format_value(v: Any, lang: str) -> str:
    if v is None:
        return "无" if lang == "zh" else "none"
    if v is True:
        return "是" if lang == "zh" else "yes"
    if v is False:
        return "否" if lang == "zh" else "no"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, NotBefore):
        return v.shown(lang)
    if isinstance(v, list | tuple):
        return ", ".join(format_value(x, lang) for x in v)
    return str(v)


@functools.lru_cache(maxsize=4096)
def _read_plan(reads: tuple[tuple[str, ...], ...]) -> tuple[tuple[bool, bool, tuple[str, ...], str], ...]:
    """Each static read path once: (from the subject?, through a list?, its segments, its label after
    the subject)."""
    plan = []
    for path in reads:
        from_subject = path[0] == "$subject"
        if path[0].startswith("$") and not from_subject:
            continue  # a function parameter: read through the call's arguments instead
        rest = path[1:] if from_subject else path
        label = ""
        for seg in rest:
            label += "[*]" if seg == "*" else (f".{seg}" if label or from_subject else seg)
        plan.append((from_subject, "*" in rest, rest, label))
    return tuple(plan)


def _through_lists(value: Any, rest: tuple[str, ...]) -> Any:
    """Follow a path with `*` segments (every element of a list); _NOWHERE if it leads nowhere."""
    for seg in rest:
        if seg == "*":
            if not isinstance(value, list):
                return _NOWHERE
        elif isinstance(value, list):
            value = [v.get(seg) if isinstance(v, dict) else None for v in value]
        elif isinstance(value, dict) and seg in value:
            value = value[seg]
        else:
            return _NOWHERE
    return value


_NOWHERE = object()


def resolve_reads(
    reads: tuple[tuple[str, ...], ...], root: dict[str, Any], subject: str, element: Any
) -> dict[str, Any]:
    """Concrete facts for the static read paths of a rule (``*`` = every element of a list); a path
    that leads to a record (not a fact) or nowhere is left out."""
    out: dict[str, Any] = {}
    for from_subject, lists, rest, label in _read_plan(reads):
        if from_subject:
            if element is None:
                continue
            value, label = element, subject + label
        else:
            value = root
        if lists:
            value = _through_lists(value, rest)
            if value is _NOWHERE:
                continue
        else:
            try:
                for seg in rest:
                    value = value[seg]
            except (KeyError, TypeError):
                continue
        if type(value) is dict or (type(value) is list and value and type(value[0]) is dict):
            continue  # a record or a list of records, not a fact
        out[label] = value
    return dict(sorted(out.items()))
