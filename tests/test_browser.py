"""The pages in a real browser (issue 15, point 3): Debian's Chromium driven by Selenium.

The static site of ``xueji doc`` is served by ``http.server`` on loopback; the check page and the
playground are served, with the API they call, by a **test-only stub** of the service (``_Stub``
below: stdlib ``http.server`` calling ``engine.evaluate`` and ``check_policy``, just enough to drive the
pages; the real service, ``engine/faces/serve.py``, replaces it). Every server listens on 127.0.0.1 on
a random port.

The browser is ``/usr/bin/chromium`` with ``/usr/bin/chromedriver`` (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them). Without them, or without ``selenium``, these tests skip
and say why — except under ``CI=true``, where a missing browser is a failure. Every wait is bounded
(``WebDriverWait`` of at most 10 s) and a watchdog ends a test that hangs (it kills the driver after
``TEST_SECONDS``). Screenshots go to ``tests/artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import attrs
import pytest

import engine
from engine.diagnostics import FactsError, PolicyError, Severity
from engine.faces import pages
from engine.faces.cli import main
from engine.run.pipeline import check_policy
from engine.sources.yamlsource import load_data

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts" / "screenshots"
DOCS_SHOTS = REPO / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WAIT = 10  # seconds, for every wait on the page
TEST_SECONDS = 90  # the watchdog's bound on one test
TOKEN = "test-token-42"


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


_MISSING = _browser_missing()
if _MISSING is not None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the browser tests cannot run: {_MISSING}", pytrace=False)
    pytest.skip(f"browser tests skipped: {_MISSING}", allow_module_level=True)

from selenium import webdriver  # noqa: E402  (after the check above, which says why it is missing)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

# ------------------------------------------------------------------------------------------- servers


@functools.cache
def _policy() -> engine.PolicySet:
    return engine.bundled_policy()


def _fixture(name: str) -> dict[str, Any]:
    path = REPO / "fixtures" / f"{name}.yaml"
    record, diags = load_data(path.read_bytes(), str(path))
    assert not diags and isinstance(record, dict)
    return record


class _Stub(BaseHTTPRequestHandler):
    """A test-only stand-in for ``xueji serve``: the pages and the part of the API they call."""

    server: _StubServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, csp: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if csp is not None:
            self.send_header("Content-Security-Policy", csp)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(), "application/json")

    def _problem(self, status: int, title: str, errors: list[dict[str, Any]] | None = None) -> None:
        body = {"type": "about:blank", "title": title, "status": status, "detail": title, "errors": errors or []}
        self._send(status, json.dumps(body, ensure_ascii=False).encode(), "application/problem+json")

    def do_GET(self) -> None:
        url = urlparse(self.path)
        lang = parse_qs(url.query).get("lang", ["zh"])[0]
        lang = "en" if lang == "en" else "zh"
        policy = _policy()
        if url.path == "/":
            page, html = "measures", pages.measures_page(policy, lang, coverage=self.server.coverage)
        elif url.path == "/check":
            page, html = "check", pages.check_page(policy, lang)
        elif url.path == "/playground":
            page, html = "playground", pages.playground_page(policy, lang)
        else:
            self._problem(404, "not found")
            return
        # the pages work under their strict policy (only their own inline style and script)
        self._send(200, html.encode(), "text/html; charset=utf-8", pages.content_security_policy(page))

    def do_POST(self) -> None:
        if self.server.token and self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._problem(401, "a bearer token is required")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        except ValueError:
            self._problem(400, "the body is not JSON")
            return
        self.server.bodies.append((self.path, body))
        try:
            if self.path == "/v1/evaluate":
                self._json(self._evaluate(body["record"], body.get("on"), bool(body.get("explain"))))
            elif self.path == "/v1/deadlines":
                self._deadlines(body["record"], body.get("on"))
            elif self.path == "/v1/playground":
                self._json(self._playground(body["files"], body["record"], body.get("on")))
            else:
                self._problem(404, "not found")
        except FactsError as ex:
            errors = [{"path": p.path, "message": {"zh": p.message.zh, "en": p.message.en}} for p in ex.problems]
            self._problem(422, "the record does not fit the facts schema", errors)

    def _evaluate(self, record: Any, on: str | None, explain: bool, policy: Any = None) -> dict[str, Any]:
        from engine.run.explain import explain as explain_finding

        policy = policy or _policy()
        decision = engine.evaluate(record, on=on or dt.date.today(), policy=policy)
        out = {**decision.to_dict(), "on_used": decision.on.isoformat()}
        if explain:
            facts, _ = policy.schema.validate(record)
            for f, d in zip(decision.findings, out["findings"], strict=True):
                d["explanation"] = [attrs.asdict(s) for s in explain_finding(policy, facts, decision.on, f)]
        return out

    def _deadlines(self, record: Any, on: str | None) -> None:
        from engine.faces.render_machine import deadlines_ics
        from engine.run.evaluate import deadlines

        decision = engine.evaluate(record, on=on or dt.date.today(), policy=_policy())
        rows = deadlines(decision, _policy())
        if "text/calendar" in self.headers.get("Accept", ""):
            ics = deadlines_ics(decision, rows, "zh", "20250101T000000Z", record.get("name"))
            self._send(200, ics.encode(), "text/calendar; charset=utf-8")
        else:
            self._json([f.to_dict() for f in rows])

    def _playground(self, files: dict[str, str], record: Any, on: str | None) -> dict[str, Any]:
        policy = _policy()
        root = policy.root.resolve()
        known = pages.policy_files(policy)
        if not set(files) <= set(known):
            raise FactsError([])  # the stub's shortcut: a 422 problem
        overrides = {root / name: text for name, text in files.items()}
        _, diags = check_policy(root, overrides=overrides)
        shown = []
        for d in diags:
            out = d.to_dict()
            if d.span is not None:
                out["file"] = os.path.relpath(Path(d.span.file).resolve(), root)
            shown.append(out)
        decision = None
        if not any(d.severity is Severity.ERROR for d in diags):
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "policies"
                shutil.copytree(root, copy)
                for name, text in files.items():
                    (copy / name).write_text(text, encoding="utf-8")
                try:
                    decision = self._evaluate(record, on, True, engine.load_policy(copy))
                except PolicyError:
                    decision = None
        return {"diagnostics": shown, "decision": decision}


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Stub)
        self.token = token
        self.coverage = pages.policy_coverage(_policy())
        self.bodies: list[tuple[str, Any]] = []


def _serve(server: ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, name="test-http", daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[str, _StubServer]]:
    server = _StubServer(TOKEN)
    try:
        yield _serve(server), server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``xueji doc --out DIR`` for the bundled set, served over HTTP from DIR."""
    out = tmp_path_factory.mktemp("site")
    assert main(["doc", "--out", str(out), "--lang", "zh"]) == 0
    handler = functools.partial(_QuietFiles, directory=str(out))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    try:
        yield _serve(server)
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


