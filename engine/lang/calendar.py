"""Leaf: date arithmetic and the Chinese statutory working-day calendar.

Two halves:

* Calendar arithmetic — :func:`add_days`, :func:`add_months`, :func:`add_years` and
  :func:`month_would_clamp`. Adding months or years to a day that does not exist in the target month
  (31 January + 1 month) follows a :class:`Rounding` rule: ``CLAMP`` (the default) takes the target
  month's last day, ``UP`` the first day of the month after it. Any result outside
  ``date.min .. date.max`` raises :class:`~engine.diagnostics.CalendarError`, never ``OverflowError``.

* :class:`WorkCalendar` — working days (工作日) as the State Council sets them each year: Monday to
  Friday unless a public holiday, plus the weekend make-up working days (调休). The data comes from the
  ``chinese_calendar`` package and from an *extension* (``policies/calendar.yaml``) for years the package
  does not cover yet; an extension year replaces the package's data for that year. A date in a year
  neither covers raises :class:`~engine.diagnostics.CalendarError` naming the year and the fix.

This module imports nothing from the engine except :mod:`engine.diagnostics`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import attrs
import chinese_calendar as _cc

from engine.diagnostics import CalendarError, Msg, excerpt

__all__ = [
    "CalendarDataError",
    "Rounding",
    "WorkCalendar",
    "YearDays",
    "add_days",
    "add_months",
    "add_years",
    "days_in_month",
    "month_would_clamp",
]

EXTENSION_FILE: Final = "policies/calendar.yaml"

_MIN_ORD: Final = date.min.toordinal()
_MAX_ORD: Final = date.max.toordinal()
_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_WEEKDAY_ZH: Final = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_WEEKDAY_EN: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------------------------------
# Calendar arithmetic
# --------------------------------------------------------------------------------------------------


class Rounding(StrEnum):
    """What adding months/years does when the day does not exist in the target month (a ``str`` enum)."""

    CLAMP = "clamp"
    """Take the target month's last day: 2023-01-31 + 1 month = 2023-02-28."""
    UP = "up"
    """Take the first day of the month after the target: 2023-01-31 + 1 month = 2023-03-01."""


def _plain(d: date) -> date:
    """``d`` as a plain :class:`date` (a ``datetime`` loses its time; it would not compare equal)."""
    return d.date() if isinstance(d, datetime) else d


def _out_of_range(d: date, n: int, unit_zh: str, unit_en: str) -> CalendarError:
    sign = "+" if n >= 0 else "-"
    return CalendarError(
        Msg(
            f"日期超出可表示范围（{date.min.isoformat()} 至 {date.max.isoformat()}）："
            f"{d.isoformat()} {sign} {abs(n)} {unit_zh}",
            f"date out of range ({date.min.isoformat()}..{date.max.isoformat()}): "
            f"{d.isoformat()} {sign} {abs(n)} {unit_en}{'' if abs(n) == 1 else 's'}",
        )
    )


def days_in_month(year: int, month: int) -> int:
    """Number of days of ``month`` (1–12) in ``year`` (proleptic Gregorian)."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


def add_days(d: date, n: int) -> date:
    """``d`` plus ``n`` calendar days (``n`` may be negative)."""
    d = _plain(d)
    o = d.toordinal() + n
    if not _MIN_ORD <= o <= _MAX_ORD:
        raise _out_of_range(d, n, "天", "day")
    return date.fromordinal(o)


def _target_month(d: date, n: int, unit_zh: str, unit_en: str, shown: int) -> tuple[int, int]:
    """(year, month) ``n`` months after ``d``'s month; out-of-range years raise :class:`CalendarError`."""
    year, m0 = divmod(d.year * 12 + d.month - 1 + n, 12)
    if not date.min.year <= year <= date.max.year:
        raise _out_of_range(d, shown, unit_zh, unit_en)
    return year, m0 + 1


