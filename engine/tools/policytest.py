"""Policy tests without Python: YAML test cases for a policy set, their runner, and coverage by article.

Registrar staff write cases in ``policies/tests/*.yaml`` (the format is documented at the top of
``policies/tests/ch1.yaml``): a student record (inline, or a fixture from ``fixtures/`` with a few facts
patched), the date it is judged on, and the outcomes they expect, rule by rule or article by article.

* :func:`load_cases` reads case files into :class:`Case` values, each located at its ``name:`` key
  (file:line). A case that cannot be read is kept, with its problems, and reported as an error.
* :func:`run_cases` judges every case with :func:`~engine.evaluate.evaluate` (a case with
  ``version:`` under the set pinned to that version, :func:`~engine.run.pipeline.pinned`) and compares
  the findings with the expectations: each case passes, fails (a list of "expected X, got Y"), is an
  error (unknown rule id or fixture, a record the facts schema rejects, an engine crash) or is
  skipped (``skip: "<reason>"``; it is still run, to say when the skip can go). Nothing escapes.
* :func:`coverage` lists, per version, article and rule, which passing cases asserted each outcome in
  findings that version judged, and :meth:`Coverage.problems` what is untested.
* Renderers: :func:`report_text`, :func:`report_json`, :func:`junit_xml`, :func:`coverage_text`,
  :func:`coverage_json` (Chinese or English text).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import attrs

from engine.diagnostics import Diagnostic, FactsError, Lang, Msg, Severity, Span, XuejiError, date_problem, excerpt
from engine.lang import syntax as s
from engine.resources import data_path
from engine.run.decision import Decision, Finding, Outcome
from engine.run.evaluate import evaluate
from engine.run.pipeline import pinned
from engine.sources.factpath import parse as _parse_path
from engine.sources.factpath import show as _show
from engine.sources.policy import PolicySet, PolicyVersion, Rule
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, load_data, load_yaml, to_python
from engine.tools import casefiles
from engine.tools.casefiles import case_files, default_case_paths, shown

__all__ = [
    "ArticleCoverage",
    "Case",
    "CaseResult",
    "Coverage",
    "Expectation",
    "Mismatch",
    "Problem",
    "Report",
    "RuleCoverage",
    "Status",
    "VersionCoverage",
    "coverage",
    "default_case_paths",
    "load_cases",
    "run_cases",
]

_CASE_KEYS: Final = (
    "name",
    "note",
    "record",
    "fixture",
    "patch",
    "remove",
    "on",
    "version",
    "expect",
    "expect_none_judged",
    "skip",
)
_EXPECT_KEYS: Final = ("rule", "article", "subject", "outcome", "due", "due_not_before", "missing")
_PATH_RE: Final = re.compile(r"[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*")
_OUTCOMES: Final = ", ".join(o.value for o in Outcome)


# ---------------------------------------------------------------------------------------------- cases


@attrs.frozen
class Expectation:
    """One expected outcome: of a rule (``rule:``) or of every finding of an article (``article:``).

    ``subject`` narrows it to one finding (``academic_years[1]``, ``diplomas[0]``, ``student``).
    ``due`` is checked when ``check_due`` (the key was written; ``due: null`` expects no due date),
    ``due_not_before`` (the bound of a due date the working-day calendar cannot give yet) likewise when
    ``check_due_not_before``, ``missing`` (a set of paths) when not ``None``.
    """

    span: Span
    outcome: Outcome
    rule: str | None = None
    article: int | None = None
    subject: str | None = None
    due: dt.date | None = None
    check_due: bool = False
    missing: tuple[str, ...] | None = None
    due_not_before: dt.date | None = None
    check_due_not_before: bool = False

    @property
    def target(self) -> str:
        what = self.rule if self.rule is not None else f"article {self.article}"
        return what if self.subject is None else f"{what} @ {self.subject}"

    def target_text(self, lang: Lang) -> str:
        what = self.rule
        if what is None:
            what = f"第{self.article}条" if lang == "zh" else f"Art. {self.article}"
        return what if self.subject is None else f"{what} @ {self.subject}"

    def wanted(self) -> str:
        """What the case author wrote, in the YAML's own words (outcome, due, missing)."""
        parts = [self.outcome.value]
        if self.check_due:
            parts.append(f"due {_iso(self.due)}")
        if self.check_due_not_before:
            parts.append(f"due_not_before {_iso(self.due_not_before)}")
        if self.missing is not None:
            parts.append(f"missing [{', '.join(self.missing)}]")
        return ", ".join(parts)


@attrs.frozen(eq=False)
class Case:
    """A test case as read from a case file. ``span`` is the place of its ``name:`` key."""

    name: str
    span: Span
    on: dt.date | None = None
    record: Any = None  # an inline record (plain data) or None
    fixture: str | None = None
    patch: tuple[tuple[str, Any, Span], ...] = ()
    remove: tuple[tuple[str, Span], ...] = ()
    expect: tuple[Expectation, ...] = ()
    expect_none_judged: bool = False
    skip: str | None = None
    note: str = ""
    #: why the case cannot be run: it is reported as an error
    problems: tuple[Msg, ...] = ()
    #: ``version:`` — the case is judged by this version alone (None: each obligation by the version in
    #: force when it arose), and where the key is written
    version: str | None = None
    version_span: Span | None = None
    #: where ``fixture:`` names the fixture (an unknown fixture is reported there)
    fixture_span: Span | None = None

    @property
    def file(self) -> str:
        return self.span.file

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def where(self) -> str:
        return f"{self.span.file}:{self.span.line}"


def untested_rules(policy: PolicySet, cases: Sequence[Case]) -> list[Rule]:
    """Judged rules that no case expects anything of, by its id or its article (a static reading of
    the case files: cheap enough for ``xueji lint``; ``xueji coverage`` says which outcomes ran)."""
    return casefiles.untested_rules(policy, casefiles.summarize(cases))