# ------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def _watchdog(browser: WebDriver) -> Iterator[None]:
    """A test that hangs is ended: after TEST_SECONDS the driver is killed, and the test fails."""
    service = getattr(browser, "service", None)
    process = getattr(service, "process", None)
    timer = threading.Timer(TEST_SECONDS, lambda: process.kill() if process is not None else None)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _shot(driver: WebDriver, name: str, *, readme: bool = False) -> Path:
    """A screenshot as a test artefact; with ``XUEJI_README_SCREENSHOTS=1`` the README's ones
    (``readme=True``) are also written to ``docs/screenshots/`` (then commit them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    if readme and os.environ.get("XUEJI_README_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / path.name)
    return path


def _wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT)


def _find(driver: WebDriver, css: str) -> WebElement:
    return _wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _set(driver: WebDriver, css: str, value: str) -> None:
    """Set an input's value as a user would leave it (a date input's text depends on the locale)."""
    el = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        el,
        value,
    )


def _no_js_errors(driver: WebDriver) -> None:
    """The page's scripts raised no error (Chromium's console log: a SEVERE entry from JavaScript; the
    network's entries are the responses the test asked for, a 401 or a 422)."""
    try:
        logs = driver.get_log("browser")
    except Exception:  # not every driver keeps the log
        return
    severe = [e for e in logs if e.get("level") == "SEVERE" and e.get("source") != "network"]
    assert severe == [], severe


# --------------------------------------------------------------------------------------------- tests


