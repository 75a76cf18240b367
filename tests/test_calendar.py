"""Tests for engine.lang.calendar: calendar arithmetic and the Chinese statutory working-day calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.diagnostics import CalendarError
from engine.lang.calendar import (
    CalendarDataError,
    Rounding,
    WorkCalendar,
    YearDays,
    add_days,
    add_months,
    add_years,
    days_in_month,
    month_would_clamp,
)

ROOT = Path(__file__).resolve().parent.parent
CAL = WorkCalendar()
FIRST = date(2004, 1, 1)
LAST = date(2026, 12, 31)

# A synthetic arrangement for a far-future year, for the extension tests only (not real data).
FAKE_2099 = YearDays(
    holidays=frozenset({date(2099, 1, 1), date(2099, 1, 2)}),
    workdays=frozenset({date(2099, 1, 4)}),  # a Sunday
    source="test fixture (synthetic)",
)


# --------------------------------------------------------------------------------------------------
# Calendar arithmetic: examples
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "n", "rounding", "expected"),
    [
        (date(2024, 1, 31), 1, Rounding.CLAMP, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, Rounding.CLAMP, date(2023, 2, 28)),
        (date(2023, 1, 31), 1, Rounding.UP, date(2023, 3, 1)),
        (date(2024, 1, 31), 1, Rounding.UP, date(2024, 3, 1)),
        (date(2024, 1, 30), 1, Rounding.UP, date(2024, 3, 1)),
        (date(2024, 1, 29), 1, Rounding.UP, date(2024, 2, 29)),
        (date(2024, 3, 31), 1, Rounding.CLAMP, date(2024, 4, 30)),
        (date(2024, 3, 31), 1, Rounding.UP, date(2024, 5, 1)),
        (date(2024, 3, 31), -1, Rounding.CLAMP, date(2024, 2, 29)),
        (date(2024, 5, 15), -17, Rounding.CLAMP, date(2022, 12, 15)),
        (date(2024, 12, 31), 2, Rounding.CLAMP, date(2025, 2, 28)),
        (date(2024, 8, 31), 0, Rounding.UP, date(2024, 8, 31)),
        (date(2024, 11, 30), 13, Rounding.UP, date(2025, 12, 30)),
    ],
)
def test_add_months(d: date, n: int, rounding: Rounding, expected: date) -> None:
    assert add_months(d, n, rounding) == expected


def test_add_months_default_is_clamp() -> None:
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)


def test_add_years() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 1, Rounding.UP) == date(2025, 3, 1)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2024, 2, 29), -100) == date(1924, 2, 29)
    assert add_years(date(2000, 2, 29), 100) == date(2100, 2, 28)  # 2100 is not a leap year
    assert add_years(date(2023, 9, 1), 3) == date(2026, 9, 1)


def test_month_would_clamp() -> None:
    assert month_would_clamp(date(2023, 1, 31), 1)
    assert month_would_clamp(date(2024, 1, 30), 1)
    assert not month_would_clamp(date(2024, 1, 29), 1)
    assert not month_would_clamp(date(2024, 1, 31), 2)
    assert month_would_clamp(date(2024, 2, 29), 12)
    assert not month_would_clamp(date(2024, 2, 29), 48)


def test_days_in_month() -> None:
    assert [days_in_month(2024, m) for m in (1, 2, 4, 12)] == [31, 29, 30, 31]
    assert days_in_month(2023, 2) == 28
    assert days_in_month(1900, 2) == 28
    assert days_in_month(2000, 2) == 29


def test_add_days() -> None:
    assert add_days(date(2024, 2, 28), 1) == date(2024, 2, 29)
    assert add_days(date(2024, 3, 1), -1) == date(2024, 2, 29)
    assert add_days(date(2024, 1, 1), 0) == date(2024, 1, 1)


def test_rounding_is_a_str_enum() -> None:
    assert Rounding("up") is Rounding.UP
    assert isinstance(Rounding.CLAMP, str) and Rounding.CLAMP.value == "clamp"
    assert add_months(date(2023, 1, 31), 1, Rounding("up")) == date(2023, 3, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: add_months(date(9999, 12, 31), 1),
        lambda: add_months(date(9999, 12, 1), 1, Rounding.UP),
        lambda: add_months(date(1, 1, 31), -1),
        lambda: add_years(date(9999, 1, 1), 1),
        lambda: add_years(date(2024, 1, 1), -2024),
        lambda: add_years(date(2024, 1, 1), 10**30),
        lambda: add_days(date.max, 1),
        lambda: add_days(date.min, -1),
        lambda: add_days(date(2024, 1, 1), 10**12),
        lambda: add_days(date(2024, 1, 1), -(10**12)),
        lambda: month_would_clamp(date(9999, 12, 31), 1),
    ],
)
def test_out_of_range_is_calendar_error(call: Callable[[], object]) -> None:
    with pytest.raises(CalendarError) as info:
        call()
    assert "out of range" in str(info.value)
    assert "超出" in info.value.message.zh


def test_out_of_range_message_names_the_operation() -> None:
    with pytest.raises(CalendarError) as info:
        add_months(date(9999, 12, 31), 1)
    assert "9999-12-31 + 1 month" in info.value.message.en
    assert "9999-12-31 + 1 个月" in info.value.message.zh


def test_datetime_input_gives_plain_date() -> None:
    assert type(add_days(datetime(2024, 1, 1, 12, 30), 1)) is date
    assert type(add_months(datetime(2024, 1, 31, 12, 30), 1)) is date


# --------------------------------------------------------------------------------------------------
# Working days: known facts
# --------------------------------------------------------------------------------------------------


def test_cancellation_15_working_days_over_national_day_2024() -> None:
    # Friday 2024-09-27; National Day holiday 10-01..10-07; make-up days Sun 09-29 and Sat 10-12.
    assert CAL.add_working_days(date(2024, 9, 27), 15) == date(2024, 10, 23)


def test_known_days_2024() -> None:
    assert not CAL.is_working_day(date(2024, 10, 1))
    assert not CAL.is_working_day(date(2024, 10, 7))  # Monday inside the holiday
    assert CAL.is_working_day(date(2024, 9, 29))  # Sunday, make-up working day
    assert CAL.is_working_day(date(2024, 10, 12))  # Saturday, make-up working day
    assert not CAL.is_working_day(date(2024, 10, 13))  # an ordinary Sunday
    assert CAL.is_working_day(date(2024, 10, 8))


def test_add_working_days_basics() -> None:
    fri = date(2024, 9, 27)
    assert CAL.add_working_days(fri, 0) == fri
    assert CAL.add_working_days(date(2024, 10, 1), 0) == date(2024, 10, 1)  # n=0 even on a holiday
    assert CAL.add_working_days(fri, 1) == date(2024, 9, 29)
    assert CAL.add_working_days(fri, 3) == date(2024, 10, 8)
    assert CAL.add_working_days(date(2024, 10, 8), -1) == date(2024, 9, 30)
    assert CAL.add_working_days(date(2024, 10, 23), -15) == fri
    assert CAL.add_working_days(date(2024, 10, 5), -1) == date(2024, 9, 30)


def test_next_and_previous_working_day() -> None:
    assert CAL.next_working_day(date(2024, 10, 1)) == date(2024, 10, 8)
    assert CAL.next_working_day(date(2024, 10, 8)) == date(2024, 10, 8)
    assert CAL.next_working_day(date(2024, 9, 28)) == date(2024, 9, 29)
    assert CAL.previous_working_day(date(2024, 10, 7)) == date(2024, 9, 30)
    assert CAL.previous_working_day(date(2024, 9, 30)) == date(2024, 9, 30)


def test_agrees_with_chinese_calendar_everywhere() -> None:
    d = FIRST
    while d <= LAST:
        assert CAL.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_coverage() -> None:
    years = CAL.covered_years()
    assert years[0] == 2004 and years[-1] >= 2026
    assert set(range(2004, 2027)) <= set(years)
    assert CAL.describe_coverage().startswith("2004–")
    assert CAL.covers(2024) and not CAL.covers(2003)


# --------------------------------------------------------------------------------------------------
# Working days: uncovered years
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2027, 2003])
def test_uncovered_year_is_calendar_error(year: int) -> None:
    with pytest.raises(CalendarError) as info:
        CAL.is_working_day(date(year, 3, 1))
    err = info.value
    assert err.year == year
    assert str(year) in err.message.en and str(year) in err.message.zh
    assert "policies/calendar.yaml" in err.message.en and "policies/calendar.yaml" in err.message.zh
    assert str(year) in str(err)


def test_add_working_days_across_the_coverage_edge() -> None:
    with pytest.raises(CalendarError) as info:
        CAL.add_working_days(date(2026, 12, 25), 15)
    assert info.value.year == 2027
    with pytest.raises(CalendarError) as info:
        CAL.add_working_days(date(2004, 1, 5), -15)
    assert info.value.year == 2003
    with pytest.raises(CalendarError):
        CAL.next_working_day(date(2027, 1, 1))


# --------------------------------------------------------------------------------------------------
# Working days: the extension
# --------------------------------------------------------------------------------------------------


def test_extension_year_working() -> None:
    cal = WorkCalendar({2099: FAKE_2099})
    assert 2099 in cal.covered_years()
    assert cal.describe_coverage().endswith(", 2099")
    assert not cal.is_working_day(date(2099, 1, 1))  # Thursday, listed holiday
    assert not cal.is_working_day(date(2099, 1, 2))  # Friday, listed holiday
    assert not cal.is_working_day(date(2099, 1, 3))  # Saturday
    assert cal.is_working_day(date(2099, 1, 4))  # Sunday, listed workday
    assert cal.is_working_day(date(2099, 1, 5))  # Monday
    assert cal.add_working_days(date(2099, 1, 1), 2) == date(2099, 1, 5)
    assert "test fixture" in cal.source(2099)
    with pytest.raises(CalendarError) as info:
        cal.is_working_day(date(2098, 12, 31))
    assert "2099" in info.value.message.en  # the coverage list names the extension year


def test_extension_overrides_the_package() -> None:
    override = YearDays(frozenset({date(2024, 3, 4)}), frozenset(), source="test fixture (synthetic)")
    cal = WorkCalendar({2024: override})
    assert not cal.is_working_day(date(2024, 3, 4))
    assert cal.is_working_day(date(2024, 10, 1))  # not a holiday in the override
    assert not cal.is_working_day(date(2024, 9, 29))  # not a workday in the override
    assert cal.is_working_day(date(2023, 10, 9)) == CAL.is_working_day(date(2023, 10, 9))


def test_from_mapping_accepts_dates_and_iso_strings() -> None:
    data: dict[str, Any] = {
        "years": {
            2099: {
                "source": "test fixture (synthetic)",
                "holidays": [date(2099, 1, 1), "2099-01-02"],
                "workdays": ["2099-01-04"],
            }
        }
    }
    cal = WorkCalendar.from_mapping(data)
    assert not cal.is_working_day(date(2099, 1, 2))
    assert cal.is_working_day(date(2099, 1, 4))
    assert WorkCalendar.from_mapping({"years": {"2099": data["years"][2099]}}).covers(2099)


def test_from_mapping_empty() -> None:
    assert WorkCalendar.from_mapping({"years": {}}).covered_years() == CAL.covered_years()
    assert WorkCalendar.from_mapping({"years": None}).covered_years() == CAL.covered_years()


def test_shipped_extension_file_loads() -> None:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((ROOT / "policies" / "calendar.yaml").read_text(encoding="utf-8"))
    assert data == {"years": {}}  # never ship invented holiday data
    assert WorkCalendar.from_mapping(data).covered_years() == CAL.covered_years()


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "source": "test fixture (synthetic)",
        "holidays": ["2099-01-01", "2099-01-02"],
        "workdays": ["2099-01-04"],
    }
    entry.update(overrides)
    return entry


@pytest.mark.parametrize(
    ("data", "where", "fragment"),
    [
        ([], "<top>", "mapping"),
        ({"yaers": {}}, "<top>", "'yaers'"),
        ({"years": [2099]}, "years", "mapping"),
        ({"years": {"20x9": _entry()}}, "years.'20x9'", "integer"),
        ({"years": {True: _entry()}}, "years.True", "integer"),
        ({"years": {0: _entry()}}, "years.0", "1..9999"),
        ({"years": {2099: ["2099-01-01"]}}, "years.2099", "mapping"),
        ({"years": {2099: _entry(holiday=[])}}, "years.2099", "'holiday'"),
        ({"years": {2099: _entry(source="")}}, "years.2099.source", "source"),
        ({"years": {2099: _entry(source=None)}}, "years.2099.source", "source"),
        ({"years": {2099: _entry(holidays="2099-01-01")}}, "years.2099.holidays", "list"),
        ({"years": {2099: _entry(holidays=[])}}, "years.2099.holidays", "no holidays"),
        ({"years": {2099: _entry(holidays=["2099-01-01", "2100-01-01"])}}, "years.2099.holidays[1]", "2100"),
        ({"years": {2099: _entry(holidays=["2099-01-01", "Jan 2"])}}, "years.2099.holidays[1]", "'Jan 2'"),
        ({"years": {2099: _entry(holidays=["2099-02-30"])}}, "years.2099.holidays[0]", "not a valid date"),
        ({"years": {2099: _entry(holidays=["20990101"])}}, "years.2099.holidays[0]", "not a date"),
        ({"years": {2099: _entry(holidays=[20990101])}}, "years.2099.holidays[0]", "not a date"),
        (
            {"years": {2099: _entry(holidays=[datetime(2099, 1, 1, 9, 0)])}},
            "years.2099.holidays[0]",
            "not a date",
        ),
        (
            {"years": {2099: _entry(holidays=["2099-01-01", date(2099, 1, 1)])}},
            "years.2099.holidays[1]",
            "listed twice (also at [0])",
        ),
        (
            {"years": {2099: _entry(holidays=["2099-01-01", "2099-01-03"], workdays=["2099-01-04", "2099-01-03"])}},
            "years.2099.workdays[1]",
            "both as a workday and as a holiday (holidays[1])",
        ),
        ({"years": {2099: _entry(workdays=["2099-01-05"])}}, "years.2099.workdays[0]", "Monday"),
        ({"years": {2099: _entry(), "2099": _entry()}}, "years.2099", "twice"),
    ],
)
def test_from_mapping_errors(data: Any, where: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        WorkCalendar.from_mapping(data)
    err = info.value
    assert isinstance(err, CalendarDataError)
    assert err.where == where
    assert fragment in str(err)
    assert where in str(err)
    assert err.message.zh  # bilingual


def test_constructor_validates_year_days() -> None:
    bad_year = YearDays(frozenset({date(2098, 1, 1)}), frozenset(), "synthetic")
    with pytest.raises(CalendarDataError, match="not in 2099"):
        WorkCalendar({2099: bad_year})
    both = YearDays(frozenset({date(2099, 1, 3)}), frozenset({date(2099, 1, 3)}), "synthetic")
    with pytest.raises(CalendarDataError, match="both"):
        WorkCalendar({2099: both})
    weekday = YearDays(frozenset({date(2099, 1, 1)}), frozenset({date(2099, 1, 5)}), "synthetic")
    with pytest.raises(CalendarDataError, match="Monday"):
        WorkCalendar({2099: weekday})
    no_source = YearDays(frozenset({date(2099, 1, 1)}), frozenset(), " ")
    with pytest.raises(CalendarDataError, match="source"):
        WorkCalendar({2099: no_source})
    with pytest.raises(CalendarDataError, match="YearDays"):
        WorkCalendar({2099: {"holidays": []}})  # type: ignore[dict-item]


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------

covered_dates = st.dates(min_value=FIRST, max_value=date(2026, 11, 30))
inner_dates = st.dates(min_value=date(2004, 3, 1), max_value=date(2026, 10, 31))


def _working_days_in(after: date, upto: date) -> int:
    """Working days in the half-open interval (after, upto]."""
    count, d = 0, after + timedelta(days=1)
    while d <= upto:
        count += CAL.is_working_day(d)
        d += timedelta(days=1)
    return count


@settings(max_examples=200)
@given(st.dates(), st.integers(min_value=-(10**7), max_value=10**7))
def test_prop_add_days_round_trip(d: date, n: int) -> None:
    """(d + n days) − n days = d whenever d + n is a date; otherwise CalendarError, never OverflowError."""
    if 1 <= d.toordinal() + n <= date.max.toordinal():
        assert add_days(add_days(d, n), -n) == d
    else:
        with pytest.raises(CalendarError):
            add_days(d, n)


@settings(max_examples=200, deadline=None)
@given(covered_dates, st.integers(min_value=0, max_value=40))
def test_prop_add_working_days_counts(d: date, n: int) -> None:
    """d + n working days (n ≥ 1) is a working day, and (d, result] holds exactly n working days.

    For n = 0 the result is d. Near the end of the covered range the walk may leave it: then, and only
    then, it raises CalendarError naming the first uncovered year.
    """
    try:
        r = CAL.add_working_days(d, n)
    except CalendarError as err:
        assert err.year == LAST.year + 1
        assert _working_days_in(d, LAST) < n
        return
    if n == 0:
        assert r == d
    else:
        assert r > d
        assert CAL.is_working_day(r)
    assert _working_days_in(d, r) == n


@settings(max_examples=100, deadline=None)
@given(inner_dates, st.integers(min_value=1, max_value=40))
def test_prop_add_working_days_matches_find_workday(d: date, n: int) -> None:
    """d + n working days = chinese_calendar.find_workday(n − 1, d + 1 day) (an independent oracle)."""
    assert CAL.add_working_days(d, n) == chinese_calendar.find_workday(n - 1, d + timedelta(days=1))


@settings(max_examples=200)
@given(inner_dates, inner_dates, st.integers(min_value=-40, max_value=40))
def test_prop_add_working_days_monotone(d1: date, d2: date, n: int) -> None:
    """d1 ≤ d2 ⇒ add_working_days(d1, n) ≤ add_working_days(d2, n)."""
    lo, hi = min(d1, d2), max(d1, d2)
    assert CAL.add_working_days(lo, n) <= CAL.add_working_days(hi, n)


@settings(max_examples=200)
@given(inner_dates, st.integers(min_value=1, max_value=40))
def test_prop_add_working_days_inverse(d: date, n: int) -> None:
    """Going n working days forward then n back lands on the previous-or-same working day of d."""
    assert CAL.add_working_days(CAL.add_working_days(d, n), -n) == CAL.previous_working_day(d)


@settings(max_examples=200)
@given(st.dates(), st.integers(min_value=-(12 * 10000), max_value=12 * 10000))
def test_prop_add_months_clamp(d: date, n: int) -> None:
    """CLAMP moves the month index by exactly n and keeps min(d.day, last day of the target month)."""
    try:
        r = add_months(d, n)
    except CalendarError:
        assert not 1 <= (d.year * 12 + d.month - 1 + n) // 12 <= 9999
        return
    assert (r.year * 12 + r.month) - (d.year * 12 + d.month) == n
    last = days_in_month(r.year, r.month)
    assert r.day <= last
    assert r.day == min(d.day, last)
    assert month_would_clamp(d, n) == (r.day != d.day)


@settings(max_examples=200)
@given(st.dates(min_value=date(2, 1, 1), max_value=date(9998, 12, 31)), st.integers(-12, 12))
def test_prop_add_months_up(d: date, n: int) -> None:
    """UP equals CLAMP unless the day is missing, and then is the day after CLAMP's month-end."""
    clamp, up = add_months(d, n), add_months(d, n, Rounding.UP)
    if month_would_clamp(d, n):
        assert up == clamp + timedelta(days=1) and up.day == 1
    else:
        assert up == clamp


@settings(max_examples=200)
@given(
    st.dates(min_value=date(2, 1, 1), max_value=date(9997, 12, 31)),
    st.dates(min_value=date(2, 1, 1), max_value=date(9997, 12, 31)),
    st.integers(min_value=-12, max_value=12),
    st.sampled_from(Rounding),
)
def test_prop_add_months_monotone(d1: date, d2: date, n: int, rounding: Rounding) -> None:
    """d1 ≤ d2 ⇒ add_months(d1, n) ≤ add_months(d2, n), for both rounding rules."""
    lo, hi = min(d1, d2), max(d1, d2)
    assert add_months(lo, n, rounding) <= add_months(hi, n, rounding)


@settings(max_examples=200)
@given(st.dates(min_value=date(200, 1, 1), max_value=date(9800, 12, 31)), st.integers(-150, 150))
def test_prop_add_years_is_twelve_months(d: date, n: int) -> None:
    """add_years(d, n) = add_months(d, 12 n) under either rounding."""
    for rounding in Rounding:
        assert add_years(d, n, rounding) == add_months(d, 12 * n, rounding)