def load_cases(paths: Iterable[str | Path], *, overrides: Mapping[Path, str] | None = None) -> list[Case]:
    """Read every case in ``paths`` (case files, or directories of ``*.yaml`` case files), in order;
    ``overrides``: file texts that stand in for the files on disk (an editor's buffers).

    Never raises, but for a directory of more than ``MAX_POLICY_FILES`` case files (a
    :class:`~engine.diagnostics.XuejiError` naming it): an unreadable file or a malformed case becomes a
    :class:`Case` with ``problems``, which :func:`run_cases` reports as an error at its file:line.
    """
    texts = {p.resolve(): text for p, text in (overrides or {}).items()}
    cases: list[Case] = []
    for path in case_files(paths):
        cases.extend(_load_file(path, texts.get(path.resolve()) if texts else None))
    first: dict[str, Case] = {}
    out: list[Case] = []
    for case in cases:
        seen = first.get(case.name)
        if seen is None:
            first[case.name] = case
        else:
            case = attrs.evolve(
                case,
                problems=(
                    *case.problems,
                    Msg(
                        f"用例名称“{case.name}”重复，首次出现于 {seen.where}",
                        f"duplicate case name '{case.name}'; first used at {seen.where}",
                    ),
                ),
            )
        out.append(case)
    return out


def _file_error(name: str, span: Span | None, *problems: Msg) -> Case:
    return Case(name, span or Span(name, 1, 1), problems=problems)


def _diag_msg(d: Diagnostic) -> Msg:
    where = f"{d.span}: " if d.span else ""
    return Msg(where + d.message.zh, where + d.message.en)


def _load_file(path: Path, text: str | None = None) -> list[Case]:
    name = shown(path)
    try:
        data: str | bytes = path.read_bytes() if text is None else text
    except OSError as ex:
        return [
            _file_error(
                name, None, Msg(f"无法读取用例文件：{ex.strerror}", f"cannot read the case file: {ex.strerror}")
            )
        ]
    tree, diags = load_yaml(data, name)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    # a value that cannot be read (a date 2024-02-30, a repeated key) spoils only the case it is in
    local = [d for d in errors if d.code in _CASE_LOCAL_CODES and d.span is not None]
    fatal = [d for d in errors if d not in local]
    if fatal or (tree is None and errors):
        return [_file_error(name, errors[0].span, *(_diag_msg(d) for d in errors))]
    if tree is None:  # an empty file holds no case
        return []
    items: tuple[YNode, ...]
    if isinstance(tree, YSeq):
        items = tree.items
    elif isinstance(tree, YMap):
        extra = [k for k, _ in tree.entries if k.value not in ("cases", "title", "description")]
        if extra:
            return [
                _file_error(
                    name,
                    extra[0].span,
                    Msg(
                        f"用例文件的顶层键只能是 cases:（以及 title:、description:），而不是 {extra[0].raw}:",
                        f"a case file's top level holds cases: (and title:, description:), not {extra[0].raw}:",
                    ),
                )
            ]
        node = tree.get("cases")
        if node is None:
            return []
        if not isinstance(node, YSeq):
            return [
                _file_error(
                    name,
                    node.span,
                    Msg(
                        "cases: 应为用例列表（每项以 - 开头）", "cases: must be a list of cases (each starting with -)"
                    ),
                )
            ]
        items = node.items
    else:
        return [_file_error(name, tree.span, Msg("用例文件应为用例列表", "a case file must hold a list of cases"))]
    cases = [_parse_case(item, name) for item in items]
    out = []
    for item, case in zip(items, cases, strict=True):
        mine = [d for d in local if d.span and item.span.line <= d.span.line <= item.span.end_line]
        # a value the case already reports at the same place (`on: 2024-11-31`) is one problem, not two
        said = {p.en.split(": ", 1)[0] for p in case.problems}
        mine = [d for d in mine if str(d.span) not in said]
        out.append(attrs.evolve(case, problems=(*case.problems, *map(_diag_msg, mine))) if mine else case)
    return out


_CASE_LOCAL_CODES: Final = frozenset({"yaml-bad-value", "yaml-duplicate-key"})


def _key_name(key: YScalar) -> str:
    # YAML 1.1 reads a bare `on:` as the boolean True: in a case file it can only mean the date key.
    if key.value is True and key.raw.lower() == "on":
        return "on"
    return str(key.value)


def _is_path(name: str) -> bool:
    """A ``fixture:`` that is a path, not a name: it could reach outside the fixtures directories."""
    return "/" in name or "\\" in name or name.startswith(".") or ":" in name or "\0" in name


def _as_date(node: YNode | None) -> dt.date | Msg:
    """A date from a scalar (``2024-10-23`` or ``"2024-10-23"``), else a description of the problem."""
    if not isinstance(node, YScalar):
        return Msg("应为写成 YYYY-MM-DD 的日期", "must be a date written YYYY-MM-DD")
    v = node.value
    if isinstance(v, dt.datetime):
        return Msg("是日期加时间，应为写成 YYYY-MM-DD 的日期", "a date and time, not a date written YYYY-MM-DD")
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    return date_problem(v)