def test_static_site_shows_the_articles_their_text_an_anchor_and_the_language_switch(
    browser: WebDriver, site: str
) -> None:
    browser.get(site + "/index.html")
    _find(browser, "article#art-11")
    articles = browser.find_elements(By.CSS_SELECTOR, "article.art")
    assert len(articles) == 22
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    text = browser.find_element(By.CSS_SELECTOR, "#art-11 blockquote.zh-text").text
    assert text.startswith("学生应在每学年第一学期开学后两周内到所在学院办理学年注册手续。")
    rule = browser.find_element(By.ID, "rule-art11.annual_registration")
    assert "deadline annual_registration = annual_registration_due(year)" in rule.text
    assert browser.find_elements(
        By.CSS_SELECTOR, '#rule-art11\\.annual_registration details.cases[data-outcome="violated"]'
    )
    # the contents link to the anchor, which scrolls the article into view
    browser.find_element(By.CSS_SELECTOR, 'nav.toc a[href="#art-12"]').click()
    _wait(browser).until(lambda d: d.execute_script("return location.hash") == "#art-12")
    top = browser.execute_script("return document.getElementById('art-12').getBoundingClientRect().top")
    assert abs(top) < 5, top
    _shot(browser, "measures-zh-art12", readme=True)
    # the parameters by date
    params = browser.find_element(By.ID, "param-college_report_window").text
    assert "2021-11-01" in params and "20 days" in params
    # the language switch goes to the English page, and back
    browser.find_element(By.ID, "lang-switch").click()
    _wait(browser).until(lambda d: d.current_url.endswith("/en/index.html"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    heading = browser.find_element(By.CSS_SELECTOR, "#art-11 h3").text
    assert "Art. 11" in heading and "Registering for the year" in heading
    assert browser.find_element(By.CSS_SELECTOR, "#art-11 blockquote.zh-text").text == text  # verbatim, in both
    _shot(browser, "measures-en")
    browser.find_element(By.ID, "lang-switch").click()
    _wait(browser).until(lambda d: d.current_url.endswith("/index.html") and "/en/" not in d.current_url)
    # the check page of the static site points to the service
    browser.get(site + "/check.html")
    assert "xueji serve" in _find(browser, ".notice").text
    _no_js_errors(browser)


def test_check_a_pasted_record_shows_each_article_outcome_and_the_explanation(
    browser: WebDriver, stub: tuple[str, _StubServer]
) -> None:
    url, server = stub
    browser.get(url + "/check?lang=en")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    record = _fixture("annual-pending")
    box = _find(browser, "#record")
    box.send_keys(json.dumps(record, ensure_ascii=False))
    _set(browser, "#on", "2025-09-10")
    # without the token the service refuses, and the page says so
    browser.find_element(By.ID, "check").click()
    assert "bearer token" in _find(browser, "#results .error-box").text
    # with it (kept in sessionStorage) the record is judged
    browser.find_element(By.CSS_SELECTOR, "details.token summary").click()
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "token-save").click()
    assert browser.execute_script("return sessionStorage.getItem('xueji.token')") == TOKEN
    browser.find_element(By.ID, "check").click()
    row = _find(browser, 'tr[data-rule="art11.annual_registration"][data-outcome="pending"]')
    assert "2025-09-15" in row.text  # the due date
    assert "学年应在开学" in row.text or "学年注册" in row.text  # the Chinese message beside the English
    assert "Register for" in row.text
    badge = row.find_element(By.CSS_SELECTOR, ".badge")
    assert badge.text == "pending" and "o-pending" in (badge.get_attribute("class") or "")
    assert browser.find_element(By.CSS_SELECTOR, "section.decision h3").text.count("2025-09-10") == 1
    # the explanation: the steps, the one that decided marked
    row.find_element(By.CSS_SELECTOR, "details.explanation summary").click()
    steps = row.find_element(By.CSS_SELECTOR, "table.steps").text
    assert "annual_registration_applies(year)" in steps and "decided it" in steps
    # not-applicable findings are hidden until asked for
    hidden = browser.find_elements(By.CSS_SELECTOR, 'tr[data-outcome="not_applicable"]')
    assert hidden and not hidden[0].is_displayed()
    _shot(browser, "check-one-record")
    path, body = server.bodies[-1]
    assert path == "/v1/evaluate" and body == {"record": record, "on": "2025-09-10", "explain": True}
    _no_js_errors(browser)


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    """A record as CSV cells by field path (the convention of ``xueji eval --batch``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(value, list):
        if not value:
            out[prefix] = "[]"
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    elif value is None:
        out[prefix] = "null"
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = str(value)


def test_check_an_uploaded_csv_gives_one_row_per_student_and_the_deadlines(
    browser: WebDriver, stub: tuple[str, _StubServer], tmp_path: Path
) -> None:
    from engine.tools import batch

    url, server = stub
    # students whose columns describe one tree (a none `cancellation` and another's `cancellation.kind`
    # cannot share a header: read_csv refuses it, and so would this test)
    students = [_fixture(n) for n in ("annual-pending", "annual-late-deferred", "two-fulltime-statuses")]
    rows: list[dict[str, str]] = []
    for s in students:
        cells: dict[str, str] = {}
        _flatten(s, "", cells)
        rows.append(cells)
    header = list(dict.fromkeys(k for r in rows for k in r))
    path = tmp_path / "students.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(k, "") for k in header])
    browser.get(url + "/check?lang=zh")
    browser.execute_script(f"sessionStorage.setItem('xueji.token', {json.dumps(TOKEN)})")
    browser.refresh()
    _find(browser, "#file").send_keys(str(path))
    _wait(browser).until(lambda d: d.find_element(By.ID, "file-note").text.startswith("3 "))
    _set(browser, "#on", "2025-09-10")
    before = len(server.bodies)
    browser.find_element(By.ID, "check").click()
    table = _find(browser, "table.students")
    _wait(browser).until(lambda d: len(table.find_elements(By.CSS_SELECTOR, "tbody tr[data-student]")) == 3)
    first = table.find_element(By.CSS_SELECTOR, 'tbody tr[data-student="2023030225"]')
    assert (
        first.find_element(By.CSS_SELECTOR, 'td[data-article="11"] .badge').get_attribute("data-outcome") == "pending"
    )
    # the browser's reading of the CSV is the engine's (engine.tools.batch.read_csv)
    with path.open(encoding="utf-8", newline="") as f:
        expected = [record for _, record, _ in batch.read_csv(f, _policy().schema)]
    sent = [body["record"] for p, body in server.bodies[before:] if p == "/v1/evaluate"]
    assert sent == expected
    # a row opens the student's findings
    first.click()
    _find(browser, '#detail tr[data-rule="art11.annual_registration"][data-outcome="pending"]')
    browser.execute_script("arguments[0].scrollIntoView()", table)
    _shot(browser, "check-csv-table", readme=True)
    # the deadlines as one calendar
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.find_element(By.ID, "download-ics").click()
    _wait(browser).until(lambda d: (downloads / "deadlines.ics").exists())
    _wait(browser).until(lambda d: (downloads / "deadlines.ics").read_bytes().endswith(b"END:VCALENDAR\r\n"))
    ics = (downloads / "deadlines.ics").read_bytes().decode("utf-8")
    assert ics.startswith("BEGIN:VCALENDAR") and ics.count("BEGIN:VEVENT") >= 3
    browser.find_element(By.ID, "download-json").click()
    _wait(browser).until(lambda d: (downloads / "decisions.json").exists())
    _wait(browser).until(lambda d: (downloads / "decisions.json").read_text(encoding="utf-8").endswith("\n"))
    decisions = json.loads((downloads / "decisions.json").read_text(encoding="utf-8"))
    assert [d["id"] for d in decisions] == [s["id"] for s in students]
    _no_js_errors(browser)


def test_a_record_of_the_wrong_shape_lists_its_problems_by_path(
    browser: WebDriver, stub: tuple[str, _StubServer]
) -> None:
    url, _ = stub
    browser.get(url + "/check?lang=en")
    browser.execute_script(f"sessionStorage.setItem('xueji.token', {json.dumps(TOKEN)})")
    browser.refresh()
    bad = {**_fixture("annual-pending"), "schooling_years": "four"}
    _find(browser, "#record").send_keys(json.dumps(bad))
    browser.find_element(By.ID, "check").click()
    box = _find(browser, "#results .error-box")
    assert "schooling_years" in box.text


def test_playground_points_at_a_misspelt_fact_and_judges_the_fixed_rule(
    browser: WebDriver, stub: tuple[str, _StubServer]
) -> None:
    url, _ = stub
    browser.get(url + "/playground?lang=en")
    browser.execute_script(f"sessionStorage.setItem('xueji.token', {json.dumps(TOKEN)})")
    browser.refresh()
    select = Select(_find(browser, "#policy-file"))
    select.select_by_value("2021/ch3-annual-registration.yaml")
    editor = browser.find_element(By.ID, "policy-text")
    original = editor.get_attribute("value") or ""
    assert "year.registered_on by annual_registration" in original
    misspelt = original.replace(
        "year.registered_on by annual_registration", "year.registerd_on by annual_registration", 1
    )
    _set(browser, "#policy-text", misspelt)
    _set(browser, "#on", "2025-09-10")
    browser.find_element(By.ID, "run").click()
    diag = _find(browser, '#diagnostics .diag[data-code="unknown-field"]')
    line = int(diag.get_attribute("data-line") or 0)
    assert line == misspelt[: misspelt.index("registerd_on")].count("\n") + 1
    assert "did you mean 'registered_on'?" in diag.text
    assert "2021/ch3-annual-registration.yaml:" in diag.text
    assert "not judged" in _find(browser, "#decision").text
    diag.click()  # selects that line in the editor
    selected = browser.execute_script(
        "const t = document.getElementById('policy-text'); return t.value.slice(t.selectionStart, t.selectionEnd)"
    )
    assert "year.registerd_on by annual_registration" in selected
    _shot(browser, "playground-diagnostic", readme=True)
    # fixed, the record is judged with the edited set
    _set(browser, "#policy-text", original)
    browser.find_element(By.ID, "run").click()
    _find(browser, '#decision tr[data-rule="art11.annual_registration"][data-outcome="pending"]')
    assert "No diagnostics" in browser.find_element(By.ID, "diagnostics").text
    _no_js_errors(browser)
