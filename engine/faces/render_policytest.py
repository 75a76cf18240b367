"""Renderers for the policy tests: the report and coverage as text, JSON, JUnit XML and GitHub Actions
annotations (``xueji test --format text|json|junit|github``, ``xueji coverage --format …`` likewise).

They only render what :mod:`engine.tools.policytest` decided (which cases passed, which rules each case
exercised); the CLI calls them for ``xueji test`` and ``xueji coverage``.

The JSON of ``xueji test`` (:func:`report_json`)::

    {"ok": bool, "counts": {"passed": n, "failed": n, "error": n, "skipped": n},
     "cases": [{"name", "file", "line", "col", "status": "passed|failed|error|skipped", "skip", "would_pass",
                "seconds", "version", "versions",
                "mismatches": [{"target", "line", "expected": {"zh", "en"}, "actual": {"zh", "en"}}],
                "errors": [{"zh", "en"}]}]}

The JSON of ``xueji coverage`` (:func:`coverage_json`)::

    {"versions": [{"id", "effective", "revises",
                   "articles": [{"article", "title", "chapter", "informative", "scope", "file", "line",
                                 "rules": [{"id", "kind", "deadline", "file", "line",
                                            "cases": {outcome: [case name, ...]},
                                            "carried_over": {outcome: {"version", "cases"}}}]}]}],
     "problems": [{"code", "version", "article", "rule", "file", "line", "zh", "en"}]}

GitHub annotations: ``::error file=…,line=…,col=…::…`` for each failing or broken case at its ``name:``
(``xueji test``), for each coverage problem at the rule's ``id:`` or the article's number
(``xueji coverage``). JUnit: one ``<testcase>`` per case (``xueji test``); per version, one per rule and
one per normative article without rules (``xueji coverage``), with a ``<failure>`` per problem.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Final

from engine.diagnostics import Lang, Span
from engine.faces.render import _width, outcome_word
from engine.faces.render_machine import github_annotation
from engine.run.decision import Outcome
from engine.tools.policytest import CaseResult, Coverage, Report, Status

_STATUS_WORDS: Final = {
    Status.PASSED: ("通过", "passed"),
    Status.FAILED: ("失败", "FAILED"),
    Status.ERROR: ("错误", "ERROR"),
    Status.SKIPPED: ("跳过", "skipped"),
}


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _status_word(status: Status, lang: Lang) -> str:
    zh, en = _STATUS_WORDS[status]
    return zh if lang == "zh" else en


def failure_text(r: CaseResult, lang: Lang = "en") -> str:
    """The case's location and name, then each mismatch (expected vs actual) or error."""
    zh = lang == "zh"
    head = f"{r.case.where}: {_status_word(r.status, lang)}: {r.case.name}"
    lines = [head]
    if r.case.version is not None:
        pin = r.case.version
        lines.append(f"  限定版本 {pin}（version:）" if zh else f"  pinned to version {pin} (version:)")
    if r.status is Status.SKIPPED:
        lines.append(("  原因: " if zh else "  reason: ") + (r.case.skip or ""))
        if r.would_pass:
            lines.append(
                "  （此用例现在已通过，可以删除 skip:）" if zh else "  (this case passes now: the skip: can go)"
            )
        else:
            lines.append("  （仍未通过：）" if zh else "  (still does not pass:)")
    for e in r.errors:
        lines.append("  " + e.get(lang))
    for m in r.mismatches:
        where = f"{m.expectation.span.file}:{m.expectation.span.line}"
        lines.append(f"  {m.target}  ({where})")
        lines.append(("    期望: " if zh else "    expected: ") + m.expected.get(lang))
        lines.append(("    实际: " if zh else "    actual:   ") + m.actual.get(lang))
    return "\n".join(lines)


def _summary(report: Report, lang: Lang) -> str:
    c = report.counts()
    n_pass, n_fail, n_err, n_skip = (c[s] for s in (Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED))
    total = len(report.results)
    if lang == "zh":
        return f"共 {total} 个用例：{n_pass} 个通过，{n_fail} 个失败，{n_err} 个错误，{n_skip} 个跳过"
    return f"{total} cases: {n_pass} passed, {n_fail} failed, {n_err} errors, {n_skip} skipped"


def report_text(report: Report, lang: Lang = "zh", *, verbose: bool = False) -> str:
    """Failures and errors as ``file:line: status: case name`` then, for each mismatch, expected vs
    actual; skipped cases with their reason; passing cases only when ``verbose``; a summary line."""
    blocks: list[str] = []
    order = {Status.ERROR: 0, Status.FAILED: 0, Status.SKIPPED: 1, Status.PASSED: 2}
    for r in sorted(report.results, key=lambda r: order[r.status]):
        if r.status is Status.PASSED and not verbose:
            continue
        blocks.append(failure_text(r, lang))
    blocks.append(_summary(report, lang))
    return "\n\n".join(blocks) + "\n"