def _parse_case(node: YNode, file: str) -> Case:
    if not isinstance(node, YMap):
        return Case(
            f"<{file}:{node.span.line}>",
            node.span,
            problems=(
                Msg("每个用例应为映射（name:、on:、expect: …）", "each case must be a mapping (name:, on:, expect: …)"),
            ),
        )
    entries = {_key_name(k): (k, v) for k, v in node.entries}
    problems: list[Msg] = []

    def bad(span: Span, zh: str, en: str) -> None:
        problems.append(Msg(f"{span}: {zh}", f"{span}: {en}"))

    name_entry = entries.get("name")
    if name_entry is not None and isinstance(name_entry[1], YScalar) and name_entry[1].value not in (None, ""):
        name, span = str(name_entry[1].value), name_entry[0].span
    else:
        name, span = f"<{file}:{node.span.line}>", node.span
        bad(node.span, "用例缺少 name:", "the case has no name:")
    span = Span(span.file, span.line, span.col)

    for key, (knode, _) in entries.items():
        if key not in _CASE_KEYS:
            close = difflib.get_close_matches(key, _CASE_KEYS, n=1)
            hint_zh = f"，是否应为 {close[0]}:？" if close else ""
            hint_en = f"; did you mean {close[0]}:?" if close else ""
            bad(
                knode.span,
                f"未知的键 {knode.raw}:{hint_zh}（可用：{', '.join(_CASE_KEYS)}）",
                f"unknown key {knode.raw}:{hint_en} (known: {', '.join(_CASE_KEYS)})",
            )

    def value(key: str) -> YNode | None:
        e = entries.get(key)
        return None if e is None else e[1]

    on: dt.date | None = None
    on_node = value("on")
    if on_node is None:
        bad(span, "用例缺少判断日期 on: YYYY-MM-DD", "the case has no date to judge on: on: YYYY-MM-DD")
    else:
        got = _as_date(on_node)
        if isinstance(got, dt.date):
            on = got
        else:
            bad(on_node.span, f"on: {got.zh}", f"on: {got.en}")

    record: Any = None
    fixture: str | None = None
    rec_node, fix_node = value("record"), value("fixture")
    if (rec_node is None) == (fix_node is None):
        bad(
            span,
            "用例须有且只有一个 record:（记录）或 fixture:（样例名）",
            "a case needs exactly one of record: (a record) or fixture: (a fixture name)",
        )
    elif rec_node is not None:
        if isinstance(rec_node, YMap):
            record = to_python(rec_node)
        else:
            bad(rec_node.span, "record: 应为映射（学生记录）", "record: must be a mapping (a student record)")
    elif isinstance(fix_node, YScalar) and isinstance(fix_node.value, str) and _is_path(fix_node.value):
        bad(
            fix_node.span,
            f"fixture: 应为样例名（fixtures/ 中的文件名），而不是路径：{excerpt(fix_node.value)}",
            f"fixture: names a fixture (a file in fixtures/), not a path: {excerpt(fix_node.value)}",
        )
    elif isinstance(fix_node, YScalar) and isinstance(fix_node.value, str) and fix_node.value:
        fixture = fix_node.value
    elif fix_node is not None:
        bad(
            fix_node.span,
            "fixture: 应为样例名，例如 graduate-complete",
            "fixture: must be a fixture name, e.g. graduate-complete",
        )

    patch: list[tuple[str, Any, Span]] = []
    patch_node = value("patch")
    if isinstance(patch_node, YMap):
        for k, v in patch_node.entries:
            path = str(k.value)
            if _PATH_RE.fullmatch(path) is None:
                bad(
                    k.span,
                    f"patch: 路径 {k.raw} 无效（例如 academic_years[1].registered_on）",
                    f"patch: {k.raw} is not a path (e.g. academic_years[1].registered_on)",
                )
            else:
                patch.append((path, to_python(v), k.span))
    elif patch_node is not None:
        bad(patch_node.span, "patch: 应为“路径: 值”的映射", "patch: must be a mapping of path: value")

    remove: list[tuple[str, Span]] = []
    rm_node = value("remove")
    rm_items: tuple[YNode, ...] = ()
    if isinstance(rm_node, YSeq):
        rm_items = rm_node.items
    elif rm_node is not None:
        rm_items = (rm_node,)
    for item in rm_items:
        if isinstance(item, YScalar) and isinstance(item.value, str) and _PATH_RE.fullmatch(item.value):
            remove.append((item.value, item.span))
        else:
            bad(
                item.span,
                "remove: 应为路径列表（例如 [admission.recheck]）",
                "remove: must be a list of paths (e.g. [admission.recheck])",
            )

    expect: list[Expectation] = []
    exp_node = value("expect")
    if isinstance(exp_node, YSeq):
        for item in exp_node.items:
            e = _parse_expectation(item, problems)
            if e is not None:
                expect.append(e)
    elif exp_node is not None:
        bad(
            exp_node.span,
            "expect: 应为期望结果的列表（每项以 - 开头）",
            "expect: must be a list of expectations (each starting with -)",
        )

    none_judged = False
    nj_node = value("expect_none_judged")
    if nj_node is not None:
        if isinstance(nj_node, YScalar) and isinstance(nj_node.value, bool):
            none_judged = nj_node.value
        else:
            bad(nj_node.span, "expect_none_judged: 应为 true 或 false", "expect_none_judged: must be true or false")
    if not expect and not none_judged and exp_node is None:
        bad(
            span,
            "用例没有期望：写 expect: 列表，或 expect_none_judged: true",
            "the case expects nothing: write an expect: list, or expect_none_judged: true",
        )

    skip: str | None = None
    skip_node = value("skip")
    if skip_node is not None:
        if isinstance(skip_node, YScalar) and isinstance(skip_node.value, str) and skip_node.value.strip():
            skip = skip_node.value.strip()
        else:
            bad(skip_node.span, "skip: 应写明跳过的原因（文字）", "skip: must give the reason for skipping (text)")

    version: str | None = None
    version_span: Span | None = None
    version_node = value("version")
    if version_node is not None:
        raw = version_node.value if isinstance(version_node, YScalar) else None
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            version, version_span = str(raw).strip(), version_node.span
        else:
            bad(
                version_node.span,
                'version: 应为策略版本的编号，例如 "2021"',
                'version: must be the id of a version of the policy set, e.g. "2021"',
            )

    note_node = value("note")
    note = str(note_node.value) if isinstance(note_node, YScalar) and note_node.value is not None else ""
    return Case(
        name,
        span,
        on,
        record,
        fixture,
        tuple(patch),
        tuple(remove),
        tuple(expect),
        none_judged,
        skip,
        note,
        tuple(problems),
        version,
        version_span,
        fix_node.span if fixture is not None and fix_node is not None else None,
    )


