"""The speed limit: the 2021 policy set written by hand in plain Python.

``evaluate(record, on)`` takes a raw record (parsed JSON/YAML: dates as ISO strings) and returns, for
every ``require``/``forbid`` rule of ``policies/2021/*.yaml`` (30 rules; the two invariants are not
judged by ``engine.evaluate`` either) and every subject, a row ``(rule id, subject, outcome, due)`` in
the order ``engine.evaluate`` gives its findings. Outcomes and due dates are meant to be exactly the
engine's, including

* how absent facts combine (Kleene: ``false and unknown`` is false);
* the record as of ``on`` (interpretation.md, "The record as of `on`"; ``dated:`` in
  ``policies/schema.yaml``): an act or notice dated after ``on`` reads as none (``dated: event``), and
  a record whose existence is dated after ``on`` is left out (``dated: exists``: a full-time status, a
  status change, a certificate or a credential from its list — the later ones are numbered without it
  —, the cancellation or the graduation becomes none). This is written out where each date is read,
  not done by the engine's schema;
* the day each obligation arises (the rules' ``arises``): there is one version (2021), so the day
  only decides the Art. 22 cut — an obligation due before 2021-11-01, or without a deadline and arisen
  before it, is ``not_applicable``; one whose day is none has not arisen (``not_applicable``), one
  whose day the record lacks is ``unknown``. The Arts. 11–12 windows are parameters with one value
  since 2021-11-01 (``policies/xueji.yaml``), the value every obligation reads: written here as
  constants;
* the working-day calendar (``engine.lang.calendar.WorkCalendar``, a leaf module, with the bundled
  ``policies/calendar.yaml``), and a due date that needs a year it does not cover, which is decided by
  its bound (``start + N days``: on time when done by it, pending while not done and ``on`` is not
  after it, else unknown; the row's due date is then None, like the engine's ``Finding.due``).

What it does not do, and the engine does: validate the record (types, enums, dates that do not
exist), collect the missing paths of ``unknown`` findings, keep the facts each rule read and the
messages, say which version judged a finding and when its obligation arose (``version``, ``arose``:
the test compares outcome and due date), and interpret a policy written in a policy language. It
parses only the dates it reads.

Three-valued logic: a fact is :data:`ABSENT` when the record lacks its key (or holds ``null`` where
"none" makes no sense); a condition is ``True``, ``False``, :data:`U` (unknown: an absent fact could
change it) or :data:`P` (pending: a deadline ahead of ``on`` not met yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import yaml

from engine.diagnostics import CalendarError
from engine.lang.calendar import WorkCalendar
from engine.resources import bundled_policy_dir

__all__ = ["ABSENT", "EFFECTIVE", "RULES", "Row", "default_calendar", "evaluate"]

Row = tuple[str, str, str, dt.date | None]

EFFECTIVE: Final = dt.date(2021, 11, 1)  # Art. 22; policies/xueji.yaml `effective`

# The Arts. 11–12 windows (policies/xueji.yaml `parameters:`, one value each since 2021-11-01).
_REGISTRATION_WINDOW: Final = dt.timedelta(days=14)  # annual_registration_window: 2 weeks
_COLLEGE_REPORT_WINDOW: Final = dt.timedelta(days=20)  # college_report_window: 20 days
_CANCELLATION_WORKING_DAYS: Final = 15  # cancellation_e_registration_window: 15 working days
# e_registration_window: 1 month rounded down (_add_month)


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ABSENT: Final[Any] = _Sentinel("ABSENT")
U: Final[Any] = _Sentinel("UNKNOWN")
P: Final[Any] = _Sentinel("PENDING")

SAT, VIO, PEN, NA, UNK = "satisfied", "violated", "pending", "not_applicable", "unknown"

RULES: Final = (
    "art3.registration_on_reviewed_data",
    "art4.registration_requires_recheck",
    "art4.failed_recheck_cancels_qualification",
    "art4.qualification_marked",
    "art5.preparatory_registered_as_preparatory",
    "art5.promotion_filed_in_year_of_move",
    "art5.registration_after_filing",
    "art6.plan_marked",
    "art7.one_full_time_status",
    "art7.joint_training_at_admitting_school",
    "art8.registration_after_data_correction",
    "art9.student_notified",
    "art10.status_change_marked",
    "art10.certificate_marked",
    "art11.annual_registration",
    "art11.registration_conditions",
    "art11.supplementary_registration",
    "art12.college_report",
    "art12.annual_e_registration",
    "art12.cancellation_e_registration",
    "art13.credential_e_registered",
    "art13.credential_kind_matches_outcome",
    "art14.one_credential",
    "art14.credential_requires_registration",
    "art14.credential_issued",
    "art14.minor_annotated",
    "art15.record_complete",
    "art15.record_matches_student",
    "art16.issued_on_graduation_date",
    "art17.lost_credential_certified",
)

# Art. 15's fourteen fields: the seven text fields (missing when null, absent or blank) and the rest
_TEXT_FIELDS: Final = ("name", "gender", "photo", "major", "school_name", "president_name", "certificate_number")
_OTHER_FIELDS: Final = ("birth_date", "study_start", "study_end", "level", "schooling_years", "outcome", "study_form")
_MARKED_QUALIFICATIONS: Final = frozenset(("given_up", "retained", "cancelled"))
_fromiso = dt.date.fromisoformat
_date_cls = dt.date


def default_calendar() -> WorkCalendar:
    """The working-day calendar the bundled policy set uses (``chinese_calendar`` + its extension)."""
    path = bundled_policy_dir() / "calendar.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return WorkCalendar.from_mapping(data)


_CALENDAR: WorkCalendar | None = None


# ------------------------------------------------------------------------------------------- facts


def _rec(obj: Any, key: str) -> Any:
    """A non-nullable field (``null`` reads as absent)."""
    if obj is ABSENT:
        return ABSENT
    v = obj.get(key)
    return ABSENT if v is None else v


def _opt(obj: Any, key: str) -> Any:
    """A nullable field: absent key → ABSENT, ``null`` → None."""
    if obj is ABSENT:
        return ABSENT
    return obj.get(key, ABSENT)


def _date(v: Any) -> Any:
    """A date value as the schema reads it (ISO string or ``date``); ABSENT and None pass through."""
    if v.__class__ is str:
        return _fromiso(v)
    return v


def _rdate(obj: Any, key: str) -> Any:
    return _date(_rec(obj, key))


def _odate(obj: Any, key: str) -> Any:
    return _date(_opt(obj, key))


def _event(obj: Any, key: str, on: dt.date) -> Any:
    """A ``dated: event`` date as of ``on``: dated after ``on`` it has not happened yet (None)."""
    if obj is ABSENT:
        return ABSENT
    v = obj.get(key, ABSENT)
    if v.__class__ is str:
        v = _fromiso(v)
        return None if v > on else v
    if v.__class__ is _date_cls and v > on:
        return None
    return v


def _after(v: Any, on: dt.date, on_iso: str) -> bool:
    """Whether a raw ``dated: exists`` value falls after ``on`` (ISO strings compare as dates)."""
    if v.__class__ is str:
        return v > on_iso
    return v.__class__ is _date_cls and v > on


def _held(items: list[Any], key: str, on: dt.date, on_iso: str) -> list[Any]:
    """The elements of a list as of ``on``: those whose ``dated: exists`` date is after it are left out."""
    for e in items:
        if _after(e.get(key), on, on_iso):
            return [x for x in items if not _after(x.get(key), on, on_iso)]
    return items


def _fact(v: Any) -> Any:
    """A boolean fact as a truth value: U when absent."""
    return U if v is ABSENT else v


def _exists(v: Any) -> Any:
    return U if v is ABSENT else v is not None


def _eq(a: Any, b: Any) -> Any:
    return U if a is ABSENT or b is ABSENT else a == b


def _and(*vs: Any) -> Any:
    """Kleene conjunction of True / False / U (/ P: pending unless something is false)."""
    unknown = pending = False
    for v in vs:
        if v is False:
            return False
        if v is U:
            unknown = True
        elif v is P:
            pending = True
    return U if unknown else (P if pending else True)


def _or(a: Any, b: Any) -> Any:
    """Kleene disjunction of True / False / U."""
    if a is True or b is True:
        return True
    return U if a is U or b is U else False


def _not(v: Any) -> Any:
    return U if v is U else not v


def _by(act: Any, due: dt.date, on: dt.date) -> Any:
    """``act by due``: True, False, P while not done and ``on <= due``, U if the act is absent."""
    if act is ABSENT:
        return U
    if act is None:
        return P if on <= due else False
    return act <= due


def _require(v: Any) -> str:
    if v is True:
        return SAT
    if v is False:
        return VIO
    return PEN if v is P else UNK


def _forbid(v: Any) -> str:
    if v is True:
        return VIO
    if v is False:
        return SAT
    return PEN if v is P else UNK


def _gate(day: Any) -> str | None:
    """What the day an obligation arose settles for a rule without a deadline, before its condition is
    read: unknown when the record lacks the day, not applicable when it is none (not arisen) or before
    the measures (Art. 22); None when the condition decides."""
    if day is ABSENT:
        return UNK
    if day is None or day < EFFECTIVE:
        return NA
    return None


def _add_month(d: dt.date) -> dt.date:
    """``d + 1 month rounded down``: the same day next month, clamped to the month's last day."""
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    try:
        return d.replace(year=y, month=m)
    except ValueError:
        return (dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)