def _add_months(d: date, n: int, rounding: Rounding, unit_zh: str, unit_en: str, shown: int) -> date:
    d = _plain(d)
    year, month = _target_month(d, n, unit_zh, unit_en, shown)
    last = days_in_month(year, month)
    if d.day <= last:
        return date(year, month, d.day)
    if Rounding(rounding) is Rounding.CLAMP:
        return date(year, month, last)
    # UP: the first day of the following month. Only months shorter than 31 days get here, so the
    # following month is never past December 9999.
    return date(year + month // 12, month % 12 + 1, 1)


def add_months(d: date, n: int, rounding: Rounding = Rounding.CLAMP) -> date:
    """``d`` plus ``n`` calendar months; a day missing from the target month follows ``rounding``.

    ``2024-01-31 + 1`` is ``2024-02-29`` (CLAMP) or ``2024-03-01`` (UP).
    """
    return _add_months(d, n, rounding, "个月", "month", n)


def add_years(d: date, n: int, rounding: Rounding = Rounding.CLAMP) -> date:
    """``d`` plus ``n`` years, i.e. ``12 * n`` months: ``2024-02-29 + 1`` is ``2025-02-28`` (CLAMP)."""
    return _add_months(d, 12 * n, rounding, "年", "year", n)


def month_would_clamp(d: date, n_months: int) -> bool:
    """Whether ``d``'s day does not exist ``n_months`` later, so that :class:`Rounding` applies."""
    d = _plain(d)
    year, month = _target_month(d, n_months, "个月", "month", n_months)
    return d.day > days_in_month(year, month)


# --------------------------------------------------------------------------------------------------
# Working days
# --------------------------------------------------------------------------------------------------


@attrs.frozen
class YearDays:
    """The State Council's arrangement for one year, as the extension file lists it.

    ``holidays`` are the days off (放假日, weekend days inside a holiday period may be listed too);
    ``workdays`` the weekend days that become working days (调休上班日). ``source`` names the notice.
    """

    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str


class CalendarDataError(ValueError):
    """Malformed calendar extension data; ``where`` is the path of the bad item (``years.2027.holidays[3]``).

    ``message`` holds the bilingual text; ``str()`` is the English one.
    """

    def __init__(self, where: str, message: Msg) -> None:
        self.where = where
        self.message = message
        super().__init__(f"calendar extension: {where}: {message.en}")


def _weekday_msg(d: date) -> Msg:
    wd = d.weekday()
    return Msg(
        f"{d.isoformat()} 是{_WEEKDAY_ZH[wd]}，本来就是工作日；workdays 只列出调休上班的周六、周日",
        f"{d.isoformat()} is a {_WEEKDAY_EN[wd]}, already a working day; workdays lists only the "
        "Saturdays and Sundays that become working days (调休)",
    )


def _check_year(year: object, days: object) -> None:
    """Whole-entry checks shared by the constructor and :meth:`WorkCalendar.from_mapping`."""
    if not isinstance(year, int) or isinstance(year, bool) or not 1 <= year <= 9999:
        raise CalendarDataError(
            f"years.{excerpt(year)}",
            Msg(
                f"年份必须是 1 至 9999 的整数，而不是 {excerpt(year)}",
                f"a year must be an integer 1..9999, not {excerpt(year)}",
            ),
        )
    where = f"years.{year}"
    if not isinstance(days, YearDays):
        raise CalendarDataError(
            where,
            Msg(
                f"应为 YearDays，而不是 {type(days).__name__}",
                f"expected YearDays, got {type(days).__name__}",
            ),
        )
    if not isinstance(days.source, str) or not days.source.strip():
        raise CalendarDataError(
            f"{where}.source",
            Msg(
                "必须写明数据来源（国务院办公厅通知的标题）",
                "must name the source (the State Council notice)",
            ),
        )
    if not days.holidays:
        raise CalendarDataError(
            f"{where}.holidays",
            Msg("未列出任何节假日；每年都有法定节假日", "lists no holidays; every year has statutory holidays"),
        )
    for key, items in (("holidays", days.holidays), ("workdays", days.workdays)):
        for d in sorted(items, key=str):
            if not isinstance(d, date) or isinstance(d, datetime):
                raise CalendarDataError(
                    f"{where}.{key}", Msg(f"{excerpt(d)} 不是日期", f"{excerpt(d)} is not a date (write YYYY-MM-DD)")
                )
            if d.year != year:
                raise CalendarDataError(
                    f"{where}.{key}",
                    Msg(
                        f"{d.isoformat()} 属于 {d.year} 年，不属于 {year} 年",
                        f"{d.isoformat()} is not in {year}",
                    ),
                )
    both = days.holidays & days.workdays
    if both:
        d = min(both)
        raise CalendarDataError(
            where,
            Msg(
                f"{d.isoformat()} 同时列在 holidays 与 workdays 中",
                f"{d.isoformat()} is listed both as a holiday and as a workday",
            ),
        )
    for d in sorted(days.workdays):
        if d.weekday() < 5:
            raise CalendarDataError(f"{where}.workdays", _weekday_msg(d))


def _parse_day(item: object, where: str, year: int) -> date:
    if isinstance(item, date) and not isinstance(item, datetime):
        d = item
    elif isinstance(item, str) and _ISO_DATE.fullmatch(item.strip()):
        try:
            d = date.fromisoformat(item.strip())
        except ValueError:
            raise CalendarDataError(
                where, Msg(f"{excerpt(item)} 不是有效日期", f"{excerpt(item)} is not a valid date")
            ) from None
    else:
        raise CalendarDataError(
            where,
            Msg(f"{excerpt(item)} 不是日期（请写成 YYYY-MM-DD）", f"{excerpt(item)} is not a date (write YYYY-MM-DD)"),
        )
    if d.year != year:
        raise CalendarDataError(
            where,
            Msg(
                f"{d.isoformat()} 属于 {d.year} 年，不属于 {year} 年",
                f"{d.isoformat()} is in {d.year}, not in {year}",
            ),
        )
    return d


def _parse_days(raw: object, where: str, year: int) -> dict[date, int]:
    """The dates of one list, each mapped to its index (for messages)."""
    if raw is None:
        return {}
    if not isinstance(raw, list | tuple):
        raise CalendarDataError(
            where,
            Msg(
                f"应为日期列表，而不是 {type(raw).__name__}",
                f"expected a list of dates, got {type(raw).__name__}",
            ),
        )
    seen: dict[date, int] = {}
    for i, item in enumerate(raw):
        d = _parse_day(item, f"{where}[{i}]", year)
        if d in seen:
            raise CalendarDataError(
                f"{where}[{i}]",
                Msg(
                    f"{d.isoformat()} 重复列出（已见于第 {seen[d]} 项）",
                    f"{d.isoformat()} is listed twice (also at [{seen[d]}])",
                ),
            )
        seen[d] = i
    return seen


_ENTRY_KEYS: Final = ("source", "holidays", "workdays")


def _parse_year(key: object, entry: object) -> tuple[int, YearDays]:
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise CalendarDataError(
            f"years.{excerpt(key)}",
            Msg(f"年份键 {excerpt(key)} 应为整数，如 2027", f"year key {excerpt(key)} must be an integer such as 2027"),
        )
    if isinstance(key, str):
        if not key.strip().isdigit():
            raise CalendarDataError(
                f"years.{excerpt(key)}",
                Msg(
                    f"年份键 {excerpt(key)} 应为整数，如 2027",
                    f"year key {excerpt(key)} must be an integer such as 2027",
                ),
            )
        key = int(key)
    year = key
    where = f"years.{year}"
    if not 1 <= year <= 9999:
        raise CalendarDataError(where, Msg("年份须在 1 至 9999 之间", "the year must be in 1..9999"))
    if not isinstance(entry, Mapping):
        raise CalendarDataError(
            where,
            Msg(
                f"应为含 source、holidays、workdays 的映射，而不是 {type(entry).__name__}",
                f"expected a mapping with source, holidays, workdays; got {type(entry).__name__}",
            ),
        )
    for k in entry:
        if k not in _ENTRY_KEYS:
            raise CalendarDataError(
                where,
                Msg(
                    f"未知的键 {excerpt(k)}（应为 source、holidays、workdays）",
                    f"unknown key {excerpt(k)} (expected source, holidays, workdays)",
                ),
            )
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CalendarDataError(
            f"{where}.source",
            Msg(
                "必须写明数据来源（国务院办公厅关于当年部分节假日安排的通知）",
                "required: the source of the data (the State Council General Office's holiday notice)",
            ),
        )
    holidays = _parse_days(entry.get("holidays"), f"{where}.holidays", year)
    workdays = _parse_days(entry.get("workdays"), f"{where}.workdays", year)
    for d, i in workdays.items():
        if d in holidays:
            raise CalendarDataError(
                f"{where}.workdays[{i}]",
                Msg(
                    f"{d.isoformat()} 同时列为节假日（holidays[{holidays[d]}]）与调休上班日",
                    f"{d.isoformat()} is listed both as a workday and as a holiday (holidays[{holidays[d]}])",
                ),
            )
        if d.weekday() < 5:
            raise CalendarDataError(f"{where}.workdays[{i}]", _weekday_msg(d))
    return year, YearDays(frozenset(holidays), frozenset(workdays), source.strip())


def _package_years() -> range:
    """The years the ``chinese_calendar`` package has data for (it decides the same way)."""
    years = {d.year for d in _cc.holidays}
    return range(min(years), max(years) + 1)


_PACKAGE_YEARS: Final = _package_years()


def _describe_years(years: list[int]) -> str:
    """``[2004, 2005, ..., 2026, 2030]`` as ``"2004–2026, 2030"``."""
    parts: list[str] = []
    i = 0
    while i < len(years):
        j = i
        while j + 1 < len(years) and years[j + 1] == years[j] + 1:
            j += 1
        parts.append(str(years[i]) if i == j else f"{years[i]}–{years[j]}")
        i = j + 1
    return ", ".join(parts) if parts else "none"


class WorkCalendar:
    """Chinese statutory working days from ``chinese_calendar`` plus an extension for later years.

    A day is a working day iff it is Monday–Friday and not a public holiday, or it is a make-up
    working day (调休). Answers are cached per day (a dict keyed by ordinal, filled a whole year at a
    time), so :meth:`add_working_days` costs a few dict look-ups per calendar day it walks.
    """

    __slots__ = ("_extension", "_known")

    def __init__(self, extension: Mapping[int, YearDays] | None = None) -> None:
        ext = dict(extension or {})
        for year, days in ext.items():
            _check_year(year, days)
        self._extension: dict[int, YearDays] = ext
        self._known: dict[int, bool] = {}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkCalendar:
        """A calendar extended by the parsed content of ``policies/calendar.yaml``.

        Expects ``{"years": {2027: {"source": str, "holidays": [date...], "workdays": [date...]}}}``;
        dates may be :class:`date` values or ``YYYY-MM-DD`` strings, year keys integers (or digit
        strings). Raises :class:`CalendarDataError` (a ``ValueError``) naming the bad item.
        """
        if not isinstance(data, Mapping):
            raise CalendarDataError(
                "<top>",
                Msg(
                    f"顶层应为含 years 键的映射，而不是 {type(data).__name__}",
                    f"the top level must be a mapping with a 'years' key, got {type(data).__name__}",
                ),
            )
        for k in data:
            if k != "years":
                raise CalendarDataError(
                    "<top>",
                    Msg(
                        f"未知的顶层键 {excerpt(k)}（应为 years）",
                        f"unknown top-level key {excerpt(k)} (expected 'years')",
                    ),
                )
        years = data.get("years")
        if years is None:
            years = {}
        if not isinstance(years, Mapping):
            raise CalendarDataError(
                "years",
                Msg(
                    f"应为从年份到条目的映射，而不是 {type(years).__name__}",
                    f"expected a mapping from year to entry, got {type(years).__name__}",
                ),
            )
        ext: dict[int, YearDays] = {}
        for key, entry in years.items():
            year, days = _parse_year(key, entry)
            if year in ext:
                raise CalendarDataError(f"years.{year}", Msg(f"{year} 年重复出现", f"the year {year} appears twice"))
            ext[year] = days
        return cls(ext)

    # -- coverage ---------------------------------------------------------------------------------

    def covered_years(self) -> tuple[int, ...]:
        """Every year with data, ascending (the package's years and the extension's)."""
        return tuple(sorted(set(_PACKAGE_YEARS) | set(self._extension)))

    def describe_coverage(self) -> str:
        """The covered years for messages, e.g. ``"2004–2026"`` or ``"2004–2027, 2030"``."""
        return _describe_years(list(self.covered_years()))

    def covers(self, year: int) -> bool:
        return year in self._extension or year in _PACKAGE_YEARS

    def source(self, year: int) -> str:
        """Where the data for ``year`` comes from (raises :class:`CalendarError` if not covered)."""
        if year in self._extension:
            return f"{EXTENSION_FILE}: {self._extension[year].source}"
        if year in _PACKAGE_YEARS:
            return f"chinese_calendar {getattr(_cc, '__version__', '')}".rstrip()
        raise self._uncovered(year)

    def _uncovered(self, year: int) -> CalendarError:
        cov = self.describe_coverage()
        return CalendarError(
            Msg(
                f"工作日历不含 {year} 年的数据（现有 {cov} 年）。"
                f"请在 {EXTENSION_FILE} 的 years 下添加 {year} 年："
                f"按国务院办公厅关于 {year} 年部分节假日安排的通知，"
                "列出 holidays（放假日）与 workdays（调休上班日）。",
                f"The working-day calendar has no data for {year} (it covers {cov}). Add {year} under "
                f"`years` in {EXTENSION_FILE}: list its holidays and make-up workdays (调休) from the State "
                f"Council General Office's notice on the {year} public holiday arrangements.",
            ),
            year,
        )

    # -- per-day answers --------------------------------------------------------------------------

    def _load(self, o: int) -> bool:
        """Fill the cache for the whole year containing ordinal ``o``; return the answer for ``o``."""
        if not _MIN_ORD <= o <= _MAX_ORD:
            raise CalendarError(
                Msg(
                    f"工作日推算超出可表示的日期范围（{date.min.isoformat()} 至 {date.max.isoformat()}）",
                    f"working-day arithmetic ran past the representable dates "
                    f"({date.min.isoformat()}..{date.max.isoformat()})",
                )
            )
        year = date.fromordinal(o).year
        ext = self._extension.get(year)
        if ext is not None:
            holidays, workdays = ext.holidays, ext.workdays
        elif year in _PACKAGE_YEARS:
            holidays, workdays = _cc.holidays, _cc.workdays
        else:
            raise self._uncovered(year)
        first = date(year, 1, 1)
        start = first.toordinal()
        known = self._known
        for k in range(366 if days_in_month(year, 2) == 29 else 365):
            d = first + timedelta(days=k)
            known[start + k] = d in workdays or (d.weekday() < 5 and d not in holidays)
        return known[o]

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (raises :class:`CalendarError` for an uncovered year)."""
        o = d.toordinal()
        w = self._known.get(o)
        return self._load(o) if w is None else w

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself not counted); ``n < 0`` counts backwards.

        ``n == 0`` returns ``d``. Friday 2024-09-27 + 15 = 2024-10-23.
        """
        if n == 0:
            return _plain(d)
        step = 1 if n > 0 else -1
        left = n * step
        o = d.toordinal()
        known = self._known
        while left:
            o += step
            w = known.get(o)
            if w is None:
                w = self._load(o)
            if w:
                left -= 1
        return date.fromordinal(o)

    def _seek(self, d: date, step: int) -> date:
        o = d.toordinal()
        known = self._known
        while True:
            w = known.get(o)
            if w is None:
                w = self._load(o)
            if w:
                return date.fromordinal(o)
            o += step

    def next_working_day(self, d: date) -> date:
        """``d`` if it is a working day, else the first working day after it."""
        return self._seek(d, 1)

    def previous_working_day(self, d: date) -> date:
        """``d`` if it is a working day, else the last working day before it."""
        return self._seek(d, -1)

    def __repr__(self) -> str:
        return f"WorkCalendar(covers {self.describe_coverage()}, extension years {sorted(self._extension)})"