def _parse_expectation(node: YNode, problems: list[Msg]) -> Expectation | None:
    def bad(span: Span, zh: str, en: str) -> None:
        problems.append(Msg(f"{span}: {zh}", f"{span}: {en}"))

    if not isinstance(node, YMap):
        bad(
            node.span,
            "每个期望应为映射，例如 {rule: art3.registration_on_reviewed_data, outcome: violated}",
            "each expectation must be a mapping, e.g. {rule: art3.registration_on_reviewed_data, outcome: violated}",
        )
        return None
    ok = True
    for k, _ in node.entries:
        if str(k.value) not in _EXPECT_KEYS:
            bad(
                k.span,
                f"期望中的未知键 {k.raw}:（可用：{', '.join(_EXPECT_KEYS)}）",
                f"unknown key {k.raw}: in an expectation (known: {', '.join(_EXPECT_KEYS)})",
            )
            ok = False
    span = Span(node.span.file, node.span.line, node.span.col)
    rule_n, art_n = node.get("rule"), node.get("article")
    rule: str | None = None
    article: int | None = None
    if (rule_n is None) == (art_n is None):
        bad(
            span,
            "期望须有且只有一个 rule:（规则 id）或 article:（条号）",
            "an expectation needs exactly one of rule: (a rule id) or article: (an article number)",
        )
        ok = False
    elif rule_n is not None:
        if isinstance(rule_n, YScalar) and isinstance(rule_n.value, str) and rule_n.value:
            rule = rule_n.value
        else:
            bad(
                rule_n.span,
                "rule: 应为规则 id，例如 art11.annual_registration",
                "rule: must be a rule id, e.g. art11.annual_registration",
            )
            ok = False
    elif isinstance(art_n, YScalar) and isinstance(art_n.value, int) and not isinstance(art_n.value, bool):
        article = art_n.value
    elif art_n is not None:
        bad(art_n.span, "article: 应为条号（整数）", "article: must be an article number (an integer)")
        ok = False
    subject: str | None = None
    subj_n = node.get("subject")
    if subj_n is not None:
        if isinstance(subj_n, YScalar) and isinstance(subj_n.value, str) and subj_n.value:
            subject = subj_n.value
        else:
            bad(
                subj_n.span,
                "subject: 应为对象路径，例如 academic_years[1] 或 student",
                "subject: must be a subject path, e.g. academic_years[1] or student",
            )
            ok = False
    out_n = node.get("outcome")
    outcome: Outcome | None = None
    if isinstance(out_n, YScalar) and isinstance(out_n.value, str) and out_n.value in {o.value for o in Outcome}:
        outcome = Outcome(out_n.value)
    else:
        where = out_n.span if out_n is not None else span
        got = f"：{out_n.raw}" if isinstance(out_n, YScalar) else ""
        got_en = f": {out_n.raw}" if isinstance(out_n, YScalar) else ""
        bad(where, f"outcome: 应为 {_OUTCOMES} 之一{got}", f"outcome: must be one of {_OUTCOMES}{got_en}")
        ok = False
    dues: dict[str, dt.date | None] = {}
    for key in ("due", "due_not_before"):
        dues[key] = None
        due_n = node.get(key)
        if due_n is not None and not (isinstance(due_n, YScalar) and due_n.value is None):
            got_due = _as_date(due_n)
            if isinstance(got_due, dt.date):
                dues[key] = got_due
            else:
                bad(due_n.span, f"{key}: {got_due.zh}", f"{key}: {got_due.en}")
                ok = False
    missing: tuple[str, ...] | None = None
    miss_n = node.get("missing")
    if miss_n is not None:
        items = miss_n.items if isinstance(miss_n, YSeq) else (miss_n,)
        paths = [i.value for i in items if isinstance(i, YScalar) and isinstance(i.value, str)]
        if len(paths) != len(items):
            bad(
                miss_n.span,
                "missing: 应为路径列表，例如 [admission.recheck]",
                "missing: must be a list of paths, e.g. [admission.recheck]",
            )
            ok = False
        missing = tuple(paths)
    if not ok or outcome is None:
        return None
    return Expectation(
        span,
        outcome,
        rule,
        article,
        subject,
        dues["due"],
        "due" in node,
        missing,
        dues["due_not_before"],
        "due_not_before" in node,
    )


# --------------------------------------------------------------------------------------------- running


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


@attrs.frozen
class Mismatch:
    """One expectation not met: what the case expected and what the engine gave, in the case's words."""

    expectation: Expectation
    target: str  # the rule and subject of the finding (or of the expectation when nothing was found)
    expected: Msg
    actual: Msg

    def text(self, lang: Lang = "en") -> str:
        return (
            f"{self.target}: expected {self.expected.get(lang)}, got {self.actual.get(lang)}"
            if lang == "en"
            else f"{self.target}：期望 {self.expected.zh}，实际 {self.actual.zh}"
        )


Hit = tuple[str, str, Outcome]  # (policy version, rule id, outcome) asserted by a passing expectation


@attrs.frozen(eq=False)
class CaseResult:
    case: Case
    status: Status
    mismatches: tuple[Mismatch, ...] = ()
    errors: tuple[Msg, ...] = ()
    decision: Decision | None = None
    hits: tuple[Hit, ...] = ()
    seconds: float = 0.0
    #: for a skipped case: whether it passes now (then the skip can go)
    would_pass: bool | None = None

    @property
    def name(self) -> str:
        return self.case.name


@attrs.frozen(eq=False)
class Report:
    results: tuple[CaseResult, ...]
    #: the ids of the policy set's versions (with several, the reports say which version judged what)
    versions: tuple[str, ...] = ()

    def counts(self) -> dict[Status, int]:
        out = dict.fromkeys(Status, 0)
        for r in self.results:
            out[r.status] += 1
        return out

    @property
    def ok(self) -> bool:
        """No case failed and none was an error (skipped cases do not count against it)."""
        return all(r.status in (Status.PASSED, Status.SKIPPED) for r in self.results)

    def by_file(self) -> dict[str, list[CaseResult]]:
        out: dict[str, list[CaseResult]] = {}
        for r in self.results:
            out.setdefault(r.case.file, []).append(r)
        return out


class _CaseError(Exception):
    def __init__(self, *messages: Msg) -> None:
        super().__init__(messages[0].en if messages else "")
        self.messages = messages


@attrs.frozen
class _RuleInfo:
    id: str
    article: int
    kind: str
    deadline: bool


