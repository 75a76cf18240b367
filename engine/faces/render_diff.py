"""Renderers for ``xueji diff``: the impact of a revision as text, JSON and a Markdown table.

They only render what :mod:`engine.tools.diff` decided (which findings changed, how often, an example
of each); the CLI calls them. ``labels`` say how the user named the two policy sets and the records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from engine.diagnostics import Lang
from engine.faces.render import _width, outcome_word, to_json
from engine.run.decision import Outcome
from engine.sources.policy import PolicySet
from engine.tools.diff import DiffResult, LineError, Transition


@attrs.frozen
class SetName:
    """A policy set as the command line named it: its directory (None: the bundled set), and the
    date it is taken as of (``--from``/``--to``), if any."""

    path: str | None
    as_of: dt.date | None = None

    def text(self, lang: Lang) -> str:
        path = self.path if self.path is not None else ("内置策略" if lang == "zh" else "bundled policies")
        if self.as_of is None:
            return path
        return f"{path}（{self.as_of} 时）" if lang == "zh" else f"{path} as of {self.as_of}"

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.path, "as_of": None if self.as_of is None else self.as_of.isoformat()}


@attrs.frozen
class Labels:
    """How the two policy sets and the records were named on the command line."""

    old: SetName
    new: SetName
    records: str | None  # the records file; None for generated records


def article_titles(*policies: PolicySet) -> dict[int, str]:
    """Each article's title, from the latest version that has it (the later policy sets first)."""
    titles: dict[int, str] = {}
    for ps in reversed(policies):
        for v in reversed(ps.versions):
            for number, article in v.articles.items():
                titles.setdefault(number, article.title)
    return titles


# ------------------------------------------------------------------------------------------------ words


def _outcome(o: Outcome | None, lang: Lang) -> str:
    if o is None:
        return "（无）" if lang == "zh" else "(none)"
    return outcome_word(o, lang)


def _change(t: Transition, lang: Lang) -> str:
    if t.due_moved:
        return f"{_outcome(t.new, lang)}，期限变动" if lang == "zh" else f"{_outcome(t.new, lang)}, due moved"
    return f"{_outcome(t.old, lang)} → {_outcome(t.new, lang)}"


def _due(t: Transition, lang: Lang) -> str:
    a, b = t.example.old_due, t.example.new_due
    if a is None and b is None:
        return ""
    word = "期限" if lang == "zh" else "due"
    if a == b:
        return f"{word} {a}"
    return f"{word} {a or '—'} → {b or '—'}"


def _example(t: Transition, lang: Lang) -> str:
    """Where the example is: ``line 2 (2022020117), due 2024-09-22 → 2024-09-11``."""
    ex = t.example
    zh = lang == "zh"
    if ex.line is not None:
        where = f"第 {ex.line} 行" if zh else f"line {ex.line}"
    elif ex.record is not None:
        where = (
            ("已缩减的生成记录" if zh else "shrunk generated record")
            if ex.shrunk
            else ("生成记录" if zh else "generated record")
        )
    else:
        where = ""
    if ex.student_id is not None:
        where += f"（{ex.student_id}）" if zh else f" ({ex.student_id})"
    due = _due(t, lang)
    return where + (("，" if zh else ", ") + due if due and where else due)


def _article(number: int, titles: dict[int, str], lang: Lang) -> str:
    title = titles.get(number, "")
    return (f"第{number}条 {title}" if lang == "zh" else f"Art. {number} {title}").rstrip()


def _versions(versions: Sequence[tuple[str, Any]], lang: Lang) -> str:
    if not versions:
        return "无版本施行" if lang == "zh" else "no version in force"
    if lang == "zh":
        return "，".join(f"版本 {v}（自 {e} 起）" for v, e in versions)
    return ", ".join(f"version {v} from {e}" for v, e in versions)


def _source(r: DiffResult, labels: Labels, lang: Lang) -> str:
    if labels.records is not None:
        return labels.records
    n, seed = r.source.get("examples"), r.source.get("seed")
    return f"{n} 条生成记录（种子 {seed}）" if lang == "zh" else f"{n} generated records (seed {seed})"


def _head(r: DiffResult, labels: Labels, lang: Lang) -> list[str]:
    old, new = labels.old.text(lang), labels.new.text(lang)
    if lang == "zh":
        return [
            f"xueji diff：{old} → {new}，评估日期 {r.on}",
            f"  旧  {old}：{_versions(r.old_versions, lang)}",
            f"  新  {new}：{_versions(r.new_versions, lang)}",
            f"  记录  {_source(r, labels, lang)}",
        ]
    return [
        f"xueji diff: {old} → {new}, judged on {r.on}",
        f"  old  {old}: {_versions(r.old_versions, lang)}",
        f"  new  {new}: {_versions(r.new_versions, lang)}",
        f"  records  {_source(r, labels, lang)}",
    ]


def _summary(r: DiffResult, lang: Lang) -> str:
    if lang == "zh":
        return f"判断了 {r.records} 名学生，{r.changed} 名学生的决定有变化，{r.errors} 条记录有错误"
    return f"{r.records} students judged, {r.changed} with a changed decision, {r.errors} records in error"


# ------------------------------------------------------------------------------------------------- text


def _by_article(r: DiffResult) -> dict[int, list[Transition]]:
    out: dict[int, list[Transition]] = {}
    for t in [*r.transitions(), *r.due_moves()]:
        out.setdefault(t.article, []).append(t)
    return dict(sorted(out.items()))


def _record_json(record: dict[str, Any], indent: str) -> list[str]:
    return [indent + line for line in to_json(record).splitlines()]


