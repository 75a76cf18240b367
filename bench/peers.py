"""The same 29 rules written for two peer engines from PyPI: ``rule-engine`` and CEL.

* ``rule-engine`` (https://pypi.org/project/rule-engine/, pure Python): its own expression language
  over Python objects, with date/time-delta arithmetic, comprehensions, ``$any``/``$all``, ``?:`` and
  safe navigation (``&.``, ``&[...]``).
* CEL through ``common-expression-language`` (https://pypi.org/project/common-expression-language/,
  Rust ``cel`` crate behind PyO3). Chosen over ``cel-python`` (see ``bench/README.md``): more recent and
  more frequent releases, typed (``py.typed`` + stubs), wheels for 3.11–3.14, no ``lark`` pin to share
  with the engine, and ~150× faster per expression here (cel-python ~90 µs compiled, this ~0.5 µs).

Each rule is three expressions in the peer's language, compiled once: ``when`` (applies?), ``due``
(the deadline, for rules that have one) and ``cond`` (``true``/``false``, or ``"pending"`` for
``act by due`` while ``on <= due`` and the act is not done). A small Python driver — the same for both
peers — binds the subject (one per element for a rule over a collection), runs the expressions, turns
``due < 2021-11-01`` into ``not_applicable`` (Art. 22) and any evaluation error (a missing key) into
``unknown``. That is the work ``engine.evaluate`` does per record: every rule over every subject.

Each record is first converted in Python, as ``engine.evaluate`` validates and parses it: ISO dates
become the peer's date type, ``registration.registered_on`` absent becomes null (the contract says so),
and the dates a peer's language cannot compute are computed and attached to the record:

=====================================  ==================================  =========================
rule                                   computed in Python                  why
=====================================  ==================================  =========================
art12.cancellation_e_registration      ``decided_on + 15 working days``    working-day calendar
art12.annual_e_registration            ``term_start + 1 month`` (clamped)  no calendar-month arithmetic
art10.status_change_marked             ``next term start + 1 month``       no calendar-month arithmetic
art5.promotion_filed_in_year_of_move   ``end_of_year(promoted_on)``        rule-engine only: it cannot
                                                                           build a date from a year
                                                                           (CEL does: ``timestamp()``)
=====================================  ==================================  =========================

Both peers also get an index ``_i`` on each full-time status so that Art. 7 can tell "another status"
from an equal one (neither language has object identity).

Absent facts: CEL's ``&&``/``||``/``exists`` absorb errors (``false && error`` is false), which is
Kleene logic, so CEL agrees with the engine on records with absent keys too, except where the engine's
``min(...)`` is strict; rule-engine stops at the first missing key, so a rule that the engine decides
despite an absent fact (``false and ?``) can come out ``unknown`` here. ``bench.run`` counts the
findings on which each peer agrees with the engine; the timing, not the agreement, is the point.
"""

from __future__ import annotations

import contextlib
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
    when: str | None
    due: str | None
    cond: str
    forbid: bool = False


_FIELDS14: Final = (
    '["name", "gender", "birth_date", "photo", "study_start", "study_end", "major", "level",'
    ' "schooling_years", "outcome", "study_form", "school_name", "president_name", "certificate_number"]'
)

# The element of a `for` rule is written `{x}`; each peer substitutes its own binding.


