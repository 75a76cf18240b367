"""The pages in a real browser (issue 15, point 3): Debian's Chromium driven by Selenium.

The static site of ``xueji doc`` is served by ``http.server`` on loopback; the check page and the
playground by the real decision service (``engine/faces/serve.py``'s app under uvicorn, with a token),
whose API they call; what they sent is read back from its decision log. Every server listens on
127.0.0.1 on a random port.

The browser is ``/usr/bin/chromium`` with ``/usr/bin/chromedriver`` (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them). Without them, or without ``selenium``, these tests skip
and say why — except under ``CI=true``, where a missing browser is a failure. Every wait is bounded
(``WebDriverWait`` of at most 10 s) and a watchdog ends a test that hangs (it kills the driver after
``TEST_SECONDS``). Screenshots go to ``tests/artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.faces.cli import main
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


def _serve(server: ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, name="test-http", daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


Served = tuple[str, Path]  # the service's URL, and its decision log (each record the pages sent)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real decision service (``xueji serve``'s app, uvicorn in a thread on a loopback port) with a
    token and a decision log that keeps the input, so that a test sees what the pages sent."""
    from engine.faces.serve import Background, DecisionLog, create_app

    log_path = tmp_path_factory.mktemp("serve") / "decisions.jsonl"
    log = DecisionLog.open(str(log_path))
    try:
        with Background(create_app(None, token=TOKEN, log=log, log_input=True)) as url:
            yield url, log_path
    finally:
        log.close()


def _logged(log_path: Path) -> list[dict[str, Any]]:
    """The decision log so far: one entry per record judged, with the record as the page sent it."""
    text = log_path.read_text(encoding="utf-8") if log_path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


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
    browser: WebDriver, service: Served
) -> None:
    url, log = service
    browser.get(url + "/check?lang=en")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    record = _fixture("annual-pending")
    box = _find(browser, "#record")
    box.send_keys(json.dumps(record, ensure_ascii=False))
    _set(browser, "#on", "2025-09-10")
    # without the token the service refuses, and the page says so
    browser.find_element(By.ID, "check").click()
    assert "bearer token" in _find(browser, "#results .error-box").text.lower()
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
    last = _logged(log)[-1]
    assert last["path"] == "/v1/evaluate" and last["input"] == record and last["on"] == "2025-09-10"
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
    browser: WebDriver, service: Served, tmp_path: Path
) -> None:
    from engine.tools import batch

    url, log = service
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
    before = len(_logged(log))
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
    sent = [entry["input"] for entry in _logged(log)[before:] if entry["path"] == "/v1/evaluate"]
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


def test_a_record_of_the_wrong_shape_lists_its_problems_by_path(browser: WebDriver, service: Served) -> None:
    url, _ = service
    browser.get(url + "/check?lang=en")
    browser.execute_script(f"sessionStorage.setItem('xueji.token', {json.dumps(TOKEN)})")
    browser.refresh()
    bad = {**_fixture("annual-pending"), "schooling_years": "four"}
    _find(browser, "#record").send_keys(json.dumps(bad))
    browser.find_element(By.ID, "check").click()
    box = _find(browser, "#results .error-box")
    assert "schooling_years" in box.text


def test_playground_points_at_a_misspelt_fact_and_judges_the_fixed_rule(browser: WebDriver, service: Served) -> None:
    url, _ = service
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
