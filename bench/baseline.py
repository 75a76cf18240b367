"""The speed limit: the 2021 policy set written by hand in plain Python.

``evaluate(record, on)`` takes a raw record (parsed JSON/YAML: dates as ISO strings) and returns, for
every ``require``/``forbid`` rule of ``policies/2021/*.yaml`` (29 rules; the two invariants are not
judged by ``engine.evaluate`` either) and every subject, a row ``(rule id, subject, outcome, due)`` in
the order ``engine.evaluate`` gives its findings. Outcomes and due dates are meant to be exactly the
engine's, including how absent facts combine (Kleene: ``false and unknown`` is false), the Art. 22
cut-off (an obligation due before 2021-11-01 is ``not_applicable``) and the working-day calendar
(``engine.lang.calendar.WorkCalendar``, a leaf module, with the bundled ``policies/calendar.yaml``).

What it does not do, and the engine does: validate the record (types, enums, dates that do not
exist), collect the missing paths of ``unknown`` findings, keep the facts each rule read and the
messages, and interpret a policy written in a policy language. It parses only the dates it reads.

Three-valued logic: a fact is :data:`ABSENT` when the record lacks its key (or holds ``null`` where
"none" makes no sense); a condition is ``True``, ``False``, :data:`U` (unknown: an absent fact could
change it) or :data:`P` (pending: a deadline ahead of ``on`` not met yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import yaml

from bench.records import RECORD_FIELDS
from engine.diagnostics import CalendarError
from engine.lang.calendar import WorkCalendar
from engine.resources import bundled_policy_dir

__all__ = ["ABSENT", "EFFECTIVE", "RULES", "Row", "default_calendar", "evaluate"]

Row = tuple[str, str, str, dt.date | None]

EFFECTIVE: Final = dt.date(2021, 11, 1)  # Art. 22; policies/xueji.yaml `effective`


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
    "art14.minor_annotated",
    "art15.record_complete",
    "art15.record_matches_student",
    "art16.issued_on_graduation_date",
    "art17.lost_credential_certified",
)

_RECORD_FIELDS: Final = RECORD_FIELDS  # the fourteen fields of Art. 15
_MARKED_QUALIFICATIONS: Final = frozenset(("given_up", "retained", "cancelled"))
_fromiso = dt.date.fromisoformat


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


def _fact(v: Any) -> Any:
    """A boolean fact as a truth value: U when absent."""
    return U if v is ABSENT else v


def _exists(v: Any) -> Any:
    return U if v is ABSENT else v is not None


def _eq(a: Any, b: Any) -> Any:
    return U if a is ABSENT or b is ABSENT else a == b


def _and(*vs: Any) -> Any:
    """Kleene conjunction of True / False / U."""
    unknown = False
    for v in vs:
        if v is False:
            return False
        if v is U:
            unknown = True
    return U if unknown else True


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

    out: list[Row] = []
    add = out.append
    adm = _rec(record, "admission")
    reg = _rec(record, "registration")
    registered_on = _date(reg.get("registered_on")) if reg is not ABSENT else ABSENT  # absent means none
    registered: Any = U if reg is ABSENT else registered_on is not None

    # Art. 3
    if registered is True:
        add((RULES[0], "student", _require(_fact(_rec(adm, "data_reviewed"))), None))
    else:
        add((RULES[0], "student", UNK if registered is U else NA, None))

    # Art. 4
    recheck = _rec(adm, "recheck")
    qualification = _rec(adm, "qualification")
    if registered is True:
        add((RULES[1], "student", UNK if recheck is ABSENT else (SAT if recheck == "passed" else VIO), None))
    else:
        add((RULES[1], "student", UNK if registered is U else NA, None))
    if recheck is ABSENT:
        add((RULES[2], "student", UNK, None))
    elif recheck == "failed":
        add((RULES[2], "student", UNK if qualification is ABSENT else _require(qualification == "cancelled"), None))
    else:
        add((RULES[2], "student", NA, None))
    if qualification is ABSENT:
        add((RULES[3], "student", UNK, None))
    elif qualification in _MARKED_QUALIFICATIONS:
        add((RULES[3], "student", _require(_fact(_rec(adm, "qualification_marked"))), None))
    else:
        add((RULES[3], "student", NA, None))

    # Art. 5
    adm_level = _rec(adm, "level")
    when = _and(U if adm_level is ABSENT else adm_level == "preparatory", registered)
    if when is True:
        rl = _opt(reg, "level")
        add((RULES[4], "student", UNK if rl is ABSENT else _require(rl == "preparatory"), None))
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
        promoted = _odate(prep, "promoted_on")
        if promoted is ABSENT:
            add((RULES[5], "student", UNK, None))
        elif promoted is None:
            add((RULES[5], "student", NA, None))
        else:
            due = dt.date(promoted.year, 12, 31)
            if due < EFFECTIVE:
                add((RULES[5], "student", NA, due))
            else:
                add((RULES[5], "student", _require(_by(_odate(prep, "filed_on"), due, on)), due))
        new_reg = _odate(prep, "registered_on")
        if new_reg is ABSENT:
            add((RULES[6], "student", UNK, None))
        elif new_reg is None:
            add((RULES[6], "student", NA, None))
        else:
            filed = _odate(prep, "filed_on")
            add(
                (
                    RULES[6],
                    "student",
                    UNK if filed is ABSENT else _require(filed is not None and new_reg >= filed),
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
        marked = _rec(adm, "plan_marked")
        add((RULES[7], "student", UNK if marked is ABSENT else _require(marked), None))

    # Art. 7: no two full-time statuses overlap ([from, to), to = none never ends)
    statuses = _list(record, "full_time_statuses")
    if statuses is ABSENT:
        add((RULES[8], "full_time_statuses", UNK, None))
    else:
        periods = [(_rdate(s, "from"), _odate(s, "to")) for s in statuses]
        for i, (a1, b1) in enumerate(periods):
            unknown = False
            overlap = False
            for j, (a2, b2) in enumerate(periods):
                if j == i:
                    continue
                if a1 is ABSENT or b1 is ABSENT or a2 is ABSENT or b2 is ABSENT:
                    unknown = True
                elif (b1 is None or a2 < b1) and (b2 is None or a1 < b2):
                    overlap = True
                    break
            add((RULES[8], f"full_time_statuses[{i}]", VIO if overlap else (UNK if unknown else SAT), None))
    joint = _opt(record, "joint_training")
    if joint is ABSENT:
        add((RULES[9], "student", UNK, None))
    elif joint is None:
        add((RULES[9], "student", NA, None))
    else:
        eq = _eq(_rec(joint, "registered_school"), _rec(joint, "admitting_school"))
        add((RULES[9], "student", _require(eq), None))

    # Art. 8
    issue = _opt(adm, "data_issue")
    when = _and(_exists(issue), registered)
    if when is True:
        reported = _odate(adm, "data_issue_reported_on")
        resolved = _odate(adm, "data_issue_resolved_on")
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
        notified = _odate(reg, "student_notified_on")
        v = _exists(notified)
        if v is not False:
            v = _and(v, _cmp_le(registered_on, notified))
        add((RULES[11], "student", _require(v), None))
    else:
        add((RULES[11], "student", UNK if registered is U else NA, None))

    # -- academic years, parsed once: (year, term_start, paid, met, registered, deferred,
    #    supplementary, reported, e-registered)
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
                    _odate(y, "registered_on"),
                    _odate(y, "deferred_on"),
                    _odate(y, "supplementary_registered_on"),
                    _odate(y, "college_reported_on"),
                    _odate(y, "e_registered_on"),
                )
            )

    # Art. 10: a status change is marked by the e-registration due date of the next year on record
    changes = _list(record, "status_changes")
    if changes is ABSENT:
        add((RULES[12], "status_changes", UNK, None))
    else:
        for i, c in enumerate(changes):
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
                    add((RULES[12], subject, _require(_by(_odate(c, "marked_on"), due, on)), due))
    certificates = _list(record, "certificates")
    if certificates is ABSENT:
        add((RULES[13], "certificates", UNK, None))
    else:
        for i, cert in enumerate(certificates):
            marked = _rec(cert, "marked")
            add((RULES[13], f"certificates[{i}]", UNK if marked is ABSENT else _require(marked), None))

    # Arts. 11–12, per academic year
    if years is ABSENT:
        for k in (14, 15, 16, 17, 18):
            add((RULES[k], "academic_years", UNK, None))
    else:
        adm_year = _rec(adm, "year")
        graduation = _opt(record, "graduation")
        cancellation = _opt(record, "cancellation")
        grad_on = _rdate(graduation, "on") if graduation.__class__ is dict else graduation
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
            due = ts + dt.timedelta(days=14)
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
        # art11.registration_conditions: forbid registered while tuition unpaid or conditions unmet
        # (it carries the year's registration deadline, so a registration due before 2021-11-01 is
        # not judged)
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            if applies is not True:
                add((RULES[15], subject, UNK if applies is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[15], subject, UNK, None))
                continue
            due = ts + dt.timedelta(days=14)
            if due < EFFECTIVE:
                add((RULES[15], subject, NA, due))
                continue
            inner = _and(_fact(row[2]), _fact(row[3]))
            v = _and(_exists(row[4]), U if inner is U else not inner)
            add((RULES[15], subject, _forbid(v), due))
        # art11.supplementary_registration: a deferred student who now meets the conditions (same
        # deadline as above)
        for i, (row, applies) in enumerate(zip(rows, applies_list, strict=True)):
            subject = f"academic_years[{i}]"
            when = _and(
                applies,
                row[4] is ABSENT or row[4] is None,
                _exists(row[5]),
                _fact(row[2]),
                _fact(row[3]),
            )
            if when is not True:
                add((RULES[16], subject, UNK if when is U else NA, None))
                continue
            ts = row[1]
            if ts is ABSENT:
                add((RULES[16], subject, UNK, None))
                continue
            due = ts + dt.timedelta(days=14)
            if due < EFFECTIVE:
                add((RULES[16], subject, NA, due))
            else:
                add((RULES[16], subject, _require(_exists(row[6])), due))
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
            due = ts + dt.timedelta(days=20)
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

    # art12.cancellation_e_registration: within 15 working days of the decision
    cancellation = _opt(record, "cancellation")
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
                due = cal.add_working_days(decided, 15)
            except CalendarError:
                add((RULES[19], "student", UNK, None))
            else:
                if due < EFFECTIVE:
                    add((RULES[19], "student", NA, due))
                else:
                    v = _by(_odate(cancellation, "e_registered_on"), due, on)
                    add((RULES[19], "student", _require(v), due))

    # Arts. 13–17, per credential
    diplomas = _list(record, "diplomas")
    graduation = _opt(record, "graduation")
    if diplomas is ABSENT:
        add((RULES[20], "diplomas", UNK, None))
        add((RULES[21], "diplomas", UNK, None))
    else:
        for i, d in enumerate(diplomas):
            add((RULES[20], f"diplomas[{i}]", _require(_exists(_opt(d, "e_registered_on"))), None))
        if graduation is ABSENT or graduation is None:
            gx = U if graduation is ABSENT else False
            for i in range(len(diplomas)):
                add((RULES[21], f"diplomas[{i}]", _require(gx), None))
        else:
            outcome = _rec(graduation, "outcome")
            for i, d in enumerate(diplomas):
                kind = _rec(d, "kind")
                v1 = _and(_eq(outcome, "graduated"), _eq(kind, "graduation"))
                v2 = _and(_eq(outcome, "completed"), _eq(kind, "completion"))
                v = True if v1 is True or v2 is True else (U if v1 is U or v2 is U else False)
                add((RULES[21], f"diplomas[{i}]", _require(v), None))
    if diplomas is ABSENT:
        add((RULES[22], "student", UNK, None))
        add((RULES[23], "student", UNK, None))
        add((RULES[24], "diplomas", UNK, None))
        add((RULES[25], "diplomas", UNK, None))
        add((RULES[26], "diplomas", UNK, None))
        add((RULES[27], "diplomas", UNK, None))
        add((RULES[28], "diplomas", UNK, None))
        return out
    n = len(diplomas)
    add((RULES[22], "student", (VIO if n > 1 else SAT) if n > 0 else NA, None))
    if n > 0:
        add((RULES[23], "student", _require(registered), None))
    else:
        add((RULES[23], "student", NA, None))
    minor = _rec(record, "minor_certificate")
    for i, d in enumerate(diplomas):
        if minor is ABSENT:
            add((RULES[24], f"diplomas[{i}]", UNK, None))
        elif minor:
            annotated = _rec(d, "minor_annotated")
            add((RULES[24], f"diplomas[{i}]", UNK if annotated is ABSENT else _require(annotated), None))
        else:
            add((RULES[24], f"diplomas[{i}]", NA, None))
    for i, d in enumerate(diplomas):
        r = d.get("record")
        complete = r.__class__ is dict and all(r.get(k) is not None for k in _RECORD_FIELDS)
        add((RULES[25], f"diplomas[{i}]", SAT if complete else VIO, None))
    name = _rec(record, "name")
    gender = _rec(record, "gender")
    birth = _rdate(record, "birth_date")
    for i, d in enumerate(diplomas):
        r = _opt(d, "record")
        if r is ABSENT:
            add((RULES[26], f"diplomas[{i}]", UNK, None))
        elif r is None:
            add((RULES[26], f"diplomas[{i}]", NA, None))
        else:
            v = _and(_eq(_opt(r, "name"), name), _eq(_opt(r, "gender"), gender), _eq(_odate(r, "birth_date"), birth))
            add((RULES[26], f"diplomas[{i}]", _require(v), None))
    if graduation is ABSENT:
        for i in range(n):
            add((RULES[27], f"diplomas[{i}]", UNK, None))
    elif graduation is None:
        for i in range(n):
            add((RULES[27], f"diplomas[{i}]", NA, None))
    else:
        grad_on = _rdate(graduation, "on")
        for i, d in enumerate(diplomas):
            add((RULES[27], f"diplomas[{i}]", _require(_eq(_odate(d, "issued_on"), grad_on)), None))
    for i, d in enumerate(diplomas):
        lost = _rec(d, "lost")
        if lost is ABSENT:
            add((RULES[28], f"diplomas[{i}]", UNK, None))
        elif lost:
            v = _and(_fact(_rec(d, "loss_certified")), _fact(_rec(d, "loss_annotated")))
            add((RULES[28], f"diplomas[{i}]", _require(v), None))
        else:
            add((RULES[28], f"diplomas[{i}]", NA, None))
    return out


def _cmp_le(a: Any, b: Any) -> Any:
    """``a <= b`` on dates that may be absent (U); None never reaches here (guarded by `exists`)."""
    if a is ABSENT or b is ABSENT:
        return U
    return a <= b