def _cel_rules() -> list[RuleSpec]:
    registered = "s.registration.registered_on != null"
    applies = (
        f"{registered} && {{x}}.year > s.admission.year"
        " && (s.graduation == null || {x}.term_start < s.graduation.on)"
        " && (s.cancellation == null || {x}.term_start < s.cancellation.decided_on)"
    )

    def by(act: str) -> str:
        return f'{act} == null ? (on <= due ? "pending" : false) : {act} <= due'

    return [
        RuleSpec(RULES[0], None, registered, None, "s.admission.data_reviewed"),
        RuleSpec(RULES[1], None, registered, None, 's.admission.recheck == "passed"'),
        RuleSpec(RULES[2], None, 's.admission.recheck == "failed"', None, 's.admission.qualification == "cancelled"'),
        RuleSpec(
            RULES[3],
            None,
            's.admission.qualification in ["given_up", "retained", "cancelled"]',
            None,
            "s.admission.qualification_marked",
        ),
        RuleSpec(
            RULES[4],
            None,
            f's.admission.level == "preparatory" && {registered}',
            None,
            's.registration.level == "preparatory"',
        ),
        RuleSpec(
            RULES[5],
            None,
            "s.preparatory != null && s.preparatory.promoted_on != null",
            'timestamp(string(s.preparatory.promoted_on.getFullYear()) + "-12-31T00:00:00Z")',
            by("s.preparatory.filed_on"),
        ),
        RuleSpec(
            RULES[6],
            None,
            "s.preparatory != null && s.preparatory.registered_on != null",
            None,
            "s.preparatory.filed_on != null && s.preparatory.registered_on >= s.preparatory.filed_on",
        ),
        RuleSpec(RULES[7], None, "s.admission.plan != null", None, "s.admission.plan_marked"),
        RuleSpec(
            RULES[8],
            "full_time_statuses",
            None,
            None,
            "s.full_time_statuses.exists(o, o._i != i"
            " && ({x}.to == null || o.from < {x}.to) && (o.to == null || {x}.from < o.to))",
            forbid=True,
        ),
        RuleSpec(
            RULES[9],
            None,
            "s.joint_training != null",
            None,
            "s.joint_training.registered_school == s.joint_training.admitting_school",
        ),
        RuleSpec(
            RULES[10],
            None,
            f"s.admission.data_issue != null && {registered}",
            None,
            "s.admission.data_issue_reported_on != null && s.admission.data_issue_resolved_on != null"
            " && s.admission.data_issue_reported_on <= s.admission.data_issue_resolved_on"
            " && s.registration.registered_on >= s.admission.data_issue_resolved_on",
        ),
        RuleSpec(
            RULES[11],
            None,
            registered,
            None,
            "s.registration.student_notified_on != null"
            " && s.registration.student_notified_on >= s.registration.registered_on",
        ),
        RuleSpec(
            RULES[12],
            "status_changes",
            "s.academic_years.filter(y, y.term_start > {x}.on).size() > 0",
            "{x}._marking_due",
            by("{x}.marked_on"),
        ),
        RuleSpec(RULES[13], "certificates", None, None, "{x}.marked"),
        RuleSpec(
            RULES[14],
            "academic_years",
            applies,
            '{x}.term_start + duration("336h")',
            "({x}.registered_on != null && {x}.registered_on <= due) || {x}.deferred_on != null ? true"
            ' : ({x}.registered_on == null && on <= due ? "pending" : false)',
        ),
        RuleSpec(
            RULES[15],
            "academic_years",
            applies,
            '{x}.term_start + duration("336h")',
            "{x}.registered_on != null && !({x}.tuition_paid && {x}.conditions_met)",
            forbid=True,
        ),
        RuleSpec(
            RULES[16],
            "academic_years",
            f"{applies} && (!has({{x}}.registered_on) || {{x}}.registered_on == null) && {{x}}.deferred_on != null"
            " && {x}.tuition_paid && {x}.conditions_met",
            '{x}.term_start + duration("336h")',
            "{x}.supplementary_registered_on != null",
        ),
        RuleSpec(
            RULES[17], "academic_years", applies, '{x}.term_start + duration("480h")', by("{x}.college_reported_on")
        ),
        RuleSpec(RULES[18], "academic_years", applies, "{x}._e_due", by("{x}.e_registered_on")),
        RuleSpec(
            RULES[19], None, "s.cancellation != null", "s.cancellation._due", by("s.cancellation.e_registered_on")
        ),
        RuleSpec(RULES[20], "diplomas", None, None, "{x}.e_registered_on != null"),
        RuleSpec(
            RULES[21],
            "diplomas",
            None,
            None,
            's.graduation != null && (s.graduation.outcome == "graduated" && {x}.kind == "graduation"'
            ' || s.graduation.outcome == "completed" && {x}.kind == "completion")',
        ),
        RuleSpec(RULES[22], None, "size(s.diplomas) > 0", None, "size(s.diplomas) > 1", forbid=True),
        RuleSpec(RULES[23], None, "size(s.diplomas) > 0", None, registered),
        RuleSpec(RULES[24], "diplomas", "s.minor_certificate", None, "{x}.minor_annotated"),
        RuleSpec(
            RULES[25],
            "diplomas",
            None,
            None,
            f"has({{x}}.record) && {{x}}.record != null"
            f" && {_FIELDS14}.all(f, f in {{x}}.record && {{x}}.record[f] != null)",
        ),
        RuleSpec(
            RULES[26],
            "diplomas",
            "{x}.record != null",
            None,
            "{x}.record.name == s.name && {x}.record.gender == s.gender && {x}.record.birth_date == s.birth_date",
        ),
        RuleSpec(RULES[27], "diplomas", "s.graduation != null", None, "{x}.issued_on == s.graduation.on"),
        RuleSpec(RULES[28], "diplomas", "{x}.lost", None, "{x}.loss_certified && {x}.loss_annotated"),
    ]


