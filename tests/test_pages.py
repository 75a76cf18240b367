"""The pages (``engine/faces/pages.py``) as HTML: a golden of a stable part, escaping, no external
resource, the static site's links, the data the scripts read. The pages in a browser are
``tests/test_browser.py``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import engine
from engine.faces import pages

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def policy() -> engine.PolicySet:
    return engine.bundled_policy()


def _element(html: str, start: str, tag: str) -> str:
    """The element that begins with ``start`` (up to its closing tag, elements of the same tag not
    nested inside it)."""
    i = html.index(start)
    return html[i : html.index(f"</{tag}>", i) + len(f"</{tag}>")]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_measures_article_golden(golden, policy: engine.PolicySet, lang: str) -> None:
    """Art. 11 as the measures page shows it, without the coverage (which grows with every case)."""
    html = pages.measures_page(policy, lang, site="static")  # type: ignore[arg-type]
    golden.check(f"pages/art-11.{lang}.html", _element(html, '<article class="art" id="art-11"', "article") + "\n")
    golden.check(f"pages/header.{lang}.html", _element(html, '<header class="top">', "header") + "\n")


def test_every_article_and_rule_has_its_anchor_and_text(policy: engine.PolicySet) -> None:
    html = pages.measures_page(policy, "zh", coverage=pages.policy_coverage(policy))
    version = policy.versions[-1]
    for n, article in version.articles.items():
        assert f'id="art-{n}"' in html
        assert article.text.strip().replace("\n", "")[:40] in html.replace("\n", "")
        for rule in article.rules:
            assert f'id="rule-{rule.id}"' in html
    assert 'id="param-college_report_window"' in html and 'id="version-2021"' in html
    assert "每条规范性条款都有规则" in html  # the bundled set's coverage is complete


def test_no_external_resource(policy: engine.PolicySet) -> None:
    for html in (
        pages.measures_page(policy, "en"),
        pages.check_page(policy, "en"),
        pages.playground_page(policy, "zh"),
        *pages.static_site(policy).values(),
    ):
        assert not re.search(r"<link\b|<script[^>]*\bsrc=|<img\b|@import|url\(", html)
        assert not re.search(r'(src|href)="(https?:)?//(?!127\.0\.0\.1:8000/)', html)  # only the local service


def test_policy_text_is_escaped_and_the_page_data_cannot_close_its_script(tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(REPO / "policies", copy)
    ch1 = copy / "2021" / "ch1-general.yaml"
    text = ch1.read_text(encoding="utf-8")
    text = text.replace("title: ", "title: <b>&x ", 1) + "# </script><script>alert(1)</script>\n"
    ch1.write_text(text, encoding="utf-8")
    policy = engine.load_policy(copy)
    measures = pages.measures_page(policy, "en")
    assert "<b>&x" not in measures and "&lt;b&gt;&amp;x" in measures
    playground = pages.playground_page(policy, "en")
    assert "alert(1)" in playground  # the file's text is there, as JSON data …
    assert playground.count("</script>") == 2  # … and cannot end its element: only the two scripts close
    data = playground.split('<script type="application/json" id="xueji-data">', 1)[1].split("</script>", 1)[0]
    assert "</script>" in json.loads(data)["files"]["2021/ch1-general.yaml"]


def test_csv_types_follow_the_schema(policy: engine.PolicySet) -> None:
    types = pages.csv_types(policy)
    assert types["admission.year"] == "int"
    assert types["international"] == "bool"
    assert types["academic_years"] == "list"
    assert types["academic_years[].year"] == "int"
    assert "academic_years[].term_start" not in types  # a date stays text


def test_revisions_show_each_article_once_with_its_other_texts() -> None:
    policy = engine.load_policy(REPO / "examples" / "revision-2025")
    html = pages.measures_page(policy, "en", coverage=pages.policy_coverage(policy))
    assert html.count('id="art-12"') == 1 and 'id="art-12-v2021"' in html
    assert 'id="version-2025"' in html
    versions = _element(html, '<section id="versions">', "section")
    assert "replaces 12" in versions


def test_the_service_routes_and_the_api_base(policy: engine.PolicySet) -> None:
    html = pages.check_page(policy, "en", base_url="/xueji")
    assert 'href="/xueji/check?lang=zh"' in html and 'href="/xueji/?lang=en"' in html
    data = json.loads(html.split('id="xueji-data">', 1)[1].split("</script>", 1)[0])
    assert data["base"] == "/xueji" and data["measures"] == "/xueji/?lang=en"


@pytest.mark.parametrize("page", ["measures", "check", "playground"])
def test_the_content_security_policy_allows_exactly_the_page_s_own_script_and_style(
    policy: engine.PolicySet, page: str
) -> None:
    import base64
    import hashlib

    render = {"measures": pages.measures_page, "check": pages.check_page, "playground": pages.playground_page}[page]
    html = render(policy, "en")  # type: ignore[operator]
    csp = pages.content_security_policy(page)  # type: ignore[arg-type]

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert f"style-src {digest(style)}" in csp
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert [f"script-src {digest(s)}" in csp for s in scripts] == [True] * len(scripts)
    assert ("script-src 'none'" in csp) == (not scripts)
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp


def test_the_static_site_runs_no_script(policy: engine.PolicySet) -> None:
    """The static pages need no script: the measures are plain HTML, the notices only text."""
    for name, html in pages.static_site(policy).items():
        assert "<script" not in html, name
