"""The same 30 rules written for two peer engines from PyPI: ``rule-engine`` and CEL.

* ``rule-engine`` (https://pypi.org/project/rule-engine/, pure Python): its own expression language
  over Python objects, with date/time-delta arithmetic, comprehensions, ``$any``/``$all``, ``?:`` and
  safe navigation (``&.``, ``&[...]``).
* CEL through ``common-expression-language`` (https://pypi.org/project/common-expression-language/,
  Rust ``cel`` crate behind PyO3). Chosen over ``cel-python`` (see ``bench/README.md``): more recent and
  more frequent releases, typed (``py.typed`` + stubs), wheels for 3.11–3.14, no ``lark`` pin to share
  with the engine, and ~150× faster per expression here (cel-python ~90 µs compiled, this ~0.5 µs).

Each rule is four expressions in the peer's language, compiled once: ``when`` (applies?), ``arises``
(the day the obligation arises: a date, or null when it has not), ``due`` (the deadline, for rules that
have one) and ``cond`` (``true``/``false``, or ``"pending"`` for ``act by due`` while ``on <= due`` and
the act is not done). A small Python driver — the same for both peers — binds the subject (one per
element for a rule over a collection), runs the expressions, turns a null day into ``not_applicable``
(not arisen), ``due < 2021-11-01`` — or, without a deadline, a day before it — into ``not_applicable``
(Art. 22) and any evaluation error (a missing key) into ``unknown``. That is the work
``engine.evaluate`` does per record: every rule over every subject. (There is one version of the
measures, so the day only decides the Art. 22 cut, and the Arts. 11–12 windows are literals.) The
minimum / maximum issue date (Art. 14) is a comprehension in both languages: neither has ``min`` of
dates.

Each record is first converted in Python, as ``engine.evaluate`` validates, cuts and parses it: the
record as of ``on`` (``dated:`` in ``policies/schema.yaml``: an act dated after ``on`` becomes null, a
status, status change, certificate or credential dated after it is left out of its list, a
cancellation or graduation becomes null), ISO dates become the peer's date type,
``registration.registered_on`` absent becomes null (the contract says so), and the dates a peer's
language cannot compute are computed and attached to the record:

=====================================  ==================================  =========================
rule                                   computed in Python                  why
=====================================  ==================================  =========================
art12.cancellation_e_registration      ``decided_on + 15 working days``,   working-day calendar
                                       or its bound ``decided_on + 15
                                       days`` when the calendar lacks
                                       the year (``_due`` null)
art12.annual_e_registration            ``term_start + 1 month`` (clamped)  no calendar-month arithmetic
art10.status_change_marked             ``next term start + 1 month``       no calendar-month arithmetic
art5.promotion_filed_in_year_of_move   ``end_of_year(promoted_on)``        rule-engine only: it cannot
                                                                           build a date from a year
                                                                           (CEL does: ``timestamp()``)
art4 (the day of one not registered)  ``1 January of admission.year``     rule-engine only, as above
=====================================  ==================================  =========================

Both peers also get an index ``_i`` on each full-time status so that Art. 7 can tell "another status"
from an equal one (neither language has object identity).

Absent facts: CEL's ``&&``/``||``/``exists`` absorb errors (``false && error`` is false), which is
Kleene logic, so CEL agrees with the engine on records with absent keys too, except where the engine's
``min(...)`` is strict; rule-engine stops at the first missing key, so a rule that the engine decides
despite an absent fact (``false and ?``) can come out ``unknown`` here. ``bench.run`` counts the
findings on which each peer agrees with the engine; the timing, not the agreement, is the point.
Neither peer reads a ``null`` where the schema reads it as absent (a non-nullable field).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

import cel
import rule_engine  # type: ignore[import-untyped]

from engine.diagnostics import CalendarError
from engine.lang.calendar import WorkCalendar

from .baseline import EFFECTIVE, RULES, Row, default_calendar

__all__ = ["CelPeer", "Peer", "RuleEnginePeer", "RuleSpec"]

SAT, VIO, PEN, NA, UNK = "satisfied", "violated", "pending", "not_applicable", "unknown"


class RuleSpec(NamedTuple):
    id: str
    loop: str | None  # the collection a `for` rule ranges over
    arises: str | None  # the day the obligation arises (a date, or null: it has not arisen)
    when: str | None
    due: str | None
    cond: str
    forbid: bool = False


#: Art. 15's fourteen fields: the text fields (not filled in when null or blank) and the others
_TEXT14: Final = '["name", "gender", "photo", "major", "school_name", "president_name", "certificate_number"]'
_OTHER14: Final = '["birth_date", "study_start", "study_end", "level", "schooling_years", "outcome", "study_form"]'
_BLANK: Final = r'"^\\s*$"'  # empty or only white space (Unicode \s: U+3000 and U+00A0 included)

# The element of a `for` rule is written `{x}`; each peer substitutes its own binding.


def _cel_rules() -> list[RuleSpec]:
    registered = "s.registration.registered_on != null"
    reg_day = "s.registration.registered_on"
    # Art. 4: the registration, or for a student not registered 1 January of the admission year
    recheck_day = f'{registered} ? {reg_day} : timestamp(string(s.admission.year) + "-01-01T00:00:00Z")'
    applies = (
        f"{registered} && {{x}}.year > s.admission.year"
        " && (s.graduation == null || {x}.term_start < s.graduation.on)"
        " && (s.cancellation == null || {x}.term_start < s.cancellation.decided_on)"
    )

    def by(act: str) -> str:
        return f'{act} == null ? (on <= due ? "pending" : false) : {act} <= due'

    def kind_matches(d: str) -> str:
        return (
            f's.graduation != null && (s.graduation.outcome == "graduated" && {d}.kind == "graduation"'
            f' || s.graduation.outcome == "completed" && {d}.kind == "completion")'
        )

    def extreme(cmp: str) -> str:  # min (<=) or max (>=) of the credentials' issue dates; null when none
        return (
            "s.diplomas.filter(d, d.issued_on != null).size() == 0 ? null"
            " : s.diplomas.filter(a, a.issued_on != null"
            f" && s.diplomas.all(b, b.issued_on == null || a.issued_on {cmp} b.issued_on))[0].issued_on"
        )

    matching = f"{kind_matches('d')} && d.issued_on != null"
    lasts = "({s}.to == null || {s}.from < {s}.to)"
    return [
        RuleSpec(RULES[0], None, reg_day, registered, None, "s.admission.data_reviewed"),
        RuleSpec(RULES[1], None, reg_day, registered, None, 's.admission.recheck == "passed"'),
        RuleSpec(
            RULES[2],
            None,
            recheck_day,
            's.admission.recheck == "failed"',
            None,
            's.admission.qualification == "cancelled"',
        ),
        RuleSpec(
            RULES[3],
            None,
            recheck_day,
            's.admission.qualification in ["given_up", "retained", "cancelled"]',
            None,
            "s.admission.qualification_marked",
        ),
        RuleSpec(
            RULES[4],
            None,
            reg_day,
            f's.admission.level == "preparatory" && {registered}',
            None,
            's.registration.level == "preparatory"',
        ),
        RuleSpec(
            RULES[5],
            None,
            "s.preparatory.promoted_on",
            "s.preparatory != null && s.preparatory.promoted_on != null",
            'timestamp(string(s.preparatory.promoted_on.getFullYear()) + "-12-31T00:00:00Z")',
            's.preparatory.filed_on == null ? (on <= due ? "pending" : false)'
            " : s.preparatory.filed_on <= due"
            " && s.preparatory.filed_on.getFullYear() == s.preparatory.promoted_on.getFullYear()",
        ),
        RuleSpec(
            RULES[6],
            None,
            "s.preparatory.promoted_on",
            "s.preparatory != null && s.preparatory.registered_on != null",
            None,
            "s.preparatory.filed_on != null && s.preparatory.registered_on >= s.preparatory.filed_on",
        ),
        RuleSpec(RULES[7], None, reg_day, "s.admission.plan != null", None, "s.admission.plan_marked"),
        RuleSpec(
            RULES[8],
            "full_time_statuses",
            "{x}.from",
            None,
            None,
            lasts.format(s="{x}") + " && s.full_time_statuses.exists(o, o._i != i && " + lasts.format(s="o") + ""
            " && ({x}.to == null || o.from < {x}.to) && (o.to == null || {x}.from < o.to))",
            forbid=True,
        ),
        RuleSpec(
            RULES[9],
            None,
            reg_day,
            "s.joint_training != null",
            None,
            "s.joint_training.registered_school == s.joint_training.admitting_school",
        ),
        RuleSpec(
            RULES[10],
            None,
            reg_day,
            f"s.admission.data_issue != null && {registered}",
            None,
            "s.admission.data_issue_reported_on != null && s.admission.data_issue_resolved_on != null"
            " && s.admission.data_issue_reported_on <= s.admission.data_issue_resolved_on"
            " && s.registration.registered_on >= s.admission.data_issue_resolved_on",
        ),
        RuleSpec(
            RULES[11],
            None,
            reg_day,
            registered,
            None,
            "s.registration.student_notified_on != null"
            " && s.registration.student_notified_on >= s.registration.registered_on",
        ),
        RuleSpec(
            RULES[12],
            "status_changes",
            "{x}.on",
            "s.academic_years.filter(y, y.term_start > {x}.on).size() > 0",
            "{x}._marking_due",
            by("{x}.marked_on"),
        ),
        RuleSpec(RULES[13], "certificates", "{x}.issued_on", None, None, "{x}.marked"),
        RuleSpec(
            RULES[14],
            "academic_years",
            "{x}.term_start",
            applies,
            '{x}.term_start + duration("336h")',
            "({x}.registered_on != null && {x}.registered_on <= due) || {x}.deferred_on != null ? true"
            ' : ({x}.registered_on == null && on <= due ? "pending" : false)',
        ),
        RuleSpec(
            RULES[15],
            "academic_years",
            "{x}.term_start",
            applies,
            '{x}.term_start + duration("336h")',
            "({x}.registered_on != null || {x}.supplementary_registered_on != null)"
            " && !({x}.tuition_paid && {x}.conditions_met)",
            forbid=True,
        ),
        RuleSpec(
            RULES[16],
            "academic_years",
            "{x}.term_start",
            f"{applies} && {{x}}.registered_on == null && {{x}}.deferred_on != null"
            " && {x}.tuition_paid && {x}.conditions_met",
            '{x}.term_start + duration("336h")',
            '{x}.supplementary_registered_on != null ? true : (on <= due ? "pending" : false)',
        ),
        RuleSpec(
            RULES[17],
            "academic_years",
            "{x}.term_start",
            applies,
            '{x}.term_start + duration("480h")',
            by("{x}.college_reported_on"),
        ),
        RuleSpec(RULES[18], "academic_years", "{x}.term_start", applies, "{x}._e_due", by("{x}.e_registered_on")),
        RuleSpec(
            RULES[19],
            None,
            "s.cancellation.decided_on",
            "s.cancellation != null",
            "s.cancellation._due",
            # a due date the calendar cannot give (`_due` null): decided by its bound where it can be,
            # else unknown (`_not_settled` is never there: reading it is an error)
            "s.cancellation._due != null ? (" + by("s.cancellation.e_registered_on") + ")"
            ' : s.cancellation.e_registered_on == null ? (on <= s.cancellation._bound ? "pending"'
            " : s.cancellation._not_settled)"
            " : (s.cancellation.e_registered_on <= s.cancellation._bound ? true : s.cancellation._not_settled)",
        ),
        RuleSpec(RULES[20], "diplomas", "{x}.issued_on", None, None, "{x}.e_registered_on != null"),
        RuleSpec(RULES[21], "diplomas", "{x}.issued_on", None, None, kind_matches("{x}")),
        RuleSpec(RULES[22], None, extreme(">="), "size(s.diplomas) > 0", None, "size(s.diplomas) > 1", forbid=True),
        RuleSpec(RULES[23], None, extreme("<="), "size(s.diplomas) > 0", None, registered),
        RuleSpec(
            RULES[24],
            None,
            "s.graduation.on",
            "s.graduation != null",
            "s.graduation.on",
            f'size(s.diplomas.filter(d, {matching})) == 0 ? (on <= due ? "pending" : false)'
            f" : s.diplomas.exists(d, {matching} && d.issued_on <= due)",
        ),
        RuleSpec(RULES[25], "diplomas", "{x}.issued_on", "s.minor_certificate", None, "{x}.minor_annotated"),
        RuleSpec(
            RULES[26],
            "diplomas",
            "{x}.issued_on",
            None,
            None,
            "has({x}.record) && {x}.record != null"
            f" && {_TEXT14}.all(f, f in {{x}}.record && {{x}}.record[f] != null && !{{x}}.record[f].matches({_BLANK}))"
            f" && {_OTHER14}.all(f, f in {{x}}.record && {{x}}.record[f] != null)",
        ),
        RuleSpec(
            RULES[27],
            "diplomas",
            "{x}.issued_on",
            "{x}.record != null",
            None,
            "{x}.record.name == s.name && {x}.record.gender == s.gender && {x}.record.birth_date == s.birth_date",
        ),
        RuleSpec(
            RULES[28], "diplomas", "{x}.issued_on", "s.graduation != null", None, "{x}.issued_on == s.graduation.on"
        ),
        RuleSpec(RULES[29], "diplomas", "{x}.issued_on", "{x}.lost", None, "{x}.loss_certified && {x}.loss_annotated"),
    ]


def _rule_engine_rules() -> list[RuleSpec]:
    registered = "reg['registered_on'] != null"
    reg_day = "reg['registered_on']"
    recheck_day = f"{registered} ? {reg_day} : adm['_year_start']"  # Art. 4, as for CEL
    applies = (
        f"{registered} and {{x}}['year'] > adm['year']"
        " and (grad == null or {x}['term_start'] < grad['on'])"
        " and (canc == null or {x}['term_start'] < canc['decided_on'])"
    )

    def by(act: str) -> str:
        return f'{act} == null ? (on <= due ? "pending" : false) : {act} <= due'

    def kind_matches(d: str) -> str:
        return (
            f'grad != null and (grad["outcome"] == "graduated" and {d}["kind"] == "graduation"'
            f' or grad["outcome"] == "completed" and {d}["kind"] == "completion")'
        )

    def extreme(cmp: str) -> str:  # min (<=) or max (>=) of the credentials' issue dates; null when none
        days = "[d['issued_on'] for d in diplomas if d['issued_on'] != null]"
        return f"{days}.length == 0 ? null : [a for a in {days} if $all([a {cmp} b for b in {days}])][0]"

    matching = f"{kind_matches('d')} and d['issued_on'] != null"
    lasts = "({s}['to'] == null or {s}['from'] < {s}['to'])"
    return [
        RuleSpec(RULES[0], None, reg_day, registered, None, "adm['data_reviewed']"),
        RuleSpec(RULES[1], None, reg_day, registered, None, 'adm["recheck"] == "passed"'),
        RuleSpec(
            RULES[2],
            None,
            recheck_day,
            'adm["recheck"] == "failed"',
            None,
            'adm["qualification"] == "cancelled"',
        ),
        RuleSpec(
            RULES[3],
            None,
            recheck_day,
            'adm["qualification"] in ["given_up", "retained", "cancelled"]',
            None,
            "adm['qualification_marked']",
        ),
        RuleSpec(
            RULES[4],
            None,
            reg_day,
            f'adm["level"] == "preparatory" and {registered}',
            None,
            'reg["level"] == "preparatory"',
        ),
        RuleSpec(
            RULES[5],
            None,
            "prep['promoted_on']",
            "prep != null and prep['promoted_on'] != null",
            "prep['_filing_due']",
            "prep['filed_on'] == null ? (on <= due ? \"pending\" : false)"
            " : (prep['filed_on'] <= due and prep['filed_on'].year == prep['promoted_on'].year)",
        ),
        RuleSpec(
            RULES[6],
            None,
            "prep['promoted_on']",
            "prep != null and prep['registered_on'] != null",
            None,
            "prep['filed_on'] != null and prep['registered_on'] >= prep['filed_on']",
        ),
        RuleSpec(RULES[7], None, reg_day, "adm['plan'] != null", None, "adm['plan_marked']"),
        RuleSpec(
            RULES[8],
            "full_time_statuses",
            "{x}['from']",
            None,
            None,
            lasts.format(s="{x}") + " and $any([" + lasts.format(s="o") + ""
            " and ({x}['to'] == null or o['from'] < {x}['to']) and (o['to'] == null or {x}['from'] < o['to'])"
            " for o in statuses if o['_i'] != i])",
            forbid=True,
        ),
        RuleSpec(
            RULES[9],
            None,
            reg_day,
            "joint != null",
            None,
            "joint['registered_school'] == joint['admitting_school']",
        ),
        RuleSpec(
            RULES[10],
            None,
            reg_day,
            f"adm['data_issue'] != null and {registered}",
            None,
            "adm['data_issue_reported_on'] != null and adm['data_issue_resolved_on'] != null"
            " and adm['data_issue_reported_on'] <= adm['data_issue_resolved_on']"
            " and reg['registered_on'] >= adm['data_issue_resolved_on']",
        ),
        RuleSpec(
            RULES[11],
            None,
            reg_day,
            registered,
            None,
            "reg['student_notified_on'] != null and reg['student_notified_on'] >= reg['registered_on']",
        ),
        RuleSpec(
            RULES[12],
            "status_changes",
            "{x}['on']",
            "[y for y in years if y['term_start'] > {x}['on']].length > 0",
            "{x}['_marking_due']",
            by("{x}['marked_on']"),
        ),
        RuleSpec(RULES[13], "certificates", "{x}['issued_on']", None, None, "{x}['marked']"),
        RuleSpec(
            RULES[14],
            "academic_years",
            "{x}['term_start']",
            applies,
            '{x}["term_start"] + t"P14D"',
            '({x}["registered_on"] != null and {x}["registered_on"] <= due) or {x}["deferred_on"] != null ? true'
            ' : ({x}["registered_on"] == null and on <= due ? "pending" : false)',
        ),
        RuleSpec(
            RULES[15],
            "academic_years",
            "{x}['term_start']",
            applies,
            '{x}["term_start"] + t"P14D"',
            "({x}['registered_on'] != null or {x}['supplementary_registered_on'] != null)"
            " and not ({x}['tuition_paid'] and {x}['conditions_met'])",
            forbid=True,
        ),
        RuleSpec(
            RULES[16],
            "academic_years",
            "{x}['term_start']",
            # the year's own facts first: rule-engine stops at the first absent fact (no Kleene logic)
            "{x}['registered_on'] == null and {x}['deferred_on'] != null"
            f" and {{x}}['tuition_paid'] and {{x}}['conditions_met'] and {applies}",
            '{x}["term_start"] + t"P14D"',
            "{x}['supplementary_registered_on'] != null ? true : (on <= due ? \"pending\" : false)",
        ),
        RuleSpec(
            RULES[17],
            "academic_years",
            "{x}['term_start']",
            applies,
            '{x}["term_start"] + t"P20D"',
            by("{x}['college_reported_on']"),
        ),
        RuleSpec(
            RULES[18], "academic_years", "{x}['term_start']", applies, "{x}['_e_due']", by("{x}['e_registered_on']")
        ),
        RuleSpec(
            RULES[19],
            None,
            "canc['decided_on']",
            "canc != null",
            "canc['_due']",
            # as for CEL: `_due` null → decided by the bound where it can be, else unknown
            "canc['_due'] != null ? (" + by("canc['e_registered_on']") + ")"
            " : (canc['e_registered_on'] == null ? (on <= canc['_bound'] ? \"pending\" : canc['_not_settled'])"
            " : (canc['e_registered_on'] <= canc['_bound'] ? true : canc['_not_settled']))",
        ),
        RuleSpec(RULES[20], "diplomas", "{x}['issued_on']", None, None, "{x}['e_registered_on'] != null"),
        RuleSpec(RULES[21], "diplomas", "{x}['issued_on']", None, None, kind_matches("{x}")),
        RuleSpec(RULES[22], None, extreme(">="), "diplomas.length > 0", None, "diplomas.length > 1", forbid=True),
        RuleSpec(RULES[23], None, extreme("<="), "diplomas.length > 0", None, registered),
        RuleSpec(
            RULES[24],
            None,
            "grad['on']",
            "grad != null",
            "grad['on']",
            f'[d for d in diplomas if {matching}].length == 0 ? (on <= due ? "pending" : false)'
            f" : $any([d['issued_on'] <= due for d in diplomas if {matching}])",
        ),
        RuleSpec(RULES[25], "diplomas", "{x}['issued_on']", "minor_certificate", None, "{x}['minor_annotated']"),
        RuleSpec(
            RULES[26],
            "diplomas",
            "{x}['issued_on']",
            None,
            None,
            f"{{x}}&['record'] != null"
            " and $all([({x}['record']&[f] == null ? false"
            f" : not ({{x}}['record'][f] =~ {_BLANK})) for f in {_TEXT14}])"
            f" and $all([{{x}}['record']&[f] != null for f in {_OTHER14}])",
        ),
        RuleSpec(
            RULES[27],
            "diplomas",
            "{x}['issued_on']",
            "{x}['record'] != null",
            None,
            "{x}['record']['name'] == name and {x}['record']['gender'] == gender"
            " and {x}['record']['birth_date'] == birth_date",
        ),
        RuleSpec(RULES[28], "diplomas", "{x}['issued_on']", "grad != null", None, "{x}['issued_on'] == grad['on']"),
        RuleSpec(
            RULES[29],
            "diplomas",
            "{x}['issued_on']",
            "{x}['lost']",
            None,
            "{x}['loss_certified'] and {x}['loss_annotated']",
        ),
    ]


# ------------------------------------------------------------------------------------ record conversion

#: How judging as of `on` cuts each part of the record (``dated:`` in policies/schema.yaml), and its
#: other dates: part → (its `dated: exists` date or None, its `dated: event` dates, its dates never cut).
_DATES: Final[dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]]] = {
    "admission": (None, ("data_issue_reported_on", "data_issue_resolved_on"), ()),
    "registration": (None, ("registered_on", "student_notified_on"), ()),
    "preparatory": (None, ("promoted_on", "filed_on", "registered_on"), ()),
    "cancellation": ("decided_on", ("e_registered_on",), ()),
    "graduation": ("on", (), ()),
}
_LIST_DATES: Final[dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]]] = {
    "full_time_statuses": ("from", ("to",), ()),
    "academic_years": (
        None,
        ("registered_on", "deferred_on", "supplementary_registered_on", "college_reported_on", "e_registered_on"),
        ("term_start",),
    ),
    "status_changes": ("on", ("marked_on",), ()),
    "certificates": ("issued_on", (), ()),
    "diplomas": ("issued_on", ("e_registered_on",), ()),
}


def _add_month(d: dt.date) -> dt.date:
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    try:
        return d.replace(year=y, month=m)
    except ValueError:
        return dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)


def _parse(v: Any) -> Any:
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def convert(
    record: Mapping[str, Any],
    on: dt.date,
    to_peer: Callable[[dt.date], Any],
    cal: WorkCalendar,
    *,
    python_dates: bool,
) -> dict[str, Any]:
    """``record`` as of ``on``, with its dates in the peer's type and the dates the peer cannot compute
    attached (``python_dates``: also those rule-engine cannot, a date built from a year)."""

    def dates(obj: Any, spec: tuple[str | None, tuple[str, ...], tuple[str, ...]]) -> Any:
        """A copy of ``obj`` as of ``on`` (None: it does not exist yet), its dates converted."""
        if not isinstance(obj, dict):
            return obj
        exists, events, plain = spec
        out = dict(obj)
        if exists is not None:
            v = _parse(out.get(exists))
            if v is not None:
                if v > on:
                    return None
                out[exists] = to_peer(v)
        for f in events:
            v = _parse(out.get(f))
            if v is not None:
                out[f] = None if v > on else to_peer(v)
        for f in plain:
            v = _parse(out.get(f))
            if v is not None:
                out[f] = to_peer(v)
        return out

    out = dict(record)
    if isinstance(out.get("birth_date"), str | dt.date):
        out["birth_date"] = to_peer(_parse(out["birth_date"]))
    for key, spec in _DATES.items():
        if key in out:
            out[key] = dates(out[key], spec)
    reg = out.get("registration")
    if isinstance(reg, dict) and "registered_on" not in reg:
        reg["registered_on"] = None  # absent means none (the contract)
    for key, spec in _LIST_DATES.items():
        items = out.get(key)
        if isinstance(items, list):
            out[key] = [c for c in (dates(item, spec) for item in items) if c is not None]
    for i, st in enumerate(out.get("full_time_statuses") or ()):
        st["_i"] = i
    diplomas = out.get("diplomas")
    if isinstance(diplomas, list):
        for d in diplomas:
            r = d.get("record")
            if isinstance(r, dict) and r.get("birth_date") is not None:
                d["record"] = dict(r, birth_date=to_peer(_parse(r["birth_date"])))
    # the dates the expression languages cannot compute (from the record's own, never cut, term starts)
    years = record.get("academic_years")
    starts: list[dt.date] | None = None
    if isinstance(years, list):
        starts = []
        for y, py in zip(years, out["academic_years"], strict=True):
            ts = _parse(y.get("term_start"))
            if ts is None:
                starts = None
                continue
            py["_e_due"] = to_peer(_add_month(ts))
            if starts is not None:
                starts.append(ts)
    changes = out.get("status_changes")
    if isinstance(changes, list) and starts is not None:
        for c in changes:
            changed = _as_date(c.get("on"))
            later = [ts for ts in starts if changed is not None and ts > changed]
            if later:
                c["_marking_due"] = to_peer(_add_month(min(later)))
    canc = out.get("cancellation")
    if isinstance(canc, dict) and canc.get("decided_on") is not None:
        decided = _parse(record["cancellation"]["decided_on"])
        try:
            canc["_due"] = to_peer(cal.add_working_days(decided, 15))
        except CalendarError as ex:
            if ex.year is not None:  # a year the calendar lacks: known only not to be before decided + 15 days
                bound = decided + dt.timedelta(days=15)
                canc["_due"] = None
                if bound >= EFFECTIVE:
                    canc["_bound"] = to_peer(bound)
            # else: out of the range of dates, the expression reads an absent key: unknown
    if python_dates:
        prep = out.get("preparatory")
        if isinstance(prep, dict) and prep.get("promoted_on") is not None:
            prep["_filing_due"] = to_peer(dt.date(_parse(record["preparatory"]["promoted_on"]).year, 12, 31))
        adm = out.get("admission")
        if isinstance(adm, dict) and isinstance(adm.get("year"), int) and dt.MINYEAR <= adm["year"] <= dt.MAXYEAR:
            adm["_year_start"] = to_peer(dt.date(adm["year"], 1, 1))
    return out


def _as_date(v: Any) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    raise TypeError(f"not a date: {v!r}")


# ------------------------------------------------------------------------------------------ the driver


class Peer:
    """Runs every rule over every subject; a subclass supplies compile / bind / run."""

    name = "peer"
    specs: list[RuleSpec]
    scope_source = "s.academic_education"

    def __init__(self, cal: WorkCalendar | None = None) -> None:
        self.cal = cal or default_calendar()
        self.programs = [
            (
                spec,
                self.compile(spec.when, spec.loop) if spec.when else None,
                self.compile(spec.arises, spec.loop) if spec.arises else None,
                self.compile(spec.due, spec.loop) if spec.due else None,
                self.compile(spec.cond, spec.loop),
            )
            for spec in self.specs
        ]
        self.scope = self.compile(self.scope_source, None)

    # -- per engine ----------------------------------------------------------------------------

    def compile(self, source: str, loop: str | None) -> Any:
        raise NotImplementedError

    def prepare(self, record: Mapping[str, Any], on: dt.date) -> Any:
        """Convert the record and make the evaluation state (context) for it."""
        raise NotImplementedError

    def bind(self, state: Any, loop: str, index: int, element: Any) -> None:
        raise NotImplementedError

    def bind_due(self, state: Any, due: Any) -> None:
        raise NotImplementedError

    def run(self, program: Any, state: Any) -> Any:
        raise NotImplementedError

    errors: tuple[type[BaseException], ...] = (Exception,)

    # -- shared --------------------------------------------------------------------------------

    def evaluate(self, record: Mapping[str, Any], on: dt.date) -> list[Row]:
        if on < EFFECTIVE:
            return []
        state, converted = self.prepare(record, on)
        try:
            scope = self.run(self.scope, state)
        except self.errors:
            return [(spec.id, "student", UNK, None) for spec in self.specs]
        if scope is not True:
            return []
        out: list[Row] = []
        add = out.append
        for spec, when, arises, due_p, cond in self.programs:
            loop = spec.loop
            if loop is None:
                add((spec.id, "student", *self._judge(state, when, arises, due_p, cond, spec.forbid)))
                continue
            items = converted.get(loop)
            if items is None:
                add((spec.id, loop, UNK, None))
                continue
            for i, element in enumerate(items):
                self.bind(state, loop, i, element)
                add((spec.id, f"{loop}[{i}]", *self._judge(state, when, arises, due_p, cond, spec.forbid)))
        return out

    def _judge(
        self, state: Any, when: Any, arises: Any, due_p: Any, cond: Any, forbid: bool
    ) -> tuple[str, dt.date | None]:
        due: dt.date | None = None
        try:
            if when is not None and self.run(when, state) is not True:
                return NA, None
            day = _as_date(self.run(arises, state)) if arises is not None else None
            if arises is not None and day is None:
                return NA, None  # the obligation has not arisen
            if due_p is not None:
                raw = self.run(due_p, state)
                due = _as_date(raw)
                if due is not None and due < EFFECTIVE:
                    return NA, due
                self.bind_due(state, raw)
            elif day is not None and day < EFFECTIVE:
                return NA, None  # no deadline, arisen before the measures
            v = self.run(cond, state)
        except self.errors:
            return UNK, due
        if v == "pending":
            return PEN, due
        if forbid:
            return (VIO if v is True else SAT), due
        return (SAT if v is True else VIO), due


#: rule-engine symbols: the record's parts as top-level names, so that a rule reading ``adm.recheck``
#: makes rule-engine coerce the admission, not the whole record (it coerces a symbol's value to its
#: own types on every resolution; with one ``s`` symbol for the record it is ~4× slower).
_SYMBOLS: Final = (
    ("academic_education", "academic_education"),
    ("adm", "admission"),
    ("reg", "registration"),
    ("prep", "preparatory"),
    ("joint", "joint_training"),
    ("grad", "graduation"),
    ("canc", "cancellation"),
    ("years", "academic_years"),
    ("statuses", "full_time_statuses"),
    ("diplomas", "diplomas"),
    ("name", "name"),
    ("gender", "gender"),
    ("birth_date", "birth_date"),
    ("minor_certificate", "minor_certificate"),
)


class RuleEnginePeer(Peer):
    """``rule-engine``: one ``rule_engine.Rule`` per expression, evaluated against a dict of symbols
    (the record's parts, the subject ``x`` and its index ``i``, ``on`` and ``due``)."""

    name = "rule-engine"
    errors = (rule_engine.EngineError,)
    scope_source = "academic_education"

    def __init__(self, cal: WorkCalendar | None = None) -> None:
        self.specs = _rule_engine_rules()
        self.context = rule_engine.Context(
            resolver=rule_engine.resolve_item, default_timezone="utc", mapping_attribute_lookup=False
        )
        super().__init__(cal)

    def compile(self, source: str, loop: str | None) -> Any:
        return rule_engine.Rule(source.replace("{x}", "x"), context=self.context)

    def prepare(self, record: Mapping[str, Any], on: dt.date) -> tuple[dict[str, Any], dict[str, Any]]:
        converted = convert(record, on, lambda d: d, self.cal, python_dates=True)
        symbols = {sym: converted[key] for sym, key in _SYMBOLS if key in converted}
        symbols.update(on=on, x=None, i=None, due=None)
        return symbols, converted

    def bind(self, state: dict[str, Any], loop: str, index: int, element: Any) -> None:
        state["x"] = element
        state["i"] = index

    def bind_due(self, state: dict[str, Any], due: Any) -> None:
        state["due"] = due

    def run(self, program: Any, state: Any) -> Any:
        return program.evaluate(state)


def _cel_date(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day)


class CelPeer(Peer):
    """CEL (``common-expression-language``): one ``cel.Program`` per expression, one ``cel.Context`` per
    record holding the converted record and ``on`` (converted to CEL values once, on first use).

    The subject index ``i`` and ``due`` change for every subject: they come from a variable resolver,
    because ``add_variable`` discards the context's converted environment (re-converting the whole
    record each time costs ~20 µs per expression; the resolver ~2 µs).
    """

    name = "cel"
    errors = (Exception,)  # the Rust binding raises KeyError, TypeError, ValueError, RuntimeError…

    def __init__(self, cal: WorkCalendar | None = None) -> None:
        self.specs = _cel_rules()
        super().__init__(cal)

    def compile(self, source: str, loop: str | None) -> Any:
        return cel.compile(source.replace("{x}", f"s.{loop}[i]" if loop else "s"))

    def prepare(
        self, record: Mapping[str, Any], on: dt.date
    ) -> tuple[tuple[cel.Context, dict[str, Any]], dict[str, Any]]:
        converted = convert(record, on, _cel_date, self.cal, python_dates=False)
        ctx = cel.Context()
        ctx.add_variable("s", converted)
        ctx.add_variable("on", _cel_date(on))
        dynamic: dict[str, Any] = {}
        ctx.set_variable_resolver(dynamic.get)
        return (ctx, dynamic), converted

    def bind(self, state: tuple[cel.Context, dict[str, Any]], loop: str, index: int, element: Any) -> None:
        state[1]["i"] = index

    def bind_due(self, state: tuple[cel.Context, dict[str, Any]], due: Any) -> None:
        state[1]["due"] = due

    def run(self, program: Any, state: tuple[cel.Context, dict[str, Any]]) -> Any:
        return program.execute(state[0])