def _rule_engine_rules() -> list[RuleSpec]:
    registered = "reg['registered_on'] != null"
    applies = (
        f"{registered} and {{x}}['year'] > adm['year']"
        " and (grad == null or {x}['term_start'] < grad['on'])"
        " and (canc == null or {x}['term_start'] < canc['decided_on'])"
    )

    def by(act: str) -> str:
        return f'{act} == null ? (on <= due ? "pending" : false) : {act} <= due'

    return [
        RuleSpec(RULES[0], None, registered, None, "adm['data_reviewed']"),
        RuleSpec(RULES[1], None, registered, None, 'adm["recheck"] == "passed"'),
        RuleSpec(RULES[2], None, 'adm["recheck"] == "failed"', None, 'adm["qualification"] == "cancelled"'),
        RuleSpec(
            RULES[3],
            None,
            'adm["qualification"] in ["given_up", "retained", "cancelled"]',
            None,
            "adm['qualification_marked']",
        ),
        RuleSpec(
            RULES[4], None, f'adm["level"] == "preparatory" and {registered}', None, 'reg["level"] == "preparatory"'
        ),
        RuleSpec(
            RULES[5],
            None,
            "prep != null and prep['promoted_on'] != null",
            "prep['_filing_due']",
            by("prep['filed_on']"),
        ),
        RuleSpec(
            RULES[6],
            None,
            "prep != null and prep['registered_on'] != null",
            None,
            "prep['filed_on'] != null and prep['registered_on'] >= prep['filed_on']",
        ),
        RuleSpec(RULES[7], None, "adm['plan'] != null", None, "adm['plan_marked']"),
        RuleSpec(
            RULES[8],
            "full_time_statuses",
            None,
            None,
            "$any([({x}['to'] == null or o['from'] < {x}['to']) and (o['to'] == null or {x}['from'] < o['to'])"
            " for o in statuses if o['_i'] != i])",
            forbid=True,
        ),
        RuleSpec(
            RULES[9],
            None,
            "joint != null",
            None,
            "joint['registered_school'] == joint['admitting_school']",
        ),
        RuleSpec(
            RULES[10],
            None,
            f"adm['data_issue'] != null and {registered}",
            None,
            "adm['data_issue_reported_on'] != null and adm['data_issue_resolved_on'] != null"
            " and adm['data_issue_reported_on'] <= adm['data_issue_resolved_on']"
            " and reg['registered_on'] >= adm['data_issue_resolved_on']",
        ),
        RuleSpec(
            RULES[11],
            None,
            registered,
            None,
            "reg['student_notified_on'] != null and reg['student_notified_on'] >= reg['registered_on']",
        ),
        RuleSpec(
            RULES[12],
            "status_changes",
            "[y for y in years if y['term_start'] > {x}['on']].length > 0",
            "{x}['_marking_due']",
            by("{x}['marked_on']"),
        ),
        RuleSpec(RULES[13], "certificates", None, None, "{x}['marked']"),
        RuleSpec(
            RULES[14],
            "academic_years",
            applies,
            '{x}["term_start"] + t"P14D"',
            '({x}["registered_on"] != null and {x}["registered_on"] <= due) or {x}["deferred_on"] != null ? true'
            ' : ({x}["registered_on"] == null and on <= due ? "pending" : false)',
        ),
        RuleSpec(
            RULES[15],
            "academic_years",
            applies,
            '{x}["term_start"] + t"P14D"',
            "{x}['registered_on'] != null and not ({x}['tuition_paid'] and {x}['conditions_met'])",
            forbid=True,
        ),
        RuleSpec(
            RULES[16],
            "academic_years",
            f"{applies} and {{x}}&['registered_on'] == null and {{x}}['deferred_on'] != null"
            " and {x}['tuition_paid'] and {x}['conditions_met']",
            '{x}["term_start"] + t"P14D"',
            "{x}['supplementary_registered_on'] != null",
        ),
        RuleSpec(RULES[17], "academic_years", applies, '{x}["term_start"] + t"P20D"', by("{x}['college_reported_on']")),
        RuleSpec(RULES[18], "academic_years", applies, "{x}['_e_due']", by("{x}['e_registered_on']")),
        RuleSpec(RULES[19], None, "canc != null", "canc['_due']", by("canc['e_registered_on']")),
        RuleSpec(RULES[20], "diplomas", None, None, "{x}['e_registered_on'] != null"),
        RuleSpec(
            RULES[21],
            "diplomas",
            None,
            None,
            'grad != null and (grad["outcome"] == "graduated" and {x}["kind"] == "graduation"'
            ' or grad["outcome"] == "completed" and {x}["kind"] == "completion")',
        ),
        RuleSpec(RULES[22], None, "diplomas.length > 0", None, "diplomas.length > 1", forbid=True),
        RuleSpec(RULES[23], None, "diplomas.length > 0", None, registered),
        RuleSpec(RULES[24], "diplomas", "minor_certificate", None, "{x}['minor_annotated']"),
        RuleSpec(
            RULES[25],
            "diplomas",
            None,
            None,
            f"{{x}}&['record'] != null and $all([{{x}}['record']&[f] != null for f in {_FIELDS14}])",
        ),
        RuleSpec(
            RULES[26],
            "diplomas",
            "{x}['record'] != null",
            None,
            "{x}['record']['name'] == name and {x}['record']['gender'] == gender"
            " and {x}['record']['birth_date'] == birth_date",
        ),
        RuleSpec(RULES[27], "diplomas", "grad != null", None, "{x}['issued_on'] == grad['on']"),
        RuleSpec(RULES[28], "diplomas", "{x}['lost']", None, "{x}['loss_certified'] and {x}['loss_annotated']"),
    ]