class _Index:
    """What the cases may name: the rule ids and article numbers of every version of the policy set, and
    its versions; and the set pinned to each version a case names (checked and compiled once)."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        self.rules: dict[str, _RuleInfo] = {}
        self.articles: set[int] = set()
        for v in policy.versions:
            self.articles.update(v.articles)
            for r in v.rules:
                self.rules.setdefault(r.id, _RuleInfo(r.id, r.article, r.kind, r.is_deadline))
        self._pinned: dict[str, PolicySet] = {}

    def policy_for(self, case: Case) -> PolicySet:
        """The set that judges ``case``: the whole set, or the set pinned to the case's ``version:``."""
        vid = case.version
        if vid is None:
            return self.policy
        if vid not in self._pinned:
            self._pinned[vid] = pinned(self.policy, vid)
        return self._pinned[vid]


Evaluator = Callable[..., Decision]


def run_cases(
    cases: Sequence[Case],
    policy: PolicySet,
    *,
    fixtures_dir: str | Path | None = None,
    evaluator: Evaluator = evaluate,
) -> Report:
    """Judge every case under ``policy`` and compare with its expectations. Never raises.

    Fixtures are looked up in ``fixtures_dir`` if given, else in ``<policy root>/../fixtures`` and
    then in ``fixtures/`` under the current directory. ``evaluator(record, on=, policy=)`` judges
    each record: ``engine.evaluate`` by default (the tests also run the reference interpreter).
    """
    index = _Index(policy)
    if fixtures_dir is not None:
        dirs = [Path(fixtures_dir)]
    else:
        # beside the policy directory, then the working directory, then the samples shipped in the package
        found = [policy.root.parent / "fixtures", Path.cwd() / "fixtures", data_path("fixtures")]
        dirs = list(dict.fromkeys(d.resolve() for d in found))
    cache: dict[Path, Any] = {}
    results = tuple(_run_one(c, policy, index, dirs, cache, evaluator) for c in cases)
    return Report(results, tuple(v.id for v in policy.versions))


def _run_one(
    case: Case, policy: PolicySet, index: _Index, dirs: list[Path], cache: dict[Path, Any], evaluator: Evaluator
) -> CaseResult:
    start = time.perf_counter()
    try:
        result = _judge_case(case, policy, index, dirs, cache, evaluator)
    except _CaseError as ex:
        result = CaseResult(case, Status.ERROR, errors=ex.messages)
    except Exception as ex:  # the runner reports, it never crashes
        result = CaseResult(
            case,
            Status.ERROR,
            errors=(
                Msg(
                    f"运行用例时出现内部错误：{type(ex).__name__}: {ex}",
                    f"internal error while running the case: {type(ex).__name__}: {ex}",
                ),
            ),
        )
    seconds = time.perf_counter() - start
    if case.skip is not None:
        return CaseResult(
            case,
            Status.SKIPPED,
            result.mismatches,
            result.errors,
            result.decision,
            (),
            seconds,
            result.status is Status.PASSED,
        )
    return attrs.evolve(result, seconds=seconds)


def _judge_case(
    case: Case, policy: PolicySet, index: _Index, dirs: list[Path], cache: dict[Path, Any], evaluator: Evaluator
) -> CaseResult:
    # every problem of the case at once: how it is written, the names it uses, its record and patches
    problems = [*case.problems]
    try:
        _check_names(case, index)
    except _CaseError as ex:
        problems += ex.messages
    try:
        record = _record(case, dirs, cache)
    except _CaseError as ex:
        problems += ex.messages
    if problems:
        raise _CaseError(*sorted(problems, key=_position))
    assert case.on is not None  # a case without `on` has problems
    judge = index.policy_for(case)
    try:
        decision = evaluator(record, on=case.on, policy=judge)
    except FactsError as ex:
        raise _CaseError(
            Msg("学生记录不符合事实模式：", "the student record does not fit the facts schema:"),
            *(
                Msg(f"  {p.path or '<record>'}: {p.message.zh}", f"  {p.path or '<record>'}: {p.message.en}")
                for p in ex.problems
            ),
        ) from None
    except XuejiError as ex:
        raise _CaseError(Msg(f"引擎报错：{ex}", f"the engine reported an error: {ex}")) from None
    except Exception as ex:
        raise _CaseError(
            Msg(
                f"引擎在判断该记录时崩溃：{type(ex).__name__}: {ex}（这是引擎的缺陷）",
                f"the engine crashed judging this record: {type(ex).__name__}: {ex} (an engine bug)",
            )
        ) from None
    # A patch that writes a field the facts schema does not know (a typo) would change nothing.
    patched = [p for p, _, _ in case.patch]
    for w in decision.warnings:
        if w.code == "unknown-field" and any(w.path == p or w.path.startswith((p + ".", p + "[")) for p in patched):
            raise _CaseError(Msg(f"patch: {w.message.zh}", f"patch: {w.message.en}"))
    mismatches: list[Mismatch] = []
    hits: list[Hit] = []
    for exp in case.expect:
        m, found = _check(exp, decision, versions=len(index.policy.versions) > 1)
        mismatches.extend(m)
        if not m:  # each finding covers its rule in the version that judged it
            hits.extend((f.version, f.rule, f.outcome) for f in found if f.version is not None)
    if case.expect_none_judged:
        judged = [f for f in decision.findings if f.outcome is not Outcome.NOT_APPLICABLE]
        if judged:
            shown = "; ".join(f"{f.rule} @ {f.subject} {f.outcome.value}" for f in judged[:5])
            more = f" (+{len(judged) - 5})" if len(judged) > 5 else ""
            mismatches.append(
                Mismatch(
                    Expectation(case.span, Outcome.NOT_APPLICABLE),
                    "expect_none_judged",
                    Msg("不作任何判断", "nothing judged"),
                    Msg(f"{len(judged)} 项判断：{shown}{more}", f"{len(judged)} finding(s) judged: {shown}{more}"),
                )
            )
    status = Status.FAILED if mismatches else Status.PASSED
    return CaseResult(case, status, tuple(mismatches), (), decision, tuple(dict.fromkeys(hits)))


_AT: Final = re.compile(r"^.*?:(\d+):(\d+): ")


def _position(message: Msg) -> tuple[int, int]:
    """Where a problem is, from its ``file:line:col:`` prefix (those without one last), to list them
    in the order of the file."""
    m = _AT.match(message.en)
    return (int(m.group(1)), int(m.group(2))) if m else (1 << 30, 0)