def diff_text(r: DiffResult, labels: Labels, titles: dict[int, str], lang: Lang) -> str:
    """The head (what was compared, on which date, with which records), the counts, then each article
    with a change: its transitions and due moves, how many students each, and an example."""
    zh = lang == "zh"
    lines = [*_head(r, labels, lang), _summary(r, lang)]
    groups = _by_article(r)
    if not groups:
        lines.append("没有决定发生变化" if zh else "no decision changes")
        return "\n".join(lines)
    for number, rows in groups.items():
        n = r.by_article[number]
        lines.append("")
        lines.append(
            f"{_article(number, titles, lang)} — {n} 名学生有变化"
            if zh
            else f"{_article(number, titles, lang)} — {n} student{'s' if n != 1 else ''} changed"
        )
        table = [(_change(t, lang), t.rule, t.subject, f"{t.count} 名" if zh else f"{t.count}×") for t in rows]
        widths = [max(_width(row[i]) for row in table) for i in range(4)]
        for t, row in zip(rows, table, strict=True):
            cells = "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True))
            example = _example(t, lang)
            lines.append(f"  {cells}  {('例：' if zh else 'e.g. ') + example if example else ''}".rstrip())
            if t.example.record is not None:
                lines.extend(_record_json(t.example.record, "      "))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def diff_markdown(r: DiffResult, labels: Labels, titles: dict[int, str], lang: Lang) -> str:
    """A heading, one sentence of counts and a table of every change (fit for a pull-request
    comment); generated examples in a collapsed section."""
    zh = lang == "zh"
    old, new, src = _md(labels.old.text(lang)), _md(labels.new.text(lang)), _md(_source(r, labels, lang))
    lines = [
        f"### xueji diff：{old} → {new}" if zh else f"### xueji diff: {old} → {new}",
        "",
        (
            f"评估日期 {r.on}，记录：{src}。**{r.changed} / {r.records}** 名学生的决定有变化"
            f"（{r.errors} 条记录有错误）。"
            if zh
            else f"Judged on {r.on}, records: {src}. **{r.changed} of {r.records}** students' decisions "
            f"change ({r.errors} records in error)."
        ),
    ]
    rows = [*r.transitions(), *r.due_moves()]
    if not rows:
        lines += ["", "没有决定发生变化。" if zh else "No decision changes."]
        return "\n".join(lines)
    rows.sort(key=lambda t: t.article)  # stable: by article, the transitions before the due moves
    head = (
        ("条款", "规则", "对象", "变化", "学生数", "示例")
        if zh
        else ("Article", "Rule", "Subject", "Change", "Students", "Example")
    )
    lines += ["", "| " + " | ".join(head) + " |", "| ---: | --- | --- | --- | ---: | --- |"]
    for t in rows:
        change = _change(t, lang)
        if not t.due_moved and t.new is Outcome.VIOLATED:
            change = change.rsplit(" ", 1)[0] + f" **{_outcome(t.new, lang)}**"
        lines.append(
            f"| {t.article} | `{t.rule}` | `{t.subject}` | {_md(change)} | {t.count} | {_md(_example(t, lang))} |"
        )
    by_article = ("；" if zh else "; ").join(
        f"{_md(_article(a, titles, lang))}{'：' if zh else ': '}{n}" for a, n in sorted(r.by_article.items())
    )
    lines += ["", ("按条款统计有变化的学生：" if zh else "Students changed by article: ") + by_article]
    shown = [t for t in rows if t.example.record is not None]
    if shown:
        lines += ["", "<details><summary>" + ("示例记录" if zh else "Example records") + "</summary>", ""]
        for t in shown:
            what = (
                "已缩减"
                if zh and t.example.shrunk
                else ("未缩减" if zh else ("shrunk" if t.example.shrunk else "not shrunk"))
            )
            lines += [
                f"**{_md(_article(t.article, {}, lang))} `{t.rule}` `{t.subject}`: {_md(_change(t, lang))}**"
                + (f"（{what}）" if zh else f" ({what})"),
                "",
                "```json",
                to_json(t.example.record),
                "```",
                "",
            ]
        lines.append("</details>")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- JSON


def diff_json(r: DiffResult, labels: Labels) -> str:
    """:meth:`DiffResult.to_dict` with the names of the two policy sets and of the records file."""
    data = r.to_dict()
    data["old"] = {**labels.old.to_dict(), **data["old"]}
    data["new"] = {**labels.new.to_dict(), **data["new"]}
    if labels.records is not None:
        data["source"] = {**data["source"], "file": labels.records}
    return to_json(data)


# ----------------------------------------------------------------------------------------------- errors


def diff_errors_text(r: DiffResult, labels: Labels, lang: Lang) -> str:
    """One line per bad record (``FILE:LINE: why``), then each schema problem with its path."""
    zh = lang == "zh"
    lines: list[str] = []
    for e in r.error_lines:
        where = f"{labels.records}:{e.line}" if e.line is not None else ("生成记录" if zh else "generated record")
        side = _side(e, labels, lang)
        lines.append(f"{where}: {e.message.get(lang)}{side}")
        for p in e.problems:
            lines.append(f"{where}: {p.get('path') or '<record>'}: {p.get(lang, '')}")
    more = r.errors - len(r.error_lines)
    if more > 0:
        lines.append(f"……另有 {more} 条错误" if zh else f"... and {more} more records in error")
    return "\n".join(lines)


def _side(e: LineError, labels: Labels, lang: Lang) -> str:
    if e.side in ("input", "both"):
        return ""
    name = (labels.old if e.side == "old" else labels.new).text(lang)
    return f"（仅在 {name} 下）" if lang == "zh" else f" (under {name} only)"