def _list(rec: Mapping[str, Any], key: str) -> Any:
    v = rec.get(key)
    return ABSENT if v is None else v


def _cmp_le(a: Any, b: Any) -> Any:
    """``a <= b`` on dates that may be absent (U); None never reaches here (guarded by `exists`)."""
    if a is ABSENT or b is ABSENT:
        return U
    return a <= b


# ------------------------------------------------------------------------------------------- rules


def evaluate(record: Mapping[str, Any], on: dt.date, cal: WorkCalendar | None = None) -> list[Row]:
    """Every finding of the 2021 policy set for ``record`` judged on ``on``: (rule, subject, outcome, due)."""
    global _CALENDAR
    if cal is None:
        if _CALENDAR is None:
            _CALENDAR = default_calendar()
        cal = _CALENDAR
    if on < EFFECTIVE:
        return []  # no version of the measures in force
    scope = _rec(record, "academic_education")
    if scope is ABSENT:
        return [(r, "student", UNK, None) for r in RULES]
    if not scope:
        return []
    on_iso = on.isoformat()

    out: list[Row] = []
    add = out.append
    adm = _rec(record, "admission")
    reg = _rec(record, "registration")
    # registration.registered_on: absent means none; after `on` not registered yet
    if reg is ABSENT:
        registered_on: Any = ABSENT
        registered: Any = U
    else:
        registered_on = _event(reg, "registered_on", on)
        if registered_on is ABSENT:
            registered_on = None
        registered = registered_on is not None
    # the day of the obligations that arise on the registration (Arts. 3–9): settled before the condition
    reg_gate = _gate(registered_on)

    # Art. 3
    if registered is True:
        add((RULES[0], "student", reg_gate or _require(_fact(_rec(adm, "data_reviewed"))), None))
    else:
        add((RULES[0], "student", UNK if registered is U else NA, None))

    # Art. 4: the re-check's duties arise on the registration, or for a student not registered (as of
    # `on`) on 1 January of the admission year
    recheck = _rec(adm, "recheck")
    qualification = _rec(adm, "qualification")
    if registered is True:
        add(
            (RULES[1], "student", reg_gate or (SAT if recheck == "passed" else UNK if recheck is ABSENT else VIO), None)
        )
    else:
        add((RULES[1], "student", UNK if registered is U else NA, None))
    adm_year = _rec(adm, "year")
    if registered_on is not None:  # registered (the day settles as for Arts. 3–9), or unknown
        recheck_gate = reg_gate
    elif adm_year is ABSENT or not 1 <= adm_year <= 9999:  # absent, or no 1 January of it: unknown
        recheck_gate = UNK
    else:
        recheck_gate = NA if dt.date(adm_year, 1, 1) < EFFECTIVE else None  # no deadline: arisen before them?
    if recheck is ABSENT:
        add((RULES[2], "student", UNK, None))
    elif recheck == "failed":
        add(
            (
                RULES[2],
                "student",
                recheck_gate or (UNK if qualification is ABSENT else _require(qualification == "cancelled")),
                None,
            )
        )
    else:
        add((RULES[2], "student", NA, None))
    if qualification is ABSENT:
        add((RULES[3], "student", UNK, None))
    elif qualification in _MARKED_QUALIFICATIONS:
        add((RULES[3], "student", recheck_gate or _require(_fact(_rec(adm, "qualification_marked"))), None))
    else:
        add((RULES[3], "student", NA, None))

    # Art. 5
    adm_level = _rec(adm, "level")
    when = _and(U if adm_level is ABSENT else adm_level == "preparatory", registered)
    if when is True:
        rl = _rec(reg, "level")
        add((RULES[4], "student", reg_gate or (UNK if rl is ABSENT else _require(rl == "preparatory")), None))
    else:
        add((RULES[4], "student", UNK if when is U else NA, None))
    prep = _opt(record, "preparatory")
    if prep is ABSENT:
        add((RULES[5], "student", UNK, None))
        add((RULES[6], "student", UNK, None))
    elif prep is None:
        add((RULES[5], "student", NA, None))
        add((RULES[6], "student", NA, None))
    else:
        promoted = _event(prep, "promoted_on", on)  # the day both obligations arise
        filed = _event(prep, "filed_on", on)
        if promoted is ABSENT:
            add((RULES[5], "student", UNK, None))
        elif promoted is None:
            add((RULES[5], "student", NA, None))
        else:
            due = dt.date(promoted.year, 12, 31)
            if due < EFFECTIVE:
                add((RULES[5], "student", NA, due))
            elif filed is ABSENT:
                add((RULES[5], "student", UNK, due))
            elif filed is None:
                add((RULES[5], "student", PEN if on <= due else VIO, due))
            else:  # filed by the end of the year, and in the year of the move
                add((RULES[5], "student", SAT if filed <= due and filed.year == promoted.year else VIO, due))
        new_reg = _event(prep, "registered_on", on)
        if new_reg is ABSENT:
            add((RULES[6], "student", UNK, None))
        elif new_reg is None:
            add((RULES[6], "student", NA, None))
        else:
            add(
                (
                    RULES[6],
                    "student",
                    _gate(promoted) or (UNK if filed is ABSENT else _require(filed is not None and new_reg >= filed)),
                    None,
                )
            )

    # Art. 6
    plan = _opt(adm, "plan")
    if plan is ABSENT:
        add((RULES[7], "student", UNK, None))
    elif plan is None:
        add((RULES[7], "student", NA, None))
    else:
        add((RULES[7], "student", reg_gate or _require(_fact(_rec(adm, "plan_marked"))), None))

    # Art. 7: no two full-time statuses that last some time overlap ([from, to), to = none never ends);
    # a status arises on its `from`; one that begins after `on` is not held yet
    statuses = _list(record, "full_time_statuses")
    if statuses is ABSENT:
        add((RULES[8], "full_time_statuses", UNK, None))
    else:
        periods = []
        for st in _held(statuses, "from", on, on_iso):
            a = _rdate(st, "from")
            b = _event(st, "to", on)
            # lasts_some_time: to = none or from < to
            periods.append((a, b, True if b is None else (U if a is ABSENT or b is ABSENT else a < b)))
        for i, (a1, b1, lasts1) in enumerate(periods):
            subject = f"full_time_statuses[{i}]"
            if a1 is ABSENT:
                add((RULES[8], subject, UNK, None))
                continue
            if a1 < EFFECTIVE:
                add((RULES[8], subject, NA, None))
                continue
            if lasts1 is False:
                add((RULES[8], subject, SAT, None))
                continue
            unknown = False
            overlap = False
            for j, (a2, b2, lasts2) in enumerate(periods):
                if j == i or lasts2 is False:
                    continue
                if a2 is ABSENT or b1 is ABSENT or b2 is ABSENT:
                    ov: Any = U
                else:
                    ov = (b2 is None or a1 < b2) and (b1 is None or a2 < b1)
                if ov is False:
                    continue
                if ov is True and lasts2 is True:
                    overlap = True
                    break
                unknown = True
            add((RULES[8], subject, _forbid(_and(lasts1, True if overlap else (U if unknown else False))), None))
    joint = _opt(record, "joint_training")
    if joint is ABSENT:
        add((RULES[9], "student", UNK, None))
    elif joint is None:
        add((RULES[9], "student", NA, None))
    else:
        eq = _eq(_rec(joint, "registered_school"), _rec(joint, "admitting_school"))
        add((RULES[9], "student", reg_gate or _require(eq), None))

    # Art. 8
    issue = _opt(adm, "data_issue")
    when = _and(_exists(issue), registered)
    if when is True:
        if reg_gate:
            add((RULES[10], "student", reg_gate, None))
        else:
            reported = _event(adm, "data_issue_reported_on", on)
            resolved = _event(adm, "data_issue_resolved_on", on)
            v = _and(_exists(reported), _exists(resolved))
            if v is not False:
                v = _and(v, _cmp_le(reported, resolved))
            if v is not False:
                v = _and(v, _cmp_le(resolved, registered_on))
            add((RULES[10], "student", _require(v), None))
    else:
        add((RULES[10], "student", UNK if when is U else NA, None))

    # Art. 9
    if registered is True:
        if reg_gate:
            add((RULES[11], "student", reg_gate, None))
        else:
            notified = _event(reg, "student_notified_on", on)
            v = _exists(notified)
            if v is not False:
                v = _and(v, _cmp_le(registered_on, notified))
            add((RULES[11], "student", _require(v), None))
    else:
        add((RULES[11], "student", UNK if registered is U else NA, None))

    # -- academic years (never cut: the school calendar), parsed once: (year, term_start, paid, met,
    #    registered, deferred, supplementary, reported, e-registered), the acts as of `on`
    years = _list(record, "academic_years")
    rows: list[tuple[Any, ...]] = []
    if years is not ABSENT:
        for y in years:
            rows.append(
                (
                    _rec(y, "year"),
                    _rdate(y, "term_start"),
                    _rec(y, "tuition_paid"),
                    _rec(y, "conditions_met"),
                    _event(y, "registered_on", on),
                    _event(y, "deferred_on", on),
                    _event(y, "supplementary_registered_on", on),
                    _event(y, "college_reported_on", on),
                    _event(y, "e_registered_on", on),
                )
            )

    # Art. 10: a status change (arising on its day; after `on` not made yet) is marked by the
    # e-registration due date of the next year on record
    changes = _list(record, "status_changes")
    if changes is ABSENT:
        add((RULES[12], "status_changes", UNK, None))
    else:
        for i, c in enumerate(_held(changes, "on", on, on_iso)):
            subject = f"status_changes[{i}]"
            if years is ABSENT:
                add((RULES[12], subject, UNK, None))
                continue
            nxt: Any = None
            if rows:
                changed = _rdate(c, "on")
                for row in rows:
                    ts = row[1]
                    if ts is ABSENT or changed is ABSENT:
                        nxt = U
                        break
                    if ts > changed and (nxt is None or ts < nxt):
                        nxt = ts
            if nxt is U:
                add((RULES[12], subject, UNK, None))
            elif nxt is None:
                add((RULES[12], subject, NA, None))
            else:
                due = _add_month(nxt)
                if due < EFFECTIVE:
                    add((RULES[12], subject, NA, due))
                else:
                    add((RULES[12], subject, _require(_by(_event(c, "marked_on", on), due, on)), due))
    certificates = _list(record, "certificates")
    if certificates is ABSENT:
        add((RULES[13], "certificates", UNK, None))
    else:
        for i, cert in enumerate(_held(certificates, "issued_on", on, on_iso)):
            add(
                (
                    RULES[13],
                    f"certificates[{i}]",
                    _gate(_odate(cert, "issued_on")) or _require(_fact(_rec(cert, "marked"))),
                    None,
                )
            )

    # the cancellation and the graduation as of `on`: decided / graduated after it, there is none yet
    cancellation = _opt(record, "cancellation")
    if cancellation.__class__ is dict and _after(cancellation.get("decided_on"), on, on_iso):
        cancellation = None
    graduation = _opt(record, "graduation")
    if graduation.__class__ is dict and _after(graduation.get("on"), on, on_iso):
        graduation = None
    grad_on = _rdate(graduation, "on") if graduation.__class__ is dict else graduation

    # Arts. 11–12, per academic year (arising on its term start; a deadline each)
    if years is ABSENT:
        for k in (14, 15, 16, 17, 18):
            add((RULES[k], "academic_years", UNK, None))
    else:
        decided = _rdate(cancellation, "decided_on") if cancellation.__class__ is dict else cancellation
        applies_list = []
        for year, ts, *_ in rows:
            # annual_registration_applies(y) = registered and y.year > admission.year
            #   and (not graduation exists or y.term_start < graduation.on)
            #   and (not cancellation exists or y.term_start < cancellation.decided_on)
            c2 = U if year is ABSENT or adm_year is ABSENT else year > adm_year
            if graduation is None:
                c3: Any = True
            elif graduation is ABSENT or ts is ABSENT or grad_on is ABSENT:
                c3 = U
            else:
                c3 = ts < grad_on
            if cancellation is None:
                c4: Any = True
            elif cancellation is ABSENT or ts is ABSENT or decided is ABSENT:
                c4 = U
            else:
                c4 = ts < decided
            applies_list.append(_and(registered, c2, c3, c4))

        # art11.annual_registration: registered by term start + 14 days, or deferral applied for
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            if applies is not True:
                add((RULES[14], subject, UNK if applies is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[14], subject, UNK, None))
                continue
            due = ts + _REGISTRATION_WINDOW
            if due < EFFECTIVE:
                add((RULES[14], subject, NA, due))
                continue
            a = _by(row[4], due, on)
            deferred = row[5]
            b = U if deferred is ABSENT else deferred is not None
            if a is True or b is True:
                v = True
            elif a is U or b is U:
                v = U
            elif a is P or b is P:
                v = P
            else:
                v = False
            add((RULES[14], subject, _require(v), due))
        # art11.registration_conditions: forbid a registration or a supplementary registration while
        # tuition is unpaid or the conditions are unmet (it carries the year's registration deadline,
        # so a registration due before 2021-11-01 is not judged)
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            if applies is not True:
                add((RULES[15], subject, UNK if applies is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[15], subject, UNK, None))
                continue
            due = ts + _REGISTRATION_WINDOW
            if due < EFFECTIVE:
                add((RULES[15], subject, NA, due))
                continue
            given = _or(_exists(row[4]), _exists(row[6]))
            v = _and(given, _not(_and(_fact(row[2]), _fact(row[3]))))
            add((RULES[15], subject, _forbid(v), due))
        # art11.supplementary_registration: a deferred student who now meets the conditions; not given,
        # pending until the year's registration due date, violated after it; given at any date, it holds
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            when = _and(applies, _not(_exists(row[4])), _exists(row[5]), _fact(row[2]), _fact(row[3]))
            if when is not True:
                add((RULES[16], subject, UNK if when is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[16], subject, UNK, None))
                continue
            due = ts + _REGISTRATION_WINDOW
            if due < EFFECTIVE:
                add((RULES[16], subject, NA, due))
                continue
            supplementary = row[6]
            if supplementary is ABSENT:
                add((RULES[16], subject, UNK, due))
            elif supplementary is None:
                add((RULES[16], subject, PEN if on <= due else VIO, due))
            else:
                add((RULES[16], subject, SAT, due))
        # art12.college_report: by term start + 20 days (end of week 3)
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            if applies is not True:
                add((RULES[17], subject, UNK if applies is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[17], subject, UNK, None))
                continue
            due = ts + _COLLEGE_REPORT_WINDOW
            if due < EFFECTIVE:
                add((RULES[17], subject, NA, due))
            else:
                add((RULES[17], subject, _require(_by(row[7], due, on)), due))
        # art12.annual_e_registration: within one month (clamped)
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            if applies is not True:
                add((RULES[18], subject, UNK if applies is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[18], subject, UNK, None))
                continue
            due = _add_month(ts)
            if due < EFFECTIVE:
                add((RULES[18], subject, NA, due))
            else:
                add((RULES[18], subject, _require(_by(row[8], due, on)), due))

    # art12.cancellation_e_registration: within 15 working days of the decision (arising on it)
    if cancellation is ABSENT:
        add((RULES[19], "student", UNK, None))
    elif cancellation is None:
        add((RULES[19], "student", NA, None))
    else:
        decided = _rdate(cancellation, "decided_on")
        if decided is ABSENT:
            add((RULES[19], "student", UNK, None))
        else:
            try:
                due = cal.add_working_days(decided, _CANCELLATION_WORKING_DAYS)
            except CalendarError as ex:
                if ex.year is None:  # out of the range of dates
                    add((RULES[19], "student", UNK, None))
                else:
                    # a year the calendar does not cover: the due date is not before decided + 15 days
                    bound = decided + dt.timedelta(days=_CANCELLATION_WORKING_DAYS)
                    act = _event(cancellation, "e_registered_on", on)
                    if bound < EFFECTIVE or act is ABSENT:
                        add((RULES[19], "student", UNK, None))
                    elif act is None:
                        add((RULES[19], "student", PEN if on <= bound else UNK, None))
                    else:
                        add((RULES[19], "student", SAT if act <= bound else UNK, None))
            else:
                if due < EFFECTIVE:
                    add((RULES[19], "student", NA, due))
                else:
                    v = _by(_event(cancellation, "e_registered_on", on), due, on)
                    add((RULES[19], "student", _require(v), due))

    # Arts. 13–17, per credential (arising on its issue date; issued after `on`: not held yet)
    diplomas = _list(record, "diplomas")
    if diplomas is ABSENT:
        add((RULES[20], "diplomas", UNK, None))
        add((RULES[21], "diplomas", UNK, None))
        add((RULES[22], "student", UNK, None))
        add((RULES[23], "student", UNK, None))
        if graduation is ABSENT:
            add((RULES[24], "student", UNK, None))
        elif graduation is None:
            add((RULES[24], "student", NA, None))
        elif grad_on is ABSENT:
            add((RULES[24], "student", UNK, None))
        else:
            add((RULES[24], "student", NA if grad_on < EFFECTIVE else UNK, grad_on))
        add((RULES[25], "diplomas", UNK, None))
        add((RULES[26], "diplomas", UNK, None))
        add((RULES[27], "diplomas", UNK, None))
        add((RULES[28], "diplomas", UNK, None))
        add((RULES[29], "diplomas", UNK, None))
        return out
    diplomas = _held(diplomas, "issued_on", on, on_iso)
    issued = [_odate(d, "issued_on") for d in diplomas]  # each credential's day
    n = len(diplomas)
    for i, d in enumerate(diplomas):
        add(
            (RULES[20], f"diplomas[{i}]", _gate(issued[i]) or _require(_exists(_event(d, "e_registered_on", on))), None)
        )
    # kind_matches_outcome(d) = graduation exists and (graduated and graduation or completed and completion)
    if graduation is ABSENT:
        matches: list[Any] = [U] * n
    elif graduation is None:
        matches = [False] * n
    else:
        outcome = _rec(graduation, "outcome")
        matches = []
        for d in diplomas:
            kind = _rec(d, "kind")
            matches.append(
                _or(
                    _and(_eq(outcome, "graduated"), _eq(kind, "graduation")),
                    _and(_eq(outcome, "completed"), _eq(kind, "completion")),
                )
            )
    for i in range(n):
        add((RULES[21], f"diplomas[{i}]", _gate(issued[i]) or _require(matches[i]), None))
    # Art. 14: one credential (arising on the latest issue), only for a registered student (on the first)
    if n == 0:
        add((RULES[22], "student", NA, None))
        add((RULES[23], "student", NA, None))
    elif ABSENT in issued:
        add((RULES[22], "student", UNK, None))
        add((RULES[23], "student", UNK, None))
    else:
        days = [x for x in issued if x is not None]
        add((RULES[22], "student", _gate(max(days) if days else None) or (VIO if n > 1 else SAT), None))
        add((RULES[23], "student", _gate(min(days) if days else None) or _require(registered), None))
    # art14.credential_issued: a graduate or completer has the matching credential issued by graduation.on
    if graduation is ABSENT:
        add((RULES[24], "student", UNK, None))
    elif graduation is None:
        add((RULES[24], "student", NA, None))
    elif grad_on is ABSENT:
        add((RULES[24], "student", UNK, None))
    elif grad_on < EFFECTIVE:
        add((RULES[24], "student", NA, grad_on))
    else:
        first: Any = None
        for i in range(n):
            keep = _and(matches[i], _exists(issued[i]))
            if keep is U:
                first = U
                break
            if keep is True and (first is None or issued[i] < first):
                first = issued[i]
        if first is U:
            add((RULES[24], "student", UNK, grad_on))
        elif first is None:
            add((RULES[24], "student", PEN if on <= grad_on else VIO, grad_on))
        else:
            add((RULES[24], "student", SAT if first <= grad_on else VIO, grad_on))
    minor = _rec(record, "minor_certificate")
    for i, d in enumerate(diplomas):
        if minor is ABSENT:
            add((RULES[25], f"diplomas[{i}]", UNK, None))
        elif minor:
            annotated = _rec(d, "minor_annotated")
            add(
                (
                    RULES[25],
                    f"diplomas[{i}]",
                    _gate(issued[i]) or (UNK if annotated is ABSENT else _require(annotated)),
                    None,
                )
            )
        else:
            add((RULES[25], f"diplomas[{i}]", NA, None))
    # Art. 15: all fourteen fields, a text field that is empty or only white space is not filled in
    for i, d in enumerate(diplomas):
        gate = _gate(issued[i])
        if gate:
            add((RULES[26], f"diplomas[{i}]", gate, None))
            continue
        r = d.get("record")
        if r.__class__ is not dict:
            complete = False
        else:
            complete = True
            for field in _TEXT_FIELDS:
                t = r.get(field)
                if t is None or not t.strip():
                    complete = False
                    break
            if complete:
                for field in _OTHER_FIELDS:
                    if r.get(field) is None:
                        complete = False
                        break
        add((RULES[26], f"diplomas[{i}]", SAT if complete else VIO, None))
    name = _rec(record, "name")
    gender = _rec(record, "gender")
    birth = _rdate(record, "birth_date")
    for i, d in enumerate(diplomas):
        r = _opt(d, "record")
        if r is ABSENT:
            add((RULES[27], f"diplomas[{i}]", UNK, None))
        elif r is None:
            add((RULES[27], f"diplomas[{i}]", NA, None))
        else:
            gate = _gate(issued[i])
            if gate:
                add((RULES[27], f"diplomas[{i}]", gate, None))
                continue
            v = _and(_eq(_opt(r, "name"), name), _eq(_opt(r, "gender"), gender), _eq(_odate(r, "birth_date"), birth))
            add((RULES[27], f"diplomas[{i}]", _require(v), None))
    if graduation is ABSENT:
        for i in range(n):
            add((RULES[28], f"diplomas[{i}]", UNK, None))
    elif graduation is None:
        for i in range(n):
            add((RULES[28], f"diplomas[{i}]", NA, None))
    else:
        for i in range(n):
            add((RULES[28], f"diplomas[{i}]", _gate(issued[i]) or _require(_eq(issued[i], grad_on)), None))
    for i, d in enumerate(diplomas):
        lost = _rec(d, "lost")
        if lost is ABSENT:
            add((RULES[29], f"diplomas[{i}]", UNK, None))
        elif lost:
            gate = _gate(issued[i])
            if gate:
                add((RULES[29], f"diplomas[{i}]", gate, None))
                continue
            v = _and(_fact(_rec(d, "loss_certified")), _fact(_rec(d, "loss_annotated")))
            add((RULES[29], f"diplomas[{i}]", _require(v), None))
        else:
            add((RULES[29], f"diplomas[{i}]", NA, None))
    return out