def report_json(report: Report) -> str:
    """The report for machines: every case with its status, location, mismatches and errors."""
    out: dict[str, Any] = {
        "ok": report.ok,
        "counts": {s.value: n for s, n in report.counts().items()},
        "cases": [
            {
                "name": r.case.name,
                "file": r.case.file,
                "line": r.case.line,
                "col": r.case.span.col,
                "status": r.status.value,
                "skip": r.case.skip,
                "would_pass": r.would_pass,
                "seconds": round(r.seconds, 6),
                # the version the case is pinned to (None: each obligation by the version in force when
                # it arose), and the versions that judged its findings
                "version": r.case.version,
                "versions": list(r.decision.versions) if r.decision is not None else [],
                "mismatches": [
                    {
                        "target": m.target,
                        "line": m.expectation.span.line,
                        "expected": {"zh": m.expected.zh, "en": m.expected.en},
                        "actual": {"zh": m.actual.zh, "en": m.actual.en},
                    }
                    for m in r.mismatches
                ],
                "errors": [{"zh": e.zh, "en": e.en} for e in r.errors],
            }
            for r in report.results
        ],
    }
    return json.dumps(out, ensure_ascii=False, indent=2)


_XML_BAD: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def junit_xml(report: Report, lang: Lang = "en") -> str:
    """JUnit XML for CI dashboards: one ``<testsuite>`` per case file, one ``<testcase>`` per case,
    with ``<failure>`` (mismatches), ``<error>`` or ``<skipped>``."""
    root = ET.Element("testsuites", name="xueji policy tests")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    for file, results in report.by_file().items():
        stem = Path(file).with_suffix("").as_posix().strip("/").replace("/", ".")
        suite = ET.SubElement(root, "testsuite", name=_xml(file))
        counts = dict.fromkeys(totals, 0)
        suite_time = 0.0
        for r in results:
            counts["tests"] += 1
            suite_time += r.seconds
            tc = ET.SubElement(
                suite,
                "testcase",
                name=_xml(r.case.name),
                classname=_xml(stem),
                file=_xml(file),
                line=str(r.case.line),
                time=f"{r.seconds:.6f}",
            )
            properties = _junit_properties(r, several=len(report.versions) > 1)
            if properties:
                props = ET.SubElement(tc, "properties")
                for name, value in properties:
                    ET.SubElement(props, "property", name=name, value=_xml(value))
            if r.status is Status.FAILED:
                counts["failures"] += 1
                n = len({m.expectation for m in r.mismatches})
                msg = f"{n} 项期望未满足" if lang == "zh" else f"{n} expectation(s) not met"
                el = ET.SubElement(tc, "failure", message=_xml(msg), type="mismatch")
                el.text = _xml(failure_text(r, lang))
            elif r.status is Status.ERROR:
                counts["errors"] += 1
                first = r.errors[0].get(lang) if r.errors else ""
                el = ET.SubElement(tc, "error", message=_xml(first), type="error")
                el.text = _xml(failure_text(r, lang))
            elif r.status is Status.SKIPPED:
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", message=_xml(r.case.skip or ""))
        for k, n in counts.items():
            suite.set(k, str(n))
            totals[k] += n
        suite.set("time", f"{suite_time:.6f}")
        total_time += suite_time
    for k, n in totals.items():
        root.set(k, str(n))
    root.set("time", f"{total_time:.6f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_properties(r: CaseResult, *, several: bool) -> list[tuple[str, str]]:
    """Which version judged the case: the one it is pinned to (``version``), and with a set of several
    versions the versions that judged its findings (``versions``)."""
    out = []
    if r.case.version is not None:
        out.append(("version", r.case.version))
    if (several or r.case.version is not None) and r.decision is not None and r.decision.versions:
        out.append(("versions", " ".join(r.decision.versions)))
    return out


_COV_OUTCOMES: Final = (Outcome.VIOLATED, Outcome.SATISFIED, Outcome.PENDING, Outcome.UNKNOWN, Outcome.NOT_APPLICABLE)


def _carried_text(cov: Coverage, version: str, source: str, lang: Lang) -> str:
    """Where a version's coverage of a rule comes from when its own cases give none: "carried over from
    2021" (an earlier version with the same rule text), or "same text in 2025" (a later one)."""
    order = [v.id for v in cov.versions]
    earlier = order.index(source) < order.index(version)
    if lang == "zh":
        return f"沿用自 {source} 版" if earlier else f"与 {source} 版文本相同"
    return f"carried over from {source}" if earlier else f"same text in {source}"


def coverage_text(cov: Coverage, lang: Lang = "zh", *, details: bool = True) -> str:
    """A table per policy version — article, title, rules, and per rule how many passing cases assert
    each outcome in findings that version judged (``n*``: none did, the count is of cases judged under
    another version where the rule has the same text) — then (``details``) the names of those cases, and
    a final line listing the problems."""
    zh = lang == "zh"
    lines: list[str] = []
    heads = ["条款" if zh else "art.", "标题" if zh else "title", "规则" if zh else "rule"]
    out_heads = [outcome_word(o, lang) if zh else o.value for o in _COV_OUTCOMES]
    for v in cov.versions:
        if v.previous is None:
            head = f"版本 {v.id}（自 {v.effective} 起施行）" if zh else f"version {v.id} (in force from {v.effective})"
        else:
            head = (
                f"版本 {v.id}（自 {v.effective} 起施行，修订 {v.previous} 版）"
                if zh
                else f"version {v.id} (in force from {v.effective}, revises {v.previous})"
            )
        lines.append(head)
        carried_any = False
        rows: list[list[str]] = []
        for a in v.articles:
            art = f"第{a.number}条" if zh else str(a.number)
            if not a.rules:
                tag = ("说明性，无规则" if zh else "informative, no rule") if a.informative else ""
                if a.scope:
                    tag = "适用范围（scope）" if zh else "scope of the version"
                if a.normative:
                    tag = "！没有规则" if zh else "! no rule"
                rows.append([art, a.title, f"({tag})", *([""] * len(_COV_OUTCOMES))])
                continue
            for i, r in enumerate(a.rules):
                label = r.id + (" ⏱" if r.deadline else "")
                if r.invariant:
                    rows.append(
                        [
                            art if i == 0 else "",
                            a.title if i == 0 else "",
                            label + (" （不变式）" if zh else " (invariant)"),
                            *(["·"] * len(_COV_OUTCOMES)),
                        ]
                    )
                    continue
                counts = [
                    (str(len(r.names(o))) + ("*" if r.carried_from(o) else "")) if r.names(o) else "-"
                    for o in _COV_OUTCOMES
                ]
                carried_any = carried_any or any(r.carried_from(o) for o in _COV_OUTCOMES)
                rows.append([art if i == 0 else "", a.title if i == 0 else "", label, *counts])
        header = [*heads, *out_heads]
        widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines.append("  ".join(_pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for row in rows:
            lines.append("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines.append(
            "⏱ = 期限规则；数字为断言该结论并通过的用例数"
            if zh
            else "⏱ = deadline rule; numbers count the passing cases asserting each outcome"
        )
        if carried_any:
            lines.append(
                "* = 本版本没有判出该结论的用例；计数为规则文本相同的其他版本的用例（见下）"
                if zh
                else "* = no case judged under this version; the count is of cases judged under another version "
                "where the rule has the same text (named below)"
            )
        if details:
            lines.append("")
            for a in v.articles:
                for r in a.rules:
                    if r.invariant:
                        continue
                    lines.append(f"{r.id}" + ((" （期限规则）" if zh else " (deadline)") if r.deadline else ""))
                    for o in _COV_OUTCOMES:
                        names = r.names(o)
                        if names:
                            source = r.carried_from(o)
                            where = f", {_carried_text(cov, v.id, source, lang)}" if source else ""
                            lines.append(
                                f"  {outcome_word(o, lang) if zh else o.value} ({len(names)}{where}): "
                                + "; ".join(names)
                            )
        lines.append("")
    problems = cov.problems()
    if problems:
        lines.append(
            ("问题" if zh else "problems") + f" ({len(problems)}): " + "; ".join(p.message.get(lang) for p in problems)
        )
    else:
        lines.append(
            "问题：无（每条规范性条款都有规则，每条规则都有判为违反和符合的用例）"
            if zh
            else "problems: none (every normative article has rules; every rule has a violated and a satisfied case)"
        )
    return "\n".join(lines) + "\n"


def coverage_json(cov: Coverage) -> str:
    """Coverage for machines: versions → articles → rules → outcome → case names, and the problems."""
    out: dict[str, Any] = {
        "versions": [
            {
                "id": v.id,
                "effective": v.effective.isoformat(),
                "revises": v.previous,
                "articles": [
                    {
                        "article": a.number,
                        "title": a.title,
                        "chapter": a.chapter,
                        "informative": a.informative,
                        "scope": a.scope,
                        **_where(a.span),
                        "rules": [
                            {
                                "id": r.id,
                                "kind": r.kind,
                                "deadline": r.deadline,
                                **_where(r.span),
                                # the cases of findings this version judged, and for an outcome none
                                # shows, the version with the same rule text whose cases cover it
                                "cases": {o.value: list(r.cases.get(o, ())) for o in _COV_OUTCOMES},
                                "carried_over": {
                                    o.value: {"version": source, "cases": list(names)}
                                    for o, (source, names) in r.carried.items()
                                    if o in _COV_OUTCOMES
                                },
                            }
                            for r in a.rules
                        ],
                    }
                    for a in v.articles
                ],
            }
            for v in cov.versions
        ],
        "problems": [
            {
                "code": p.code,
                "version": p.version,
                "article": p.article,
                "rule": p.rule,
                **_where(p.span),
                "zh": p.message.zh,
                "en": p.message.en,
            }
            for p in cov.problems()
        ],
    }
    return json.dumps(out, ensure_ascii=False, indent=2)


def _where(span: Span | None) -> dict[str, Any]:
    return {"file": span.file if span else None, "line": span.line if span else None}


# ------------------------------------------------------------------------------ GitHub and JUnit for CI


def report_github(report: Report, lang: Lang = "en") -> str:
    """A GitHub Actions ``::error`` annotation for each failing or broken case, at its ``name:``, with
    what failed (expected against actual, or the errors), and a ``::notice`` with the summary."""
    lines = []
    for r in report.results:
        if r.status in (Status.FAILED, Status.ERROR):
            title = f"xueji test: {_status_word(r.status, lang)}"
            lines.append(github_annotation("error", r.case.span, title, failure_text(r, lang)))
    lines.append(github_annotation("notice", None, "xueji test", _summary(report, lang)))
    return "\n".join(lines)


def coverage_github(cov: Coverage, lang: Lang = "en", *, pending: bool = False) -> str:
    """A GitHub Actions ``::error`` annotation for each coverage problem, at the rule's ``id:`` (or the
    article's number); nothing when there is none."""
    return "\n".join(
        github_annotation("error", p.span, f"xueji coverage {p.code}", p.message.get(lang))
        for p in cov.problems(pending=pending)
    )


def _junit_case(suite: ET.Element, counts: dict[str, int], name: str, classname: str, span: Span | None) -> ET.Element:
    attributes = {"name": _xml(name), "classname": _xml(classname)}
    if span is not None:
        attributes |= {"file": _xml(span.file), "line": str(span.line)}
    counts["tests"] += 1
    return ET.SubElement(suite, "testcase", attributes)


def coverage_junit(cov: Coverage, lang: Lang = "en", *, pending: bool = False) -> str:
    """Coverage as JUnit XML: one ``<testsuite>`` per version; a ``<testcase>`` per judged rule (an
    invariant is ``<skipped>``: ``xueji check`` tests it) and per normative article without rules, with a
    ``<failure>`` for each coverage problem (a rule never violated or never satisfied, …)."""
    problems = cov.problems(pending=pending)
    root = ET.Element("testsuites", name="xueji coverage")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for v in cov.versions:
        suite = ET.SubElement(root, "testsuite", name=_xml(f"version {v.id}"))
        counts = dict.fromkeys(totals, 0)

        for a in v.articles:
            classname = f"version {v.id}.art{a.number}"
            mine = [p for p in problems if p.version == v.id and p.article == a.number]
            if not a.rules:
                if a.normative:
                    tc = _junit_case(suite, counts, f"article {a.number}", classname, a.span)
                    for p in mine:
                        counts["failures"] += 1
                        ET.SubElement(tc, "failure", message=_xml(p.message.get(lang)), type=p.code)
                continue
            for r in a.rules:
                tc = _junit_case(suite, counts, r.id, classname, r.span)
                if r.invariant:
                    counts["skipped"] += 1
                    ET.SubElement(tc, "skipped", message="invariant: checked by xueji check")
                    continue
                failed = [p for p in mine if p.rule == r.id]
                if failed:
                    counts["failures"] += 1
                    el = ET.SubElement(tc, "failure", message=_xml(failed[0].message.get(lang)), type=failed[0].code)
                    el.text = _xml("\n".join(p.message.get(lang) for p in failed))
        for k, n in counts.items():
            suite.set(k, str(n))
            totals[k] += n
    for k, n in totals.items():
        root.set(k, str(n))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
