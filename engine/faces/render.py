"""Renderers for people and machines: diagnostics and decisions as text or JSON.

They only render; nothing here decides. The CLI calls them.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from engine.diagnostics import Diagnostic, Lang
from engine.lang.printer import expr as expr_text
from engine.run.decision import Decision, Finding, Outcome
from engine.sources.policy import PolicySet

if TYPE_CHECKING:
    from engine.run.explain import Step

_OUTCOME_ORDER = {
    Outcome.VIOLATED: 0,
    Outcome.UNKNOWN: 1,
    Outcome.PENDING: 2,
    Outcome.SATISFIED: 3,
    Outcome.NOT_APPLICABLE: 4,
}
_SEVERITY_WORDS = {"error": "错误", "warning": "警告", "info": "提示"}


def outcome_word(o: Outcome, lang: Lang) -> str:
    return o.word(lang)


def due_text(f: Finding, lang: Lang) -> str:
    """A finding's due date as shown: the date, "不早于 …" / "not before …" when the working-day calendar
    gives only its lower bound, or "" when it has none."""
    if f.due is not None:
        return f.due.isoformat()
    if f.due_not_before is not None:
        return f"{'不早于' if lang == 'zh' else 'not before'} {f.due_not_before.isoformat()}"
    return ""


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# ---------------------------------------------------------------------------------------------- diagnostics


_EXCERPT = 240  # longest source excerpt shown under a diagnostic (characters)


class SourceCache:
    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def line(self, file: str, line: int) -> str | None:
        if file not in self._lines:
            try:
                text = Path(file).read_text(encoding="utf-8-sig", errors="replace")
            except OSError:
                text = ""
            self._lines[file] = text.splitlines()
        lines = self._lines[file]
        return lines[line - 1] if 0 < line <= len(lines) else None


def diagnostic_text(d: Diagnostic, lang: Lang, sources: SourceCache | None = None) -> str:
    """``file:line:col: severity[code]: message``, the source line, a caret under the token, the hint."""
    sev = d.severity.value if lang == "en" else f"{_SEVERITY_WORDS.get(d.severity.value, d.severity.value)}"
    where = f"{d.span}: " if d.span else ""
    out = [f"{where}{sev}[{d.code}]: {d.message.get(lang)}"]
    if d.span is not None:
        src = (sources or SourceCache()).line(d.span.file, d.span.line)
        if src is not None:
            gutter = f"{d.span.line:>4} | "
            src = src.rstrip("\r")
            start, end = d.span.col - 1, d.span.end_col - 1 if d.span.end_line == d.span.line else d.span.col
            cut = 0
            if len(src) > _EXCERPT:  # a very long line: show a window around the token
                cut = max(0, start - _EXCERPT // 2)
                src = ("…" if cut else "") + src[cut : cut + _EXCERPT] + ("…" if cut + _EXCERPT < len(src) else "")
                shift = cut - (1 if cut else 0)
                start, end = start - shift, end - shift
            out.append(gutter + src)
            lead = _width(src[:start].replace("\t", " "))
            length = max(1, _width(src[start:end])) if end > start else 1
            out.append(" " * (len(gutter) - 2) + "| " + " " * lead + "^" * min(length, _EXCERPT))
    if d.hint is not None:
        out.append(("  提示: " if lang == "zh" else "  hint: ") + d.hint.get(lang))
    return "\n".join(out)


def diagnostics_text(diags: Sequence[Diagnostic], lang: Lang) -> str:
    sources = SourceCache()
    return "\n\n".join(diagnostic_text(d, lang, sources) for d in diags)


# ------------------------------------------------------------------------------------------ versions

_CHANGE_WORDS = {"replaces": ("替换", "replaces"), "adds": ("新增", "adds"), "repeals": ("废止", "repeals")}
_DEFINITION_KINDS = ("defines", "redefines")


def versions_text(policy: PolicySet, lang: Lang) -> str:
    """What each version of ``policy`` changes in the one before it, one line a version::

    version 2025 (in force from 2025-09-01, revises 2021): replaces Art. 12; adds —; repeals —;
    parameters: college_report_window = 27 days from 2025-09-01
    """
    zh = lang == "zh"
    lines = []
    for v in policy.versions:
        if v.previous is None:
            lines.append(
                f"版本 {v.id}（自 {v.effective} 起施行）：首个版本，{len(v.articles)} 条"
                if zh
                else f"version {v.id} (in force from {v.effective}): the first version, {len(v.articles)} articles"
            )
            continue
        parts = []
        for kind, (word_zh, word_en) in _CHANGE_WORDS.items():
            arts = [_article_ref(int(c.what), lang) for c in v.changes if c.kind == kind]
            parts.append(f"{word_zh} {'、'.join(arts) or '—'}" if zh else f"{word_en} {', '.join(arts) or '—'}")
        params = []
        for c in v.changes:
            if c.kind == "parameter" and c.what in policy.parameters:
                value = expr_text(policy.parameters[c.what].value_on(v.effective))
                params.append(
                    f"{c.what} 自 {v.effective} 起为 {value}" if zh else f"{c.what} = {value} from {v.effective}"
                )
        parts.append(("参数：" if zh else "parameters: ") + (("、" if zh else ", ").join(params) or "—"))
        new, redefined = ("（新）", "（重新定义）") if zh else (" (new)", " (redefined)")
        defs = [c.what + (new if c.kind == "defines" else redefined) for c in v.changes if c.kind in _DEFINITION_KINDS]
        if defs:
            parts.append(("定义：" if zh else "definitions: ") + ("、" if zh else ", ").join(defs))
        lines.append(
            f"版本 {v.id}（自 {v.effective} 起施行，修订 {v.previous} 版）：" + "；".join(parts)
            if zh
            else f"version {v.id} (in force from {v.effective}, revises {v.previous}): " + "; ".join(parts)
        )
    return "\n".join(lines)


def versions_json(policy: PolicySet) -> list[dict[str, Any]]:
    """The versions of ``policy`` with what each changes in the one before it (``xueji lint --format json``)."""
    return [
        {
            "id": v.id,
            "title": v.title,
            "effective": v.effective.isoformat(),
            "revises": v.previous,
            "articles": sorted(v.articles),
            "changes": [
                {
                    "kind": c.kind,
                    "what": int(c.what) if c.kind in _CHANGE_WORDS else c.what,
                    **(
                        {"value": expr_text(policy.parameters[c.what].value_on(v.effective))}
                        if c.kind == "parameter" and c.what in policy.parameters
                        else {}
                    ),
                    "file": c.span.file,
                    "line": c.span.line,
                    "col": c.span.col,
                }
                for c in v.changes
            ],
        }
        for v in policy.versions
    ]


# --------------------------------------------------------------------------------------------- decisions


def decision_text(
    dec: Decision,
    policy: PolicySet,
    lang: Lang,
    *,
    name: str | None = None,
    explain: Callable[[Finding], list[Step]] | None = None,
    show_all: bool = False,
) -> str:
    """Findings grouped by article, the articles with violations first, each with its due date.
    Articles whose rules are all not applicable are counted in one line unless ``show_all``."""
    who = f"{name or ''} ({dec.student_id})" if dec.student_id else (name or "?")
    head = (
        f"{who} — 评估日期 {dec.on} — 版本 {dec.version or '无'}"
        if lang == "zh"
        else f"{who} — on {dec.on} — version {dec.version or 'none'}"
    )
    lines = [head]
    if len(dec.versions) > 1:  # a decision that mixes versions says so
        lines.append(
            f"  各项义务按其产生之日施行的版本判断：版本 {'、'.join(dec.versions)}"
            if lang == "zh"
            else f"  judged under versions {', '.join(dec.versions)}: each obligation by the version in force "
            "on the day it arose"
        )
    if dec.note is not None:
        lines.append("  " + dec.note.get(lang))
    for w in dec.warnings:
        lines.append(("  警告 " if lang == "zh" else "  warning ") + f"{w.path}: {w.message.get(lang)}")
    version = next((v for v in policy.versions if v.id == dec.version), None)
    by_article: dict[int, list[Finding]] = {}
    for f in dec.findings:
        by_article.setdefault(f.article, []).append(f)
    order = sorted(by_article, key=lambda a: (min(_OUTCOME_ORDER[f.outcome] for f in by_article[a]), a))
    quiet = [a for a in order if all(f.outcome is Outcome.NOT_APPLICABLE for f in by_article[a])]
    if not show_all:
        order = [a for a in order if a not in quiet]
    for art in order:
        findings = sorted(by_article[art], key=lambda f: (_OUTCOME_ORDER[f.outcome], f.rule, f.subject))
        title = ""
        if version is not None and art in version.articles:
            title = version.articles[art].title
        lines.append("")
        lines.append(f"第{art}条 {title}" if lang == "zh" else f"Art. {art} {title}")
        for f in findings:
            shown_due = due_text(f, lang)
            due = f"  {'期限' if lang == 'zh' else 'due'} {shown_due}" if shown_due else ""
            word = outcome_word(f.outcome, lang)
            lines.append(f"  {word}{' ' * max(1, 15 - _width(word))}{f.rule}  {f.subject}{due}")
            if f.outcome is not Outcome.NOT_APPLICABLE:
                lines.append(f"      {f.message.get(lang)}")
            if f.missing:
                lines.append(("      缺少事实: " if lang == "zh" else "      missing facts: ") + ", ".join(f.missing))
            if f.reason is not None:
                lines.append(("      原因: " if lang == "zh" else "      reason: ") + f.reason.get(lang))
            if explain is not None:
                # deferred for start-up time (down a layer): the explanation brings the reference
                # interpreter, which only --explain needs
                from engine.run.explain import judged_by

                lines.append("      " + judged_text(f, dec.on, lang))
                lines.extend(_explanation(f, judged_by(policy, f, dec.on), lang, explain(f)))
    if quiet and not show_all:
        arts = (
            "、".join(f"第{a}条" for a in sorted(quiet)) if lang == "zh" else ", ".join(f"{a}" for a in sorted(quiet))
        )
        lines.append("")
        lines.append(
            f"不适用（其规则均不适用于该学生）：{arts}（--all 显示）"
            if lang == "zh"
            else f"not applicable to this student (every rule): Art. {arts} (--all shows them)"
        )
    counts = summary_counts([dec])
    lines.append("")
    lines.append(
        ("合计: " if lang == "zh" else "total: ")
        + (
            ", ".join(f"{outcome_word(o, lang)} {n}" for o, n in counts.items() if n)
            or ("无" if lang == "zh" else "none")
        )
    )
    return "\n".join(lines)


def judged_text(f: Finding, on: dt.date, lang: Lang) -> str:
    """Which version judged ``f`` and why: "judged under version 2021 (obligation arose on 2024-09-02)"."""
    if f.arose is not None:
        return (
            f"按版本 {f.version} 判断（义务产生于 {f.arose}）"
            if lang == "zh"
            else f"judged under version {f.version} (obligation arose on {f.arose})"
        )
    return (
        f"按版本 {f.version} 判断（{on} 施行的版本；义务产生之日不详）"
        if lang == "zh"
        else f"judged under version {f.version} (the version in force on {on}; the day the obligation arose "
        "is not known)"
    )


def _explanation(f: Finding, version: Any, lang: Lang, steps: list[Step]) -> list[str]:
    out: list[str] = []
    if version is not None and f.article in version.articles:
        art = version.articles[f.article]
        rule = next((r for r in art.rules if r.id == f.rule), None)
        text = art.text.strip().replace("\n", " ")
        out.append(("      条文: " if lang == "zh" else "      article text: ") + text)
        if art.reading:  # how the policy set reads the article (written in English by the policy authors)
            reading = " ".join(art.reading.split())
            out.append(("      解读: " if lang == "zh" else "      reading: ") + reading)
        if rule is not None:
            out.append(("      规则: " if lang == "zh" else "      rule: ") + f"{rule.file}:{rule.span.line}")
            for line in rule.source.strip().splitlines():
                out.append("        " + line)
    if f.facts:
        out.append("      读取的事实:" if lang == "zh" else "      facts read:")
    for path, value in f.facts.items():
        out.append(f"        {path} = {_json_value(value)}")
    if steps:
        out.append("      判断过程:" if lang == "zh" else "      how it was decided:")
        width = max(_width(st.label) + 1 + _width(st.text) for st in steps)
        for st in steps:
            left = f"{st.label} {st.text}"
            mark = ("  ◀ 决定结果" if lang == "zh" else "  ◀ decided it") if st.decided else ""
            out.append(f"        {left}{' ' * (width - _width(left))}  → {st.value}{mark}")
    return out


def summary_counts(decisions: Iterable[Decision]) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for d in decisions:
        for f in d.findings:
            counts[f.outcome] += 1
    return counts


def explainer(policy: PolicySet, record: Any, on: dt.date) -> Callable[[Finding], list[Step]]:
    """The explanation of each finding of ``record``'s decision on ``on`` (``--explain``): the record is
    checked once, not once per finding."""
    from engine.run.explain import explain  # deferred for start-up time: it brings the interpreter

    facts, _ = policy.schema.validate(record)
    return lambda finding: explain(policy, facts, on, finding)


def decision_json(decision: Decision, policy: PolicySet, record: Any, *, explain: bool = False) -> dict[str, Any]:
    """``decision.to_dict()``; with ``explain`` each finding also has its ``explanation`` (the steps that
    decided it), as ``xueji eval --format json --explain`` and the service's ``explain: true`` write it."""
    out = decision.to_dict()
    if explain:
        steps = explainer(policy, record, decision.on)
        for f, found in zip(decision.findings, out["findings"], strict=True):
            found["explanation"] = [attrs.asdict(step) for step in steps(f)]
    return out