# ------------------------------------------------------------------------------------ record conversion

_DATE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "admission": ("data_issue_reported_on", "data_issue_resolved_on"),
    "registration": ("registered_on", "student_notified_on"),
    "preparatory": ("promoted_on", "filed_on", "registered_on"),
    "joint_training": (),
    "cancellation": ("decided_on", "e_registered_on"),
    "graduation": ("on",),
}
_LIST_DATE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "full_time_statuses": ("from", "to"),
    "academic_years": (
        "term_start",
        "registered_on",
        "deferred_on",
        "supplementary_registered_on",
        "college_reported_on",
        "e_registered_on",
    ),
    "status_changes": ("on", "marked_on"),
    "certificates": ("issued_on",),
    "diplomas": ("issued_on", "e_registered_on"),
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
    to_peer: Callable[[dt.date], Any],
    cal: WorkCalendar,
    *,
    filing_due: bool,
) -> dict[str, Any]:
    """``record`` with its dates in the peer's type and the dates the peer cannot compute attached."""

    def dates(obj: Any, fields: tuple[str, ...]) -> Any:
        if not isinstance(obj, dict):
            return obj
        out = dict(obj)
        for f in fields:
            v = out.get(f)
            if v is not None:
                out[f] = to_peer(_parse(v))
        return out

    out = dict(record)
    if isinstance(out.get("birth_date"), str | dt.date):
        out["birth_date"] = to_peer(_parse(out["birth_date"]))
    for key, fields in _DATE_FIELDS.items():
        if key in out:
            out[key] = dates(out[key], fields)
    reg = out.get("registration")
    if isinstance(reg, dict) and "registered_on" not in reg:
        reg["registered_on"] = None  # absent means none (the contract)
    for key, fields in _LIST_DATE_FIELDS.items():
        items = out.get(key)
        if isinstance(items, list):
            out[key] = [dates(item, fields) for item in items]
    for i, st in enumerate(out.get("full_time_statuses") or ()):
        if isinstance(st, dict):
            st["_i"] = i
    diplomas = out.get("diplomas")
    if isinstance(diplomas, list):
        for d in diplomas:
            r = d.get("record") if isinstance(d, dict) else None
            if isinstance(r, dict) and r.get("birth_date") is not None:
                d["record"] = dict(r, birth_date=to_peer(_parse(r["birth_date"])))
    # the dates the expression languages cannot compute
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
    changes = record.get("status_changes")
    if isinstance(changes, list) and starts is not None:
        for c, pc in zip(changes, out["status_changes"], strict=True):
            on = _parse(c.get("on"))
            later = [ts for ts in starts if on is not None and ts > on]
            if later:
                pc["_marking_due"] = to_peer(_add_month(min(later)))
    canc = record.get("cancellation")
    if isinstance(canc, dict) and canc.get("decided_on") is not None:
        with contextlib.suppress(CalendarError):  # else the expression reads an absent key: unknown
            out["cancellation"]["_due"] = to_peer(cal.add_working_days(_parse(canc["decided_on"]), 15))
    prep = out.get("preparatory")
    if filing_due and isinstance(prep, dict) and prep.get("promoted_on") is not None:
        prep["_filing_due"] = to_peer(dt.date(_parse(record["preparatory"]["promoted_on"]).year, 12, 31))
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
        for spec, when, due_p, cond in self.programs:
            loop = spec.loop
            if loop is None:
                add((spec.id, "student", *self._judge(state, when, due_p, cond, spec.forbid)))
                continue
            items = converted.get(loop)
            if items is None:
                add((spec.id, loop, UNK, None))
                continue
            for i, element in enumerate(items):
                self.bind(state, loop, i, element)
                add((spec.id, f"{loop}[{i}]", *self._judge(state, when, due_p, cond, spec.forbid)))
        return out

    def _judge(self, state: Any, when: Any, due_p: Any, cond: Any, forbid: bool) -> tuple[str, dt.date | None]:
        due: dt.date | None = None
        try:
            if when is not None and self.run(when, state) is not True:
                return NA, None
            if due_p is not None:
                raw = self.run(due_p, state)
                due = _as_date(raw)
                if due is not None and due < EFFECTIVE:
                    return NA, due
                self.bind_due(state, raw)
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
        converted = convert(record, lambda d: d, self.cal, filing_due=True)
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
        converted = convert(record, _cel_date, self.cal, filing_due=False)
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
