"""The web pages (issue 15, point 2): the measures beside their rules, check a student, a playground.

Pure functions from a policy set to one HTML document each, in Chinese or English: no web framework,
no template engine, no external resource (the CSS and the small scripts are inline, so the pages work
offline and behind any proxy). Every text from the policy set is escaped with :func:`html.escape`;
data the scripts need (labels, the policy's files, the CSV column types) travels as JSON in a
``<script type="application/json">`` element, escaped so that no ``</script>`` can end it early. The
scripts build the results with ``textContent``, never ``innerHTML``, so nothing a record or a
response holds is read as markup.

A face renders, it never decides: the check page and the playground send the record to the service
(``xueji serve``) and show what it answers. The service serves them at::

    GET {base_url}/            measures_page(policy, lang, coverage=..., base_url=base_url)
    GET {base_url}/check       check_page(policy, lang, base_url=base_url)
    GET {base_url}/playground  playground_page(policy, lang, base_url=base_url)

each with ``?lang=zh|en`` and the header ``Content-Security-Policy: content_security_policy(page)``;
the scripts call ``{base_url}/v1/evaluate``, ``/v1/deadlines`` and ``/v1/playground`` with
``Authorization: Bearer`` when the user gave a token (kept in ``sessionStorage``). ``xueji doc --out
DIR`` writes :func:`static_site`: the measures page per language and, in place of the two pages that
need the service, a page that says how to start it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.diagnostics import Lang
from engine.lang import printer
from engine.lang.types import ListT, Nullable, Prim, RecordT, Type
from engine.sources.policy import Article, PolicySet, PolicyVersion, Rule

if TYPE_CHECKING:
    from engine.tools.policytest import Coverage, RuleCoverage

Site = Literal["server", "static"]
Page = Literal["measures", "check", "playground"]

# the outcomes as the decision JSON names them, worst first (the check page's table shows the worst)
OUTCOMES = ("violated", "unknown", "pending", "satisfied", "not_applicable")

_TEXT: dict[str, tuple[str, str]] = {
    "measures": ("条文与规则", "The measures"),
    "check": ("核查学生", "Check a student"),
    "playground": ("试验场", "Playground"),
    "switch": ("English", "中文"),
    "versions": ("版本", "Versions"),
    "version": ("版本", "Version"),
    "title": ("标题", "Title"),
    "effective": ("施行日期", "In force from"),
    "revises": ("修订", "Revises"),
    "changes": ("变更", "Changes"),
    "first_version": ("首个版本", "the first version"),
    "parameters": ("参数（按日期取值）", "Parameters (values by date)"),
    "parameter": ("参数", "Parameter"),
    "meaning": ("含义", "Meaning"),
    "values": ("取值", "Values"),
    "from": ("自", "from"),
    "contents": ("目录", "Contents"),
    "coverage": ("测试覆盖", "Test coverage"),
    "no_tests": ("此策略集没有策略测试用例。", "This policy set has no policy test cases."),
    "coverage_ok": (
        "每条规范性条款都有规则，每条规则都有判为违反和满足的用例。",
        "Every normative article has a rule and every rule has a case making it violated and one making it satisfied.",
    ),
    "rules_count": ("条规则", "rules"),
    "cases_count": ("个用例", "cases"),
    "article_text": ("条文（原文）", "Article text (Chinese, verbatim)"),
    "english_gloss": (
        "英文释义（工作译文，以中文为准）",
        "English gloss (a working translation; the Chinese is authoritative)",
    ),
    "reading": ("解读（英文，策略作者所写）", "Reading (how the policy set reads the article)"),
    "gloss": ("英文标题", "English title"),
    "rules": ("规则", "Rules"),
    "no_rule_informative": ("说明性条款，无规则。", "Informative article: no rule."),
    "no_rule": ("规范性条款，尚无规则。", "Normative article without a rule."),
    "scope": ("适用范围", "Scope"),
    "scope_note": ("本条规定办法的适用范围：", "This article declares when the measures apply:"),
    "tests": ("策略测试", "Policy tests"),
    "untested": ("没有用例", "no case"),
    "carried": ("沿用自版本", "carried over from version"),
    "invariant_note": (
        "不变式：由性质测试检查，不由用例覆盖。",
        "An invariant: checked by the property tests, not by cases.",
    ),
    "in_versions": ("所在版本", "in versions"),
    "earlier_text": ("其他版本的本条", "This article in other versions"),
    "repealed": ("已废止", "repealed"),
    "where": ("位置", "where"),
    "message": ("消息", "Message"),
    "problems": ("覆盖问题", "Coverage problems"),
    "needs_service": (
        "此页需要 Xueji 服务：它把记录发送给服务判断。请运行下面的命令，然后打开",
        "This page needs the Xueji service: it sends the record to the service to be judged. Run the "
        "command below, then open",
    ),
    "token": ("API 令牌", "API token"),
    "token_help": (
        "服务设置了令牌时填写（只保存在本标签页的 sessionStorage 中）。",
        "Needed when the service was started with a token (kept only in this tab's sessionStorage).",
    ),
    "save": ("保存", "Save"),
    "forget": ("清除", "Forget"),
    "record_json": ("学生记录（JSON）", "Student record (JSON)"),
    "or_upload": ("或上传导出文件（CSV / JSONL / JSON）", "or upload an export (CSV / JSONL / JSON)"),
    "on": ("评估日期", "Judge as of"),
    "on_help": ("留空则为服务器的今天", "empty: the server's today"),
    "explain": ("附解释", "with the explanation"),
    "run_check": ("核查", "Check"),
    "run": ("运行", "Run"),
    "download_json": ("下载判断结果（JSON）", "Download the decisions (JSON)"),
    "download_ics": ("下载期限日历（.ics）", "Download the deadlines (.ics)"),
    "policy_file": ("策略文件", "Policy file"),
    "record": ("记录（JSON）", "Record (JSON)"),
    "diagnostics": ("诊断", "Diagnostics"),
    "decision": ("判断结果", "Decision"),
    "csv_help": (
        "CSV：首行是字段路径（admission.year、academic_years[0].term_start）；空单元格表示缺失，null 表示空值，"
        "[] 表示空列表；整数与布尔列按事实模式转换。JSONL：每行一条 JSON 记录。",
        "CSV: the header row holds field paths (admission.year, academic_years[0].term_start); an empty cell "
        "is absent, null is none, [] an empty list; integer and boolean columns are converted by the facts "
        "schema. JSONL: one JSON record per line.",
    ),
    "playground_help": (
        "编辑一个条文文件与一条记录，按“运行”：服务用编辑后的文件检查策略集，显示诊断（点击跳到该行）；没有错误时给出判断结果。",
        "Edit an article file and a record, press Run: the service checks the policy set with the edited "
        "file and shows the diagnostics (click one to go to its line); without errors, the decision.",
    ),
}

# labels the scripts show (the outcome words follow engine.run.decision.Outcome.word)
_JS_TEXT: dict[str, tuple[str, str]] = {
    "violated": ("违反", "violated"),
    "unknown": ("未知", "unknown"),
    "pending": ("待办", "pending"),
    "satisfied": ("满足", "satisfied"),
    "not_applicable": ("不适用", "not applicable"),
    "article": ("条款", "Article"),
    "rule": ("规则", "Rule"),
    "subject": ("对象", "Subject"),
    "outcome": ("结果", "Outcome"),
    "due": ("期限", "Due"),
    "not_before": ("不早于", "not before"),
    "message_zh": ("消息（中文）", "Message (Chinese)"),
    "message_en": ("消息（英文）", "Message (English)"),
    "missing": ("缺少", "missing"),
    "explanation": ("解释", "Explanation"),
    "facts": ("读取的事实", "Facts read"),
    "decided": ("◀ 决定结果", "◀ decided it"),
    "student": ("学生", "Student"),
    "judged_on": ("评估日期", "judged on"),
    "versions": ("版本", "versions"),
    "warnings": ("提示", "Warnings"),
    "no_record": ("请粘贴一条 JSON 记录或上传文件。", "Paste a JSON record or upload a file."),
    "bad_json": ("记录不是有效的 JSON", "The record is not valid JSON"),
    "records_loaded": ("条记录，来自", "records from"),
    "clear_file": ("不用此文件", "Use the text instead"),
    "working": ("处理中…", "Working…"),
    "network": ("无法连接服务", "Cannot reach the service"),
    "line": ("行", "line"),
    "error": ("错误", "error"),
    "no_diagnostics": ("没有诊断。", "No diagnostics."),
    "no_decision": ("有错误，未判断记录。", "There are errors: the record was not judged."),
    "too_many": ("条记录超出上限，只核查前", "records are over the limit; checking the first"),
    "csv_error": ("CSV 有误", "CSV problem"),
    "show_all": ("显示不适用的条款", "show the articles that do not apply"),
    "ics_none": ("没有期限。", "No deadlines."),
}


# Shared by the check page and the playground: the token, the API call, the decision's rendering.


_STATIC = Path(__file__).resolve().parent / "static"


@functools.cache
def _asset(name: str) -> str:
    """An inline asset of the pages (``engine/faces/static/``: the CSS and the scripts), read once."""
    return (_STATIC / name).read_text(encoding="utf-8")


_SCRIPTS: dict[Page, tuple[str, ...]] = {
    "measures": (),
    "check": ("common.js", "check.js"),
    "playground": ("common.js", "playground.js"),
}


def _script(page: Page) -> str:
    """The one inline script of ``page`` (the same text for every language and policy set: what it
    needs travels as JSON data), in one function scope so that nothing leaks into the page's globals."""
    names = _SCRIPTS[page]
    return "(() => {\n" + "".join(_asset(n) for n in names) + "})();" if names else ""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(page: Page) -> str:
    """The ``Content-Security-Policy`` header for ``page`` as the service serves it: only the page's own
    inline style and script run (allowed by their SHA-256, so an injected one would not), requests go
    only to its own origin, nothing is framed, posted elsewhere or loaded from another site."""
    script = _script(page)
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {_sha256(_asset('pages.css'))}",
            f"script-src {_sha256(script)}" if script else "script-src 'none'",
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def _t(key: str, lang: Lang) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _json_script(data: Any) -> str:
    """JSON for a ``<script type="application/json">``: ``<``, ``>`` and ``&`` escaped, so nothing in
    it can close the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="xueji-data">{text}</script>'


def _split_title(title: str) -> tuple[str, str]:
    """``学年注册手续 · Registering for the year`` → the Chinese and the English title."""
    zh, sep, en = title.partition(" · ")
    return (zh.strip(), en.strip()) if sep else (title.strip(), "")


def _article_ref(n: int, lang: Lang) -> str:
    return f"第{n}条" if lang == "zh" else f"Art. {n}"


def href(
    page: Page, lang: Lang, *, site: Site = "server", base_url: str = "", here: Lang = "zh", root: Lang = "zh"
) -> str:
    """The address of ``page`` in ``lang``: on the service ``{base_url}/check?lang=en``; in the static
    site, linked from a page in ``here``, the ``root`` language's pages at the top (``index.html``) and
    the other's in a folder named by it (``en/index.html``)."""
    if site == "server":
        path = {"measures": "/", "check": "/check", "playground": "/playground"}[page]
        return f"{base_url}{path}?lang={lang}"
    name = {"measures": "index.html", "check": "check.html", "playground": "playground.html"}[page]
    if lang == here:
        return name
    up = "" if here == root else "../"
    return up + ("" if lang == root else f"{lang}/") + name