def to_json(obj: Any) -> str:
    import json  # deferred for start-up time: text output never needs it

    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False)


def _json_value(value: Any) -> str:
    import json  # deferred for start-up time, as in to_json

    return json.dumps(value, ensure_ascii=False, default=str)


# ---------------------------------------------------------------------------------------------- deadlines


def deadlines_text(dec: Decision, rows: Sequence[Finding], lang: Lang) -> str:
    """A table of ``rows`` (from :func:`engine.evaluate.deadlines`), days left counted from ``dec.on``; a due
    date known only by its bound shows as "not before …" with at least (≥) the days left to the bound."""
    if not rows:
        return "没有逾期或待办的期限" if lang == "zh" else "no overdue or upcoming deadlines"
    head = (
        ("期限", "剩余天数", "状态", "条款", "规则", "对象")
        if lang == "zh"
        else ("due", "days left", "status", "article", "rule", "subject")
    )
    table = [head]
    for f in rows:
        day = f.due or f.due_not_before
        assert day is not None
        left = (day - dec.on).days
        # only a bound: at least that many days left, if any
        left_text = str(left) if f.due is not None else f"≥{left}" if left >= 0 else "?"
        table.append(
            (
                due_text(f, lang),
                left_text,
                outcome_word(f.outcome, lang),
                str(f.article),
                f.rule,
                f.subject,
            )
        )
    widths = [max(_width(r[i]) for r in table) for i in range(len(head))]
    out = []
    for r in table:
        out.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(out)


def _article_ref(article: int, lang: Lang) -> str:
    return f"第{article}条" if lang == "zh" else f"Art. {article}"