def _check_names(case: Case, index: _Index) -> None:
    errors: list[Msg] = []
    pinned_to = None
    if case.version is not None:
        pinned_to = index.policy.version(case.version)
        if pinned_to is None:
            known = [v.id for v in index.policy.versions]
            errors.append(
                Msg(
                    f"{case.version_span}: 策略中没有版本 {case.version}（已有版本：{'、'.join(known)}）",
                    f"{case.version_span}: the policy set has no version {case.version} "
                    f"(its versions: {', '.join(known)})",
                )
            )
    for exp in case.expect:
        if exp.rule is not None:
            info = index.rules.get(exp.rule)
            if info is None:
                close = difflib.get_close_matches(exp.rule, list(index.rules), n=1)
                hint_zh = f"；是否应为 {close[0]}？" if close else ""
                hint_en = f"; did you mean {close[0]}?" if close else ""
                errors.append(
                    Msg(
                        f"{exp.span}: 策略中没有规则 {exp.rule}{hint_zh}",
                        f"{exp.span}: the policy has no rule {exp.rule}{hint_en}",
                    )
                )
            elif info.kind == "invariant":
                errors.append(
                    Msg(
                        f"{exp.span}: {exp.rule} 是不变式，由 xueji check 检查，evaluate 不判断它",
                        f"{exp.span}: {exp.rule} is an invariant, checked by xueji check; evaluate does not judge it",
                    )
                )
        elif exp.article is not None and exp.article not in index.articles:
            errors.append(
                Msg(f"{exp.span}: 策略中没有第{exp.article}条", f"{exp.span}: the policy has no article {exp.article}")
            )
        if pinned_to is not None and (
            (exp.rule is not None and exp.rule in index.rules and not any(r.id == exp.rule for r in pinned_to.rules))
            or (exp.article is not None and exp.article in index.articles and exp.article not in pinned_to.articles)
        ):
            zh, en = (exp.rule, exp.rule) if exp.rule is not None else (f"第{exp.article}条", f"article {exp.article}")
            errors.append(
                Msg(
                    f"{exp.span}: 用例限定的版本 {pinned_to.id} 中没有 {zh}",
                    f"{exp.span}: version {pinned_to.id}, which the case is pinned to, has no {en}",
                )
            )
    if errors:
        raise _CaseError(*errors)


# -------------------------------------------------------------------------------------------- records


def _record(case: Case, dirs: list[Path], cache: dict[Path, Any]) -> Any:
    """The case's record, its patches and removals applied; every patch or removal that cannot be
    applied is reported (each at its line), not only the first."""
    if case.fixture is not None:
        try:
            base = copy.deepcopy(_fixture(case.fixture, dirs, cache))
        except _CaseError as ex:
            where = f"{case.fixture_span}: " if case.fixture_span is not None else ""
            raise _CaseError(*(Msg(where + m.zh, where + m.en) for m in ex.messages)) from None
    elif case.record is not None:
        base = copy.deepcopy(case.record)
    else:
        return None  # the case has no usable record: a problem of the case already says so
    errors: list[Msg] = []
    for path, value, span in case.patch:
        try:
            _set(base, _parse_path(path), copy.deepcopy(value))
        except _CaseError as ex:
            errors += (Msg(f"{span}: patch {path}: {m.zh}", f"{span}: patch {path}: {m.en}") for m in ex.messages)
    for path, span in case.remove:
        try:
            _delete(base, _parse_path(path))
        except _CaseError as ex:
            errors += (Msg(f"{span}: remove {path}: {m.zh}", f"{span}: remove {path}: {m.en}") for m in ex.messages)
    if errors:
        raise _CaseError(*errors)
    return base


def _fixture(name: str, dirs: list[Path], cache: dict[Path, Any]) -> Any:
    stems = [name] if name.endswith((".yaml", ".yml", ".json")) else [f"{name}.yaml", f"{name}.yml", f"{name}.json"]
    for d in dirs:
        for stem in stems:
            path = d / stem
            if path.is_file():
                key = path.resolve()
                if key not in cache:
                    cache[key] = _read_fixture(path)
                return cache[key]
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.iterdir() if p.suffix in (".yaml", ".yml", ".json")})
    close = difflib.get_close_matches(name, known, n=1)
    where = ", ".join(shown(d) for d in dirs)
    raise _CaseError(
        Msg(
            f"找不到样例 {name}（在 {where} 中查找）" + (f"；是否应为 {close[0]}？" if close else ""),
            f"no fixture named {name} (looked in {where})" + (f"; did you mean {close[0]}?" if close else ""),
        )
    )


def _read_fixture(path: Path) -> Any:
    name = shown(path)
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise _CaseError(
            Msg(f"无法读取样例 {name}：{ex.strerror}", f"cannot read the fixture {name}: {ex.strerror}")
        ) from None
    value, diags = load_data(data, name)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors or value is None:
        raise _CaseError(
            Msg(f"样例 {name} 无法读取：", f"the fixture {name} cannot be read:"), *(_diag_msg(d) for d in errors)
        )
    return value


