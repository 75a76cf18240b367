"""The machine formats other programs read: SARIF and GitHub Actions annotations for ``xueji lint``
(:func:`github_annotation` also writes those of ``xueji test`` and ``xueji coverage``), iCalendar for
``xueji deadlines``.

Apart from :mod:`engine.faces.render` so that a verb that prints none of them (``xueji eval``) never
imports them; the CLI imports this module inside the verbs that use it. They only render.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from engine.diagnostics import Diagnostic, Lang, Span
from engine.faces.render import _article_ref, due_text, outcome_word
from engine.run.decision import Decision, Finding, Outcome

# ---------------------------------------------------------------------------------------- machine formats

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def diagnostics_sarif(diags: Sequence[Diagnostic], lang: Lang, version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of the ``xueji`` linter."""
    codes = sorted({d.code for d in diags})
    results = []
    for d in diags:
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": codes.index(d.code),
            "level": _SARIF_LEVEL.get(d.severity.value, "note"),
            "message": {"text": d.message.get(lang) + (f" ({d.hint.get(lang)})" if d.hint else "")},
        }
        if d.span is not None:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": Path(d.span.file).as_posix()},
                        "region": {
                            "startLine": d.span.line,
                            "startColumn": d.span.col,
                            "endLine": d.span.end_line,
                            "endColumn": max(d.span.end_col, d.span.col + 1)
                            if d.span.end_line == d.span.line
                            else d.span.end_col,
                        },
                    }
                }
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "xueji",
                        "version": version,
                        "informationUri": "https://pypi.org/project/xueji/",
                        "rules": [{"id": c, "name": c, "shortDescription": {"text": c}} for c in codes],
                    }
                },
                "results": results,
            }
        ],
    }


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_annotation(kind: str, span: Span | None, title: str, message: str) -> str:
    """One GitHub Actions workflow command, ``::error file=…,line=…,col=…,title=…::message``
    (``kind``: error, warning or notice); a message over several lines stays one annotation."""
    props = [f"title={_gh_escape(title, prop=True)}"]
    if span is not None:
        props = [
            f"file={_gh_escape(Path(span.file).as_posix(), prop=True)}",
            f"line={span.line}",
            f"col={span.col}",
            f"endLine={span.end_line}",
            f"endColumn={span.end_col}",
            *props,
        ]
    return f"::{kind} {','.join(props)}::{_gh_escape(message)}"


def diagnostics_github(diags: Sequence[Diagnostic], lang: Lang) -> str:
    """GitHub Actions workflow commands: ``::error file=…,line=…,col=…::message``."""
    lines = []
    for d in diags:
        kind = {"error": "error", "warning": "warning"}.get(d.severity.value, "notice")
        message = d.message.get(lang) + (f" — {d.hint.get(lang)}" if d.hint else "")
        lines.append(github_annotation(kind, d.span, "xueji " + d.code, message))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- iCalendar


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_fold(line: str) -> list[str]:
    """Fold a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    for ch in line:
        limit = 75 if not out else 74
        if len((current + ch).encode("utf-8")) > limit:
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return [out[0], *(" " + c for c in out[1:])]


def deadlines_ics(dec: Decision, rows: Sequence[Finding], lang: Lang, stamp: str, name: str | None = None) -> str:
    """An iCalendar file (RFC 5545) with one all-day event per deadline in ``rows``; each summary says
    whose deadline it is, so that a registrar's shared calendar can hold many students."""
    return deadlines_ics_many([(dec, rows, name)], lang, stamp)


def deadlines_ics_many(
    students: Iterable[tuple[Decision, Sequence[Finding], str | None]], lang: Lang, stamp: str
) -> str:
    """One iCalendar file with the deadlines of many students (``xueji deadlines --batch``): each event
    is named with its student (name and id); an undecidable deadline (a fact is missing) says so."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//Xueji//xueji deadlines//{lang.upper()}",
        "CALSCALE:GREGORIAN",
    ]
    for dec, rows, name in students:
        lines += _ics_events(dec, rows, lang, stamp, name)
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _ics_fold(line))


def _ics_events(dec: Decision, rows: Sequence[Finding], lang: Lang, stamp: str, name: str | None) -> list[str]:
    who = f"{name or ''}（{dec.student_id}）" if lang == "zh" else f"{name or ''} ({dec.student_id})"
    who = who.strip()
    lines: list[str] = []
    for f in rows:
        day = f.due or f.due_not_before
        assert day is not None
        what = _article_ref(f.article, lang)
        if f.due is None:  # only the bound is known: the event sits on it and says so
            what += f"（{due_text(f, lang)}）" if lang == "zh" else f" ({due_text(f, lang)})"
        if f.outcome is Outcome.UNKNOWN:  # undecidable: listed, and marked
            what = ("【无法判定】" if lang == "zh" else "[undecidable] ") + what
        lines += [
            "BEGIN:VEVENT",
            f"UID:{dec.student_id}-{f.rule}-{f.subject}@xueji".replace(" ", ""),
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"SUMMARY:{_ics_text(who + ' ' + what + ' ' + f.message.get(lang))}",
            f"DESCRIPTION:{_ics_text(f'{f.rule} · {f.subject} · {outcome_word(f.outcome, lang)}')}",
            "END:VEVENT",
        ]
    return lines


#: ``xueji deadlines --format csv``: one row per deadline, each with its student
DEADLINE_COLUMNS = ("line", "id", "name", "due", "due_not_before", "outcome", "article", "rule", "subject", "message")


def deadline_rows(
    students: Iterable[tuple[int | None, Decision, Sequence[Finding], str | None]], lang: Lang
) -> list[list[Any]]:
    """The rows of ``DEADLINE_COLUMNS`` for each student's deadlines (``line``: the input line, if any)."""
    out: list[list[Any]] = []
    for line, dec, rows, name in students:
        for f in rows:
            out.append(
                [
                    "" if line is None else line,
                    dec.student_id or "",
                    name or "",
                    f.due.isoformat() if f.due else "",
                    f.due_not_before.isoformat() if f.due_not_before else "",
                    f.outcome.value,
                    f.article,
                    f.rule,
                    f.subject,
                    f.message.get(lang),
                ]
            )
    return out