def _document(
    policy: PolicySet,
    lang: Lang,
    page: Page,
    body: str,
    *,
    site: Site,
    base_url: str,
    root: Lang = "zh",
    data: Any = None,
) -> str:
    other: Lang = "en" if lang == "zh" else "zh"
    links = "".join(
        f'<a href="{_e(href(p, lang, site=site, base_url=base_url, here=lang, root=root))}"'
        + (' aria-current="page"' if p == page else "")
        + f">{_e(_t(p, lang))}</a>"
        for p in ("measures", "check", "playground")
    )
    switch = href(page, other, site=site, base_url=base_url, here=lang, root=root)
    title = f"{_t(page, lang)} · {policy.name}"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_asset('pages.css')}</style></head>",
        "<body>",
        f'<header class="top"><span class="brand">Xueji 学籍</span><nav>{links}</nav>'
        f'<a class="lang" id="lang-switch" hreflang="{other}" href="{_e(switch)}">'
        f"{_e(_t('switch', lang))}</a></header>",
        f'<main id="page-{page}">{body}</main>',
    ]
    if data is not None:  # a page with a script: its data, then the script (the static notices have neither)
        parts.append(_json_script(data))
        script = _script(page)
        if script:
            parts.append(f"<script>{script}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------- measures


def policy_coverage(policy: PolicySet) -> Coverage | None:
    """The coverage ``xueji coverage`` reports for ``policy``'s own test cases (its ``tests/``), or None
    when it has none. Runs every case: call it once per policy set loaded, not per request."""
    from engine.tools import policytest  # deferred: only the measures page shows the cases

    cases = policytest.load_cases(policytest.default_case_paths(policy))
    if not cases:
        return None
    return policytest.coverage(policy, policytest.run_cases(cases, policy))


def _articles_by_number(policy: PolicySet) -> list[tuple[int, list[tuple[Article, list[PolicyVersion]]]]]:
    """Each article number, with its distinct texts (an article a revision replaces is another
    :class:`Article`) and the versions holding each, the earliest first."""
    by_number: dict[int, list[tuple[Article, list[PolicyVersion]]]] = {}
    for v in policy.versions:
        for n, a in v.articles.items():
            entries = by_number.setdefault(n, [])
            for art, holders in entries:
                if art is a:
                    holders.append(v)
                    break
            else:
                entries.append((a, [v]))
    return sorted(by_number.items())


def _rule_coverage(coverage: Coverage | None) -> dict[tuple[str, str], RuleCoverage]:
    out: dict[tuple[str, str], RuleCoverage] = {}
    if coverage is not None:
        for vc in coverage.versions:
            for ac in vc.articles:
                for rc in ac.rules:
                    out[(vc.id, rc.id)] = rc
    return out


def _rel(policy: PolicySet, file: str) -> str:
    """A file as shown: relative to the policy set's directory."""
    try:
        return os.path.relpath(Path(file).resolve(), policy.root.resolve())
    except ValueError:
        return file


def _rule_html(
    policy: PolicySet, rule: Rule, version: PolicyVersion, lang: Lang, cov: RuleCoverage | None, has_tests: bool
) -> str:
    from engine.run.decision import Outcome  # the outcome words; faces may import the run layer

    kind = rule.kind + (" · deadline" if rule.is_deadline else "")
    where = f"{_rel(policy, rule.file)}:{rule.span.line}" if rule.file else ""
    out = [
        f'<section class="rule" id="rule-{_e(rule.id)}">',
        f'<h4><a class="mono" href="#rule-{_e(rule.id)}">{_e(rule.id)}</a><span class="kind">{_e(kind)}</span>'
        + (f' <span class="kind mono">{_e(where)}</span>' if where else "")
        + "</h4>",
        f'<pre class="rule-text">{_e(rule.source.strip())}</pre>',
        '<dl class="msg">',
    ]
    for code in ("zh", "en"):
        t = rule.messages.get(code)
        if t is not None:
            out.append(f'<dt>{code}</dt><dd lang="{"zh-CN" if code == "zh" else "en"}">{_e(t.source)}</dd>')
    out.append("</dl>")
    if rule.note:
        out.append(f'<p class="muted">{_e(rule.note)}</p>')
    if has_tests:
        out.append(f'<div class="tests"><span class="muted">{_e(_t("tests", lang))}:</span>')
        if cov is None or cov.invariant:
            note = _t("invariant_note", lang) if rule.kind == "invariant" else _t("untested", lang)
            out.append(f' <span class="muted">{_e(note)}</span></div></section>')
            return "\n".join(out)
        items = []
        for o in Outcome:
            names = cov.names(o)
            want = o in (Outcome.VIOLATED, Outcome.SATISFIED)
            if not names and not want:
                continue
            word = o.word(lang)
            badge = f'<span class="badge o-{o.value}">{_e(word)}</span>'
            if not names:
                items.append(f'<span class="problem cases">{badge} {_e(_t("untested", lang))}</span>')
                continue
            carried = cov.carried_from(o)
            extra = f' <span class="muted">({_e(_t("carried", lang))} {_e(carried)})</span>' if carried else ""
            shown = "".join(f"<li>{_e(n)}</li>" for n in names)
            items.append(
                f'<details class="cases" data-outcome="{o.value}"><summary>{badge} {len(names)}{extra}</summary>'
                f"<ul>{shown}</ul></details>"
            )
        out.append(f"{''.join(items)}</div>")
    out.append("</section>")
    return "\n".join(out)


def _article_html(
    policy: PolicySet,
    n: int,
    entries: list[tuple[Article, list[PolicyVersion]]],
    lang: Lang,
    rcov: dict[tuple[str, str], RuleCoverage],
    has_tests: bool,
) -> str:
    article, holders = entries[-1]  # the latest text: the one the latest version holding it has
    version = holders[-1]
    zh_title, en_title = _split_title(article.title)
    latest = policy.versions[-1] if policy.versions else None
    repealed = latest is not None and n not in latest.articles
    out = [f'<article class="art" id="art-{n}" data-article="{n}">']
    heading = f'<a href="#art-{n}">{_e(_article_ref(n, lang))}</a> <span lang="zh-CN">{_e(zh_title)}</span>'
    if en_title:
        heading += f' · <span lang="en">{_e(en_title)}</span>'
    if repealed:
        heading += f' <span class="badge o-violated">{_e(_t("repealed", lang))}</span>'
    out.append(f"<h3>{heading}</h3>")
    out.append('<div class="cols"><div class="law">')
    out.append(f'<div class="muted">{_e(_t("article_text", lang))}</div>')
    out.append(f'<blockquote class="zh-text" lang="zh-CN">{_e(article.text.strip())}</blockquote>')
    if article.gloss.strip():
        out.append(
            f'<div class="gloss" lang="en"><div class="muted">{_e(_t("english_gloss", lang))}</div>'
            f"<p>{_e(' '.join(article.gloss.split()))}</p></div>"
        )
    if article.reading.strip():
        out.append(
            f'<div class="gloss" lang="en"><div class="muted">{_e(_t("reading", lang))}</div>'
            f"<p>{_e(' '.join(article.reading.split()))}</p></div>"
        )
    ids = ", ".join(v.id for v in holders)
    where = f"{_rel(policy, article.span.file)}:{article.span.line}" if article.span.file else ""
    out.append(
        f'<p class="muted">{_e(_t("in_versions", lang))}: {_e(ids)}'
        + (f' · <span class="mono">{_e(where)}</span>' if where else "")
        + "</p>"
    )
    out.append('</div><div class="rules">')
    if version.scope_article == n and version.scope is not None:
        out.append(
            f"<p><strong>{_e(_t('scope', lang))}</strong> · {_e(_t('scope_note', lang))}</p>"
            f'<pre class="rule-text">scope: {_e(printer.expr(version.scope))}</pre>'
        )
    if not article.rules and version.scope_article != n:
        note = _t("no_rule_informative", lang) if article.informative else _t("no_rule", lang)
        cls = "muted" if article.informative else "problem"
        out.append(f'<p class="{cls}">{_e(note)}</p>')
    for rule in article.rules:
        out.append(_rule_html(policy, rule, version, lang, rcov.get((version.id, rule.id)), has_tests))
    out.append("</div></div>")
    if len(entries) > 1:
        out.append(f"<details><summary>{_e(_t('earlier_text', lang))}</summary>")
        for old, old_holders in entries[:-1]:
            vid = old_holders[-1].id
            out.append(
                f'<section id="art-{n}-v{_e(vid)}"><h4>{_e(_t("version", lang))} '
                f"{_e(', '.join(v.id for v in old_holders))}</h4>"
                f'<blockquote class="zh-text" lang="zh-CN">{_e(old.text.strip())}</blockquote>'
            )
            for rule in old.rules:
                out.append(
                    _rule_html(policy, rule, old_holders[-1], lang, rcov.get((vid, rule.id)), has_tests).replace(
                        f'id="rule-{_e(rule.id)}"', f'id="rule-{_e(rule.id)}-v{_e(vid)}"', 1
                    )
                )
            out.append("</section>")
        out.append("</details>")
    out.append("</article>")
    return "\n".join(out)


def _versions_html(policy: PolicySet, lang: Lang) -> str:
    rows = []
    for v in policy.versions:
        if v.previous is None:
            changes = _t("first_version", lang) + f" · {len(v.articles)}"
            changes += " 条" if lang == "zh" else " articles"
        else:
            changes = "; ".join(f"{c.kind} {c.what}" for c in v.changes) or "—"
        rows.append(
            f'<tr id="version-{_e(v.id)}"><td class="mono">{_e(v.id)}</td><td>{_e(v.title)}</td>'
            f'<td class="mono">{_e(v.effective.isoformat())}</td><td class="mono">{_e(v.previous or "—")}</td>'
            f"<td>{_e(changes)}</td></tr>"
        )
    head = "".join(f"<th>{_e(_t(k, lang))}</th>" for k in ("version", "title", "effective", "revises", "changes"))
    return (
        f'<section id="versions"><h2>{_e(_t("versions", lang))}</h2>'
        f"<table><tr>{head}</tr>{''.join(rows)}</table></section>"
    )


def _parameters_html(policy: PolicySet, lang: Lang) -> str:
    if not policy.parameters:
        return ""
    rows = []
    for name, p in sorted(policy.parameters.items()):
        values = "<br>".join(
            f'<span class="mono">{_e(_t("from", lang))} {_e(day.isoformat())}: {_e(printer.expr(value))}</span>'
            for day, value in p.values
        )
        rows.append(
            f'<tr id="param-{_e(name)}"><td class="mono">{_e(name)}</td><td>{_e(p.doc)}</td><td>{values}</td></tr>'
        )
    head = "".join(f"<th>{_e(_t(k, lang))}</th>" for k in ("parameter", "meaning", "values"))
    return (
        f'<section id="parameters"><h2>{_e(_t("parameters", lang))}</h2>'
        f"<table><tr>{head}</tr>{''.join(rows)}</table></section>"
    )


def _coverage_html(policy: PolicySet, coverage: Coverage | None, lang: Lang) -> str:
    out = [f'<section id="coverage"><h2>{_e(_t("coverage", lang))}</h2>']
    if coverage is None:
        out.append(f'<p class="muted">{_e(_t("no_tests", lang))}</p></section>')
        return "".join(out)
    rules = {(vc.id, rc.id) for vc in coverage.versions for ac in vc.articles for rc in ac.rules}
    problems = coverage.problems()
    if not problems:
        out.append(f"<p>{_e(_t('coverage_ok', lang))} ({len(rules)} {_e(_t('rules_count', lang))})</p>")
    else:
        out.append(f'<p class="problem">{_e(_t("problems", lang))} ({len(problems)}):</p><ul>')
        for pr in problems:
            anchor = f"#rule-{pr.rule}" if pr.rule else f"#art-{pr.article}"
            out.append(f'<li><a href="{_e(anchor)}">{_e(pr.message.get(lang))}</a></li>')
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def measures_page(
    policy: PolicySet,
    lang: Lang,
    *,
    coverage: Coverage | None = None,
    base_url: str = "",
    site: Site = "server",
    root: Lang = "zh",
) -> str:
    """Every article's Chinese text verbatim beside its rules (id, text, kind, messages), the English
    title and the policy set's reading, the policy tests naming each rule and its coverage (``coverage``:
    :func:`policy_coverage`; None shows no tests), the versions and the parameters by date. Anchors:
    ``#art-11`` per article, ``#rule-art11.annual_registration`` per rule, ``#versions``,
    ``#parameters``, ``#param-NAME``. ``site="static"`` links the pages of :func:`static_site` (whose
    top-level pages are in ``root``) instead of the service's routes."""
    articles = _articles_by_number(policy)
    rcov = _rule_coverage(coverage)
    has_tests = coverage is not None
    toc: list[str] = []
    chapter = None
    for n, entries in articles:
        a = entries[-1][0]
        if a.chapter != chapter:
            if chapter is not None:
                toc.append("</ol>")
            chapter = a.chapter
            toc.append(f"<h4>{_e(chapter)}</h4><ol>")
        zh_title, en_title = _split_title(a.title)
        shown = zh_title if lang == "zh" or not en_title else en_title
        toc.append(f'<li value="{n}"><a href="#art-{n}">{_e(_article_ref(n, lang))} {_e(shown)}</a></li>')
    if chapter is not None:
        toc.append("</ol>")
    body: list[str] = [f"<h1>{_e(policy.name)}</h1>"]
    first = policy.versions[0] if policy.versions else None
    if first is not None:
        body.append(
            f'<p class="muted">{_e(first.title)} · {_e(_t("effective", lang))} {first.effective.isoformat()}</p>'
        )
    body.append(f'<nav class="toc" id="contents"><h2>{_e(_t("contents", lang))}</h2>{"".join(toc)}</nav>')
    body.append(_versions_html(policy, lang))
    body.append(_parameters_html(policy, lang))
    body.append(_coverage_html(policy, coverage, lang))
    chapter = None
    for n, entries in articles:
        a = entries[-1][0]
        if a.chapter != chapter:
            chapter = a.chapter
            body.append(f'<h2 class="chapter">{_e(chapter)}</h2>')
        body.append(_article_html(policy, n, entries, lang, rcov, has_tests))
    return _document(policy, lang, "measures", "\n".join(body), site=site, base_url=base_url, root=root)


# ------------------------------------------------------------------------------------- check, playground


def csv_types(policy: PolicySet) -> dict[str, str]:
    """The CSV columns the check page converts, by field path pattern (``academic_years[].year`` →
    ``int``): ``int``, ``decimal``, ``bool`` and ``list`` (where ``[]`` is an empty list), as
    ``engine.tools.batch`` converts them; every other column stays text."""
    out: dict[str, str] = {}

    def walk(t: Type, prefix: str, depth: int) -> None:
        if depth > 16:  # record types may be recursive; no export nests this deep
            return
        base = t.inner if isinstance(t, Nullable) else t
        if isinstance(base, Prim) and base.name in ("int", "decimal", "bool"):
            out[prefix] = base.name
        elif isinstance(base, ListT):
            out[prefix] = "list"
            walk(base.elem, prefix + "[]", depth + 1)
        elif isinstance(base, RecordT):
            for name, f in base.fields.items():
                walk(f.type, f"{prefix}.{name}" if prefix else name, depth + 1)

    walk(policy.schema.root, "", 0)
    return out


def _js_data(lang: Lang, base_url: str, **more: Any) -> dict[str, Any]:
    return {
        "lang": lang,
        "base": base_url,
        "measures": href("measures", lang, base_url=base_url),
        "outcomes": list(OUTCOMES),
        "text": {k: (zh if lang == "zh" else en) for k, (zh, en) in _JS_TEXT.items()},
        **more,
    }


def _token_html(lang: Lang) -> str:
    return (
        f'<details class="token"><summary>{_e(_t("token", lang))}</summary>'
        f'<div class="row"><input type="password" id="token" autocomplete="off" size="40" '
        f'aria-label="{_e(_t("token", lang))}">'
        f'<button type="button" class="plain" id="token-save">{_e(_t("save", lang))}</button>'
        f'<button type="button" class="plain" id="token-forget">{_e(_t("forget", lang))}</button>'
        f'<span class="muted">{_e(_t("token_help", lang))}</span></div></details>'
    )


def check_page(policy: PolicySet, lang: Lang, base_url: str = "") -> str:
    """Check a student: paste a JSON record (or a list of them) or upload a CSV / JSONL / JSON export,
    pick ``on``, press Check. Each record goes to ``POST {base_url}/v1/evaluate``; one record shows its
    findings by article (coloured outcome, the Chinese and English message, the explanation), several a
    table with one row per student and one column per article (the worst outcome; a click shows the
    student). The decisions download as JSON, the deadlines as one ``.ics`` (``POST /v1/deadlines``
    with ``Accept: text/calendar`` per record)."""
    body = f"""<h1>{_e(_t("check", lang))}</h1>
{_token_html(lang)}
<form id="check-form" class="form">
<label for="record">{_e(_t("record_json", lang))}</label>
<textarea id="record" rows="12" spellcheck="false"
 placeholder='{{"id": "2023030225", "admission": {{"year": 2023}}, ...}}'></textarea>
<label for="file">{_e(_t("or_upload", lang))}</label>
<div class="row"><input type="file" id="file" accept=".csv,.jsonl,.ndjson,.json,text/csv,application/json">
<span id="file-note"></span></div>
<p class="muted">{_e(_t("csv_help", lang))}</p>
<div class="row"><label for="on">{_e(_t("on", lang))}</label><input type="date" id="on">
<span class="muted">{_e(_t("on_help", lang))}</span>
<label><input type="checkbox" id="explain" checked> {_e(_t("explain", lang))}</label>
<button type="submit" id="check">{_e(_t("run_check", lang))}</button></div>
</form>
<div id="status" class="status" role="status"></div>
<div id="downloads" class="row" hidden>
<button type="button" class="plain" id="download-json">{_e(_t("download_json", lang))}</button>
<button type="button" class="plain" id="download-ics">{_e(_t("download_ics", lang))}</button></div>
<div id="results"></div>"""
    data = _js_data(lang, base_url, types=csv_types(policy))
    return _document(
        policy,
        lang,
        "check",
        body,
        site="server",
        base_url=base_url,
        data=data,
    )


def policy_files(policy: PolicySet) -> dict[str, str]:
    """The policy set's rule files (every version's ``files:``), relative to its directory, with their
    text: what the playground lets the user edit, and the keys of ``/v1/playground``'s ``files``."""
    out: dict[str, str] = {}
    seen: set[Path] = set()
    for v in policy.versions:
        for path in v.files:
            if path in seen:
                continue
            seen.add(path)
            try:
                out[os.path.relpath(path, policy.root)] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return dict(sorted(out.items()))


def _sample_record() -> Any:
    """A sample student for the playground's record box: the bundled ``annual-pending`` fixture."""
    from engine.resources import data_path
    from engine.sources.yamlsource import load_data

    path = data_path("fixtures", "annual-pending.yaml")
    try:
        record, diags = load_data(path.read_bytes(), str(path))
    except OSError:
        return {}
    return record if isinstance(record, dict) and not diags else {}


def playground_page(
    policy: PolicySet, lang: Lang, base_url: str = "", *, record: Mapping[str, Any] | None = None
) -> str:
    """Edit one of the policy's files and a record side by side; Run sends the edited files and the
    record to ``POST {base_url}/v1/playground`` and shows the diagnostics at ``file:line:col`` (a click
    selects that line in the editor) and the decision. ``record``: the record box's first content
    (default: a sample student)."""
    files = policy_files(policy)
    preferred = next((k for k in files if "annual" in k), next(iter(files), ""))
    options = "".join(f'<option value="{_e(k)}"{" selected" if k == preferred else ""}>{_e(k)}</option>' for k in files)
    sample = json.dumps(_sample_record() if record is None else dict(record), ensure_ascii=False, indent=2)
    body = f"""<h1>{_e(_t("playground", lang))}</h1>
{_token_html(lang)}
<p class="muted">{_e(_t("playground_help", lang))}</p>
<div class="pg">
<div><div class="row"><label for="policy-file">{_e(_t("policy_file", lang))}</label>
<select id="policy-file">{options}</select><span id="cursor" class="muted mono"></span></div>
<textarea id="policy-text" rows="34" spellcheck="false" wrap="off"></textarea></div>
<div><label for="record">{_e(_t("record", lang))}</label>
<textarea id="record" rows="26" spellcheck="false">{_e(sample)}</textarea>
<div class="row"><label for="on">{_e(_t("on", lang))}</label><input type="date" id="on">
<button type="button" id="run">{_e(_t("run", lang))}</button></div></div>
</div>
<div id="status" class="status" role="status"></div>
<h2>{_e(_t("diagnostics", lang))}</h2><div id="diagnostics"></div>
<h2>{_e(_t("decision", lang))}</h2><div id="decision"></div>"""
    data = _js_data(lang, base_url, files=files)
    return _document(
        policy,
        lang,
        "playground",
        body,
        site="server",
        base_url=base_url,
        data=data,
    )


# ------------------------------------------------------------------------------------------ static site


def service_notice_page(policy: PolicySet, lang: Lang, page: Page, *, root: Lang = "zh") -> str:
    """In the static site, in place of the check page or the playground: they need the service."""
    route = {"measures": "/", "check": "/check", "playground": "/playground"}[page]
    url = f"http://127.0.0.1:8000{route}?lang={lang}"
    body = (
        f'<h1>{_e(_t(page, lang))}</h1><div class="notice"><p>{_e(_t("needs_service", lang))} '
        f"<a href=\"{_e(url)}\">{_e(url)}</a></p><pre>pip install 'xueji[serve]'\nxueji serve</pre></div>"
    )
    return _document(policy, lang, page, body, site="static", base_url="", root=root)


def static_site(policy: PolicySet, coverage: Coverage | None = None, *, root: Lang = "zh") -> dict[str, str]:
    """The pages of ``xueji doc``, by relative path: the measures in ``root``'s language at the top
    (``index.html``) and in the other language in a folder named by it (``en/index.html``), each with
    ``check.html`` and ``playground.html`` beside it saying how to start the service those two need."""
    out: dict[str, str] = {}
    for lang in (root, "en" if root == "zh" else "zh"):
        prefix = "" if lang == root else f"{lang}/"
        out[prefix + "index.html"] = measures_page(policy, lang, coverage=coverage, site="static", root=root)
        out[prefix + "check.html"] = service_notice_page(policy, lang, "check", root=root)
        out[prefix + "playground.html"] = service_notice_page(policy, lang, "playground", root=root)
    return out