def _walk_to(root: Any, parts: list[str | int]) -> Any:
    node = root
    for i, part in enumerate(parts):
        here = _show(parts[: i + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise _CaseError(
                    Msg(
                        f"{_show(parts[:i]) or '记录'} 不是列表",
                        f"{_show(parts[:i]) or 'the record'} is not a list",
                    )
                )
            if part >= len(node):
                raise _CaseError(
                    Msg(
                        f"{here} 超出范围（列表只有 {len(node)} 项）",
                        f"{here} is out of range (the list has {len(node)} elements)",
                    )
                )
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise _CaseError(
                    Msg(
                        f"{_show(parts[:i]) or '记录'} 不是映射",
                        f"{_show(parts[:i]) or 'the record'} is not a mapping",
                    )
                )
            if part not in node:
                raise _CaseError(Msg(f"记录中没有 {here}", f"the record has no {here}"))
            node = node[part]
        if node is None and i < len(parts) - 1:
            raise _CaseError(
                Msg(f"{here} 为 null；请整体设置 {here}", f"{here} is null; set the whole of {here} instead")
            )
    return node


def _set(root: Any, parts: list[str | int], value: Any) -> None:
    parent = _walk_to(root, parts[:-1])
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(parent, list):
            raise _CaseError(Msg(f"{_show(parts[:-1])} 不是列表", f"{_show(parts[:-1])} is not a list"))
        if last < len(parent):
            parent[last] = value
        elif last == len(parent):  # one past the end adds an element
            parent.append(value)
        else:
            raise _CaseError(
                Msg(
                    f"{_show(parts)} 超出范围（列表有 {len(parent)} 项，可新增的是 [{len(parent)}]）",
                    f"{_show(parts)} is out of range (the list has {len(parent)} elements; [{len(parent)}] adds one)",
                )
            )
    else:
        if not isinstance(parent, dict):
            raise _CaseError(
                Msg(
                    f"{_show(parts[:-1]) or '记录'} 不是映射",
                    f"{_show(parts[:-1]) or 'the record'} is not a mapping",
                )
            )
        parent[last] = value


def _delete(root: Any, parts: list[str | int]) -> None:
    parent = _walk_to(root, parts[:-1])
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(parent, list) or last >= len(parent):
            raise _CaseError(Msg(f"记录中没有 {_show(parts)}", f"the record has no {_show(parts)}"))
        del parent[last]
    else:
        if not isinstance(parent, dict) or last not in parent:
            raise _CaseError(Msg(f"记录中没有 {_show(parts)}", f"the record has no {_show(parts)}"))
        del parent[last]


# ------------------------------------------------------------------------------------------- matching


def _iso(d: dt.date | None) -> str:
    return "null" if d is None else d.isoformat()


def _got(exp: Expectation, f: Finding, *, version: bool = False) -> str:
    parts = [f.outcome.value]
    if exp.check_due or f.due is not None:
        parts.append(f"due {_iso(f.due)}")
    if exp.check_due_not_before or f.due_not_before is not None:
        parts.append(f"due_not_before {_iso(f.due_not_before)}")
    if exp.missing is not None or f.missing:
        parts.append(f"missing [{', '.join(f.missing)}]")
    if version and f.version is not None:
        parts.append(f"version {f.version}" + (f" (arose {f.arose})" if f.arose is not None else ""))
    return ", ".join(parts)


def _check(exp: Expectation, decision: Decision, *, versions: bool = False) -> tuple[list[Mismatch], list[Finding]]:
    """Mismatches of one expectation, and the findings it matched; with ``versions`` (a set of several
    versions) each actual finding names the version that judged it."""
    if exp.rule is not None:
        found = [f for f in decision.findings if f.rule == exp.rule]
    else:
        found = [f for f in decision.findings if f.article == exp.article]
    if exp.subject is not None:
        found = [f for f in found if f.subject == exp.subject]
    wanted = Msg(exp.wanted(), exp.wanted())
    if not found:
        # Nothing judged is what "not applicable" means, unless a particular subject was named.
        if exp.outcome is Outcome.NOT_APPLICABLE and exp.subject is None:
            return [], []
        if decision.note is not None:
            why = Msg(f"没有该项判断（{decision.note.zh}）", f"no finding ({decision.note.en})")
        elif exp.subject is not None:
            subjects = sorted({f.subject for f in decision.findings if f.rule == exp.rule or f.article == exp.article})
            why = Msg(
                f"没有该对象的判断（已有：{', '.join(subjects) or '无'}）",
                f"no finding for this subject (there are: {', '.join(subjects) or 'none'})",
            )
        else:
            why = Msg("没有该项判断", "no finding")
        return [Mismatch(exp, exp.target_text("en"), wanted, why)], []
    mismatches: list[Mismatch] = []
    for f in found:
        bad = f.outcome is not exp.outcome
        if exp.check_due and f.due != exp.due:
            bad = True
        if exp.check_due_not_before and f.due_not_before != exp.due_not_before:
            bad = True
        if exp.missing is not None and set(f.missing) != set(exp.missing):
            bad = True
        if bad:
            got = _got(exp, f, version=versions)
            mismatches.append(Mismatch(exp, f"{f.rule} @ {f.subject}", wanted, Msg(got, got)))
    return mismatches, found


# ------------------------------------------------------------------------------------------- coverage


@attrs.frozen(eq=False)
class RuleCoverage:
    id: str
    article: int
    kind: str  # require / forbid / invariant
    deadline: bool
    #: outcome → names of the passing cases that asserted it for this rule, in findings this version judged
    cases: dict[Outcome, tuple[str, ...]]
    #: outcome → (version, case names) for an outcome no finding of this version shows but a finding of
    #: another version whose rule has the same text does (the rule carried over unchanged)
    carried: dict[Outcome, tuple[str, tuple[str, ...]]] = attrs.Factory(dict)
    #: where the rule's ``id:`` is written
    span: Span | None = None

    @property
    def invariant(self) -> bool:
        return self.kind == "invariant"

    def names(self, outcome: Outcome) -> tuple[str, ...]:
        """The passing cases that cover ``outcome``: judged by this version, else by one with the same text."""
        carried = self.carried.get(outcome)
        return self.cases.get(outcome) or (carried[1] if carried else ())

    def carried_from(self, outcome: Outcome) -> str | None:
        """The version whose cases cover ``outcome`` when this version's do not (None: its own, or none)."""
        carried = self.carried.get(outcome)
        return carried[0] if carried else None


@attrs.frozen(eq=False)
class ArticleCoverage:
    number: int
    title: str
    chapter: str
    informative: bool
    scope: bool  # the article that declares the version's scope (Art. 2)
    rules: tuple[RuleCoverage, ...]
    #: where the article's number is written
    span: Span | None = None

    @property
    def normative(self) -> bool:
        return not self.informative and not self.scope


@attrs.frozen(eq=False)
class VersionCoverage:
    id: str
    effective: dt.date
    articles: tuple[ArticleCoverage, ...]
    previous: str | None = None  # the version it revises


@attrs.frozen
class Problem:
    code: str  # article-without-rule | rule-never-violated | rule-never-satisfied | deadline-never-pending
    version: str
    article: int
    rule: str | None
    message: Msg
    #: the rule's ``id:`` (or the article's number, for an article without rules)
    span: Span | None = None

    def __str__(self) -> str:
        return self.message.en


@attrs.frozen(eq=False)
class Coverage:
    versions: tuple[VersionCoverage, ...]

    def problems(self, *, pending: bool = False) -> list[Problem]:
        """What is untested, per version: a normative article (not informative, not the scope article)
        with no rule; a judged rule (not an invariant) that no passing case makes ``violated``, or
        ``satisfied``; with ``pending=True`` also a deadline rule no case makes ``pending`` (a rule
        counts as covered by the cases of another version with the same rule text)."""
        out: list[Problem] = []
        several = len(self.versions) > 1  # then each problem names its version
        for v in self.versions:
            for a in v.articles:
                if a.normative and not a.rules:
                    out.append(
                        _problem(
                            "article-without-rule",
                            v,
                            a.number,
                            None,
                            Msg(
                                f"第{a.number}条（{a.title}）既非说明性条款，也没有规则",
                                f"article {a.number} ({a.title}) is normative but has no rule",
                            ),
                            several,
                            a.span,
                        )
                    )
                for r in a.rules:
                    if r.invariant:
                        continue
                    for outcome, code in (
                        (Outcome.VIOLATED, "rule-never-violated"),
                        (Outcome.SATISFIED, "rule-never-satisfied"),
                    ):
                        if not r.names(outcome):
                            message = Msg(
                                f"规则 {r.id} 没有判为“{outcome.word('zh')}”（{outcome.value}）的用例",
                                f"no case makes rule {r.id} {outcome.value}",
                            )
                            out.append(_problem(code, v, a.number, r.id, message, several, r.span))
                    if pending and r.deadline and not r.names(Outcome.PENDING):
                        message = Msg(
                            f"期限规则 {r.id} 没有判为“待办”（pending）的用例",
                            f"no case makes the deadline rule {r.id} pending",
                        )
                        out.append(_problem("deadline-never-pending", v, a.number, r.id, message, several, r.span))
        return out


def _problem(
    code: str, v: VersionCoverage, article: int, rule: str | None, message: Msg, several: bool, span: Span | None
) -> Problem:
    if several:
        message = Msg(f"{message.zh}（版本 {v.id}）", f"{message.en} (version {v.id})")
    return Problem(code, v.id, article, rule, message, span)


def coverage(policy: PolicySet, report: Report) -> Coverage:
    """Per version, article and rule: the passing cases that asserted each outcome of a finding that
    version judged (``Finding.version``).

    A case covers an outcome of a rule when one of its expectations (of the rule, or of the rule's
    article) holds and matched a finding of that rule with that outcome. Failing, erroneous and
    skipped cases cover nothing. An outcome no finding of a version shows is still covered when a
    finding of another version shows it and the rule means the same there: the same rule text, and the
    same definitions it uses (a rule carried over unchanged); the nearest such version is named.
    """
    hits: dict[tuple[str, str, Outcome], list[str]] = {}
    for result in report.results:
        if result.status is not Status.PASSED:
            continue
        for hit in result.hits:
            names = hits.setdefault(hit, [])
            if result.case.name not in names:
                names.append(result.case.name)
    versions: list[VersionCoverage] = []
    for i, v in enumerate(policy.versions):
        # the other versions, nearest first (an earlier one before a later one as near)
        others = sorted((w for w in policy.versions if w is not v), key=lambda w: abs(policy.versions.index(w) - i))
        articles: list[ArticleCoverage] = []
        for a in sorted(v.articles.values(), key=lambda a: a.number):
            rules: list[RuleCoverage] = []
            for r in a.rules:
                own = {o: tuple(hits[(v.id, r.id, o)]) for o in Outcome if (v.id, r.id, o) in hits}
                alike = [w for w in others if _same_rule(r, v, w)]
                carried: dict[Outcome, tuple[str, tuple[str, ...]]] = {}
                for o in Outcome:
                    if o in own:
                        continue
                    w = next((w for w in alike if (w.id, r.id, o) in hits), None)
                    if w is not None:
                        carried[o] = (w.id, tuple(hits[(w.id, r.id, o)]))
                rules.append(RuleCoverage(r.id, r.article, r.kind, r.is_deadline, own, carried, r.span))
            articles.append(
                ArticleCoverage(
                    a.number, a.title, a.chapter, a.informative, a.number == v.scope_article, tuple(rules), a.span
                )
            )
        versions.append(VersionCoverage(v.id, v.effective, tuple(articles), v.previous))
    return Coverage(tuple(versions))


def _same_rule(rule: Rule, version: PolicyVersion, other: PolicyVersion) -> bool:
    """``other`` has ``rule`` (by id) with the same text, using the same definitions."""
    theirs = next((r for r in other.rules if r.id == rule.id), None)
    return (
        theirs is not None
        and theirs.source == rule.source
        and _definitions_used(rule, version) == _definitions_used(theirs, other)
    )


def _definitions_used(rule: Rule, version: PolicyVersion) -> dict[str, s.Let | s.Deadline]:
    """The version's definitions that ``rule`` uses, directly or through other definitions."""
    used: dict[str, s.Let | s.Deadline] = {}
    todo = [e for st in rule.program.statements for e in _statement_exprs(st)]
    while todo:
        for node in s.walk(todo.pop()):
            name = node.id if isinstance(node, s.Name) else node.fn if isinstance(node, s.Call) else None
            d = version.definitions.get(name) if name is not None else None
            if d is not None and name not in used:
                used[d.name] = d.stmt
                todo.append(d.stmt.expr)
    return used


def _statement_exprs(st: s.Statement) -> tuple[s.Expr, ...]:
    match st:
        case s.For(collection=e) | s.Let(expr=e) | s.Deadline(expr=e) | s.Arises(expr=e):
            return (e,)
        case s.Verdict(cond=cond, clauses=clauses):
            return (cond, *(c.expr for c in clauses))
    return ()
