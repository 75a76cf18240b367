"""``xueji lsp`` driven as an editor drives it (issue 14, points 1 and 6).

The session tests start ``python -m engine lsp`` as a subprocess and speak JSON-RPC to it with
Content-Length framing through :class:`Client` (a few lines, below): initialize, open a copy of the
bundled policies with a typo, receive the diagnostic at its line and column with the did-you-mean,
fix it, ask for hover, completion, definition, references, the outline, formatting and the quick fix,
then shut down. Every wait is bounded; a server that stops answering fails the test, never hangs it.
The pure helpers (UTF-16 columns, the did-you-mean, the language) are tested on their own.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from engine.diagnostics import Msg
from engine.faces.lsp import from_client, lang_of, suggestion, to_client
from engine.sources.discover import find_policy

REPO = Path(__file__).resolve().parent.parent
WAIT = 20.0  # seconds: a loaded CI machine checks the policy set in well under a second
ANNUAL = "2021/ch3-annual-registration.yaml"


# ----------------------------------------------------------------------------------- a tiny client


class Client:
    """An editor's side of the protocol: requests, notifications, and what the server sends."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("XUEJI_DEBUG",)}
        env.update(PYTHONPATH=str(REPO), XUEJI_CACHE_DIR=str(cwd / "cache"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "lsp"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.next_id = 0
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.responses: dict[int, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                headers: dict[str, str] = {}
                while True:
                    line = out.readline()
                    if not line:
                        self.inbox.put(None)
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    key, _, value = line.decode("ascii").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = out.read(int(headers["content-length"]))
                self.inbox.put(json.loads(body.decode("utf-8")))
        except Exception:
            self.inbox.put(None)

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}, ensure_ascii=False).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def _pump(self, timeout: float) -> None:
        msg = self.inbox.get(timeout=timeout)
        if msg is None:
            raise AssertionError("the server closed the connection:\n" + b"".join(self.stderr).decode(errors="replace"))
        if "id" in msg and "method" in msg:  # a request from the server (configuration, …): answer null
            self.send({"id": msg["id"], "result": None})
        elif "id" in msg:
            self.responses[msg["id"]] = msg
        else:
            self.notes.append(msg)

    def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The result of a request (an error response fails the test)."""
        response = self.raw_request(method, params)
        assert "error" not in response, response
        return response.get("result")

    def raw_request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params or {}})
        while rid not in self.responses:
            self._pump(WAIT)
        return self.responses.pop(rid)

    def diagnostics(self, uri: str, *, version: int | None = None) -> list[dict[str, Any]]:
        """The next diagnostics published for ``uri`` (for that document version, if given)."""
        while True:
            for i, note in enumerate(self.notes):
                p = note.get("params", {})
                if (
                    note.get("method") == "textDocument/publishDiagnostics"
                    and p.get("uri") == uri
                    and (version is None or p.get("version") == version)
                ):
                    del self.notes[: i + 1]
                    return list(p["diagnostics"])
            self._pump(WAIT)

    def close(self) -> int:
        try:
            if self.proc.poll() is None:
                self.request("shutdown")
                self.notify("exit", {})
            return self.proc.wait(timeout=WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=WAIT)


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A copy of the bundled policy set, to edit."""
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    return tmp_path / "policies"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(tmp_path)
    c.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": uri_of(tmp_path),
            "capabilities": {},
            "locale": "en",
            "initializationOptions": {"debounce_ms": 50},
        },
    )
    c.notify("initialized", {})
    try:
        yield c
    finally:
        c.close()


def open_doc(client: Client, path: Path, text: str | None = None) -> str:
    uri = uri_of(path)
    text = path.read_text(encoding="utf-8") if text is None else text
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}
    )
    return uri


def where(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """0-based line and code-point column of ``needle`` (+ ``offset``) in ``text``."""
    for i, line in enumerate(text.splitlines()):
        j = line.find(needle)
        if j >= 0:
            return i, j + offset
    raise AssertionError(f"{needle!r} not in the text")


def pos(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


# ------------------------------------------------------------------------------------------ sessions


def test_a_session_as_an_editor_has_it(client: Client, policies: Path) -> None:
    """The issue's "Done when": diagnostic with the did-you-mean at the exact place, the fix clears it,
    hover names a fact's type, completion after a dot gives the fields, definition jumps to the let."""
    path = policies / ANNUAL
    good = path.read_text(encoding="utf-8")
    typo_line, typo_col = where(good, "require year.registered_on by", len("require year."))
    bad = good.replace(
        "require year.registered_on by annual_registration", "require year.registerd_on by annual_registration", 1
    )
    uri = open_doc(client, path, bad)

    diags = client.diagnostics(uri)
    assert len(diags) == 1, diags
    d = diags[0]
    assert d["code"] == "unknown-field"
    assert d["range"] == {"start": pos(typo_line, typo_col), "end": pos(typo_line, typo_col + len("registerd_on"))}
    assert "did you mean 'registered_on'?" in d["message"]
    assert d["severity"] == 1 and d["source"] == "xueji"
    assert d["data"] == {"suggestion": "registered_on"}

    # the quick fix replaces the name with the suggestion
    actions = client.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}},
    )
    assert [a["title"] for a in actions] == ["Change to registered_on"]
    assert actions[0]["edit"]["changes"][uri] == [{"range": d["range"], "newText": "registered_on"}]

    # the author fixes it (the whole text, as a client without incremental sync sends it)
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": good}]},
    )
    assert client.diagnostics(uri, version=2) == []

    # hover on a fact: its type (and its description from the schema)
    line, col = where(good, "require year.registered_on by", len("require year.") + 3)
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(line, col)})
    assert "academic_year.registered_on: date?" in hover["contents"]["value"]
    line, col = where(good, "for year in academic_years", len("for year in ") + 2)
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(line, col)})
    assert "student.academic_years: list[academic_year]" in hover["contents"]["value"]
    assert "学年" in hover["contents"]["value"]  # the record's description in schema.yaml

    # completion after `admission.`, mid-edit: the line does not parse yet
    line, col = where(good, "when annual_registration_applies(year)", 0)
    typing = good.splitlines(keepends=True)
    typing[line] = typing[line].rstrip("\n") + " and admission.\n"
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": "".join(typing)}]},
    )
    end = len(typing[line].rstrip("\n"))
    items = client.request(
        "textDocument/completion",
        {
            "textDocument": {"uri": uri},
            "position": pos(line, end),
            "context": {"triggerKind": 2, "triggerCharacter": "."},
        },
    )
    labels = {i["label"]: i.get("detail") for i in items["items"]}
    assert {"recheck": "recheck", "qualification": "qualification", "year": "int"}.items() <= labels.items()
    assert "annual_registration_due" not in labels  # only the fields of admission
    assert client.diagnostics(uri, version=3)  # the half-written line is an error meanwhile
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"text": good}]},
    )
    assert client.diagnostics(uri, version=4) == []

    # definition of a `deadline`: the line that defines it; of a definition in another place of the file
    use_line, use_col = where(
        good, "require year.registered_on by annual_registration", len("require year.registered_on by ")
    )
    def_line, def_col = where(good, "deadline annual_registration =", len("deadline "))
    loc = client.request(
        "textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(use_line, use_col + 2)}
    )
    assert loc == {"uri": uri, "range": {"start": pos(def_line, def_col), "end": pos(def_line, def_col + 19)}}
    fn_line, fn_col = where(good, "= annual_registration_due(year)", 3)
    let_line, let_col = where(good, "let annual_registration_due(", len("let "))
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(fn_line, fn_col)})
    assert loc["uri"] == uri and loc["range"]["start"] == pos(let_line, let_col)

    # a fact's definition is in schema.yaml
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(line - 2, 0)})
    assert loc is None or loc["uri"]  # (a keyword: nothing, or something)
    fact_line, fact_col = where(good, "require year.registered_on by", len("require year.") + 1)
    loc = client.request(
        "textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(fact_line, fact_col)}
    )
    assert loc["uri"] == uri_of(policies / "schema.yaml")
    schema = (policies / "schema.yaml").read_text(encoding="utf-8").splitlines()
    assert schema[loc["range"]["start"]["line"]].strip().startswith("registered_on:")

    # references of the definition: its declaration and its uses in the rules
    refs = client.request(
        "textDocument/references",
        {"textDocument": {"uri": uri}, "position": pos(let_line, let_col + 1), "context": {"includeDeclaration": True}},
    )
    assert {"uri": uri, "range": {"start": pos(let_line, let_col), "end": pos(let_line, let_col + 23)}} in refs
    assert len(refs) >= 4  # the definition and the three rules of Art. 11 that call it

    # the outline: articles with their rules
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    names = [s["name"] for s in symbols]
    assert "Art. 11" in names and "annual_registration_due" in names
    art11 = symbols[names.index("Art. 11")]
    assert [c["name"] for c in art11["children"]][:1] == ["art11.annual_registration"]

    # formatting: the bundled files are canonical already; a rule whose lines were run together is laid out
    assert (
        client.request(
            "textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}}
        )
        == []
    )
    messy = good.replace(
        "          arises year.term_start\n          deadline annual_registration",
        "          arises  year.term_start   deadline annual_registration",
        1,
    )
    assert messy != good
    client.notify(
        "textDocument/didChange", {"textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": messy}]}
    )
    edits = client.request(
        "textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}}
    )
    assert len(edits) == 1 and edits[0]["newText"] == good

    assert client.close() == 0  # shutdown, exit: the process ends cleanly


def test_utf16_columns_with_chinese_and_astral_text_on_the_line(client: Client, policies: Path) -> None:
    """A typo in a message placeholder after Chinese text and a character outside the BMP (𠮷, two UTF-16
    units): the diagnostic's column counts UTF-16 units, and a hover there finds the name."""
    path = policies / ANNUAL
    good = path.read_text(encoding="utf-8")
    old = 'zh: "{year.year}学年应在开学（{year.term_start}）'
    assert old in good
    bad = good.replace(old, 'zh: "𠮷{year.year}学年应在开学（{year.term_strat}）', 1)
    uri = open_doc(client, path, bad)
    diags = client.diagnostics(uri)
    assert [d["code"] for d in diags] == ["unknown-field"], diags
    line, col = where(bad, "term_strat")
    text = bad.splitlines()[line]
    assert diags[0]["range"]["start"] == pos(line, col + 1)  # 𠮷 is one character and two UTF-16 units
    assert diags[0]["range"]["end"] == pos(line, col + 1 + len("term_strat"))
    assert "did you mean 'term_start'?" in diags[0]["message"]
    # a hover on the `year` before it (after 学年应在开学（, all one unit each)
    ycol = text.find("{year.term_strat}") + 2
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(line, ycol + 1)})
    assert "year: academic_year" in hover["contents"]["value"]


def test_hover_on_an_article_shows_its_text_verbatim(client: Client, policies: Path) -> None:
    path = policies / ANNUAL
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path)
    assert client.diagnostics(uri) == []
    line, col = where(text, "article: 11", 2)
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(line, col)})
    value = hover["contents"]["value"]
    assert value.startswith("**Art. 11 学年注册手续")
    assert "学生应在每学年第一学期开学后两周内到所在学院办理学年注册手续。" in value


def test_chinese_messages_from_the_settings_and_a_failing_request_does_not_kill_the_server(
    client: Client, policies: Path
) -> None:
    client.notify("workspace/didChangeConfiguration", {"settings": {"xueji": {"lang": "zh"}}})
    path = policies / ANNUAL
    bad = path.read_text(encoding="utf-8").replace("arises year.term_start", "arises year.term_stat", 1)
    uri = open_doc(client, path, bad)
    diags = client.diagnostics(uri)
    assert diags and "没有字段 term_stat" in diags[0]["message"]
    assert "提示：是否应为 'term_start'？" in diags[0]["message"]
    # a request about a document the server cannot read: an error response, and the server goes on
    response = client.raw_request(
        "textDocument/hover", {"textDocument": {"uri": "untitled:Untitled-1"}, "position": pos(0, 0)}
    )
    assert response.get("result") is None and "error" not in response
    assert client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})


def test_a_broken_manifest_is_a_diagnostic_not_a_crash(client: Client, policies: Path) -> None:
    manifest = policies / "xueji.yaml"
    uri = open_doc(client, manifest, "name: [unclosed\n")
    diags = client.diagnostics(uri)
    assert diags and diags[0]["code"].startswith("yaml-")
    assert client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(0, 1)}) is None


def test_a_policy_test_file_with_a_case_that_cannot_run(client: Client, policies: Path) -> None:
    path = policies / "tests" / "ch3.yaml"
    good = path.read_text(encoding="utf-8")
    bad = good.replace("    on: 2024-11-01\n", "    on: 2024-02-30\n", 1)
    assert bad != good
    uri = open_doc(client, path, bad)
    diags = client.diagnostics(uri)
    assert [d["code"] for d in diags] == ["test-case-invalid"]
    assert "2024-02-30" in diags[0]["message"]
    client.notify(
        "textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": good}]}
    )
    assert client.diagnostics(uri, version=2) == []
    # a case's rule id: its definition is the rule, its hover the rule text and the article
    line, col = where(good, "rule: art10.status_change_marked", len("rule: art10."))
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(line, col)})
    annual = (policies / ANNUAL).read_text(encoding="utf-8")
    assert loc["uri"] == uri_of(policies / ANNUAL)
    assert loc["range"]["start"] == pos(*where(annual, "- id: art10.status_change_marked", len("- id: ")))
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(line, col)})
    assert "for change in status_changes" in hover["contents"]["value"]
    assert "**Art. 10 学年电子注册的内容" in hover["contents"]["value"]


def test_a_repeated_key_points_at_the_first_one_too(client: Client, policies: Path) -> None:
    """Related places: a YAML key written twice names where it was first written."""
    path = policies / ANNUAL
    good = path.read_text(encoding="utf-8")
    first, _ = where(good, "title: 学年注册手续")
    lines = good.splitlines(keepends=True)
    lines.insert(first + 1, lines[first])
    uri = open_doc(client, path, "".join(lines))
    diags = [d for d in client.diagnostics(uri) if d["code"] == "yaml-duplicate-key"]
    assert len(diags) == 1, diags
    assert diags[0]["range"]["start"]["line"] == first + 1
    related = diags[0]["relatedInformation"]
    assert related[0]["location"]["uri"] == uri and related[0]["location"]["range"]["start"]["line"] == first
    assert related[0]["message"] == "first defined here"


# ------------------------------------------------------------------ the queries, without the protocol


@pytest.fixture(scope="module")
def queries() -> Any:
    from engine.run.pipeline import check_policy
    from engine.tools.editor import Queries

    policy, diags = check_policy(REPO / "policies")
    assert [d for d in diags if d.severity.value == "error"] == []
    return Queries(policy, "en")


def _at(path: Path, needle: str, offset: int = 0) -> tuple[int, int]:
    line, col = where(path.read_text(encoding="utf-8"), needle, offset)
    return line + 1, col + 1  # the spans' 1-based line and column


def test_queries_on_builtins_aggregates_and_parameters(queries: Any) -> None:
    ch2 = (REPO / "policies" / "2021" / "ch2-new-student-registration.yaml").resolve()
    text, span = queries.hover(ch2, *_at(ch2, "year_of(preparatory.filed_on)", 2))
    assert text.startswith("```\nyear_of(date) -> int\n```") and "calendar year" in text
    # `other` inside any(...) is the aggregate's variable: its type, and its definition is the binding
    line, col = _at(ch2, "lasts_some_time(other)", len("lasts_some_time(") + 1)
    text, _ = queries.hover(ch2, line, col)
    assert text.startswith("```\nother: full_time_status\n```")
    assert queries.definition(ch2, line, col) == queries.definition(ch2, *_at(ch2, "any(other in", 5))
    assert queries.definition(ch2, *_at(ch2, "any(other in", 5)).col == _at(ch2, "any(other in", 4)[1]
    # a parameter: its values by date, and its definition in the manifest
    ch3 = (REPO / "policies" / "2021" / ANNUAL.split("/")[1]).resolve()
    line, col = _at(ch3, "+ annual_registration_window", 4)
    text, _ = queries.hover(ch3, line, col)
    assert "annual_registration_window: duration" in text and "2021-11-01: `2 weeks`" in text
    span = queries.definition(ch3, line, col)
    assert Path(span.file).name == "xueji.yaml"
    assert (REPO / "policies" / "xueji.yaml").read_text(encoding="utf-8").splitlines()[span.line - 1].strip() == (
        "annual_registration_window:"
    )


def test_completion_of_enum_values_in_a_set_and_of_a_let_bound_to_a_fact(queries: Any) -> None:
    ch3 = (REPO / "policies" / "2021" / ANNUAL.split("/")[1]).resolve()
    lines = ch3.read_text(encoding="utf-8").splitlines()
    line, _ = _at(ch3, "require year.registered_on by annual_registration")
    lines[line - 1] = "          require admission.qualification in {given_up, "
    got = [c.label for c in queries.completions(ch3, lines, line, len(lines[line - 1]) + 1)]
    assert got == ["enrolled", "given_up", "retained", "cancelled"]
    lines[line - 1] = "          let r = admission"
    lines.insert(line, "          require r.")
    got = [c.label for c in queries.completions(ch3, lines, line + 1, len(lines[line]) + 1)]
    assert got[:2] == ["year", "level"] and "recheck" in got


def test_completion_knows_where_it_is(queries: Any) -> None:
    """Nothing in an article's Chinese text; in a message's `{…}`, the rule's names and `due`; in a
    definition, its parameters."""
    ch3 = (REPO / "policies" / "2021" / ANNUAL.split("/")[1]).resolve()
    lines = ch3.read_text(encoding="utf-8").splitlines()
    line, col = _at(ch3, "学生应在每学年第一学期开学后两周内", 4)
    assert queries.completions(ch3, lines, line, col) == []
    line, _ = _at(ch3, 'zh: "{year.year}学年应在开学')
    for typed, expected in (('zh: "{year.', "term_start"), ('zh: "{du', "due"), ('zh: "学年', None)):
        lines[line - 1] = "          " + typed
        got = [c.label for c in queries.completions(ch3, lines, line, len(lines[line - 1]) + 1)]
        assert (expected in got) if expected else got == [], (typed, got)
    line, _ = _at(ch3, "let annual_registration_due(")
    lines[line - 1] = "    let annual_registration_due(y: academic_year) = y."
    got = [c.label for c in queries.completions(ch3, lines, line, len(lines[line - 1]) + 1)]
    assert got[:2] == ["year", "term_start"]


# ---------------------------------------------------------------------------------------- helpers


def test_a_failing_handler_answers_with_an_error_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from pygls.exceptions import JsonRpcInternalError

    from engine.faces.lsp import guarded

    @guarded("hover")
    def broken(ls: object, params: object) -> None:
        raise KeyError("boom")

    with pytest.raises(JsonRpcInternalError) as info:
        broken(None, None)
    assert info.value.message.startswith("xueji: internal error in hover (KeyError: 'boom')")
    assert info.value.data is None
    assert "Traceback" not in capsys.readouterr().err


def test_utf16_conversion() -> None:
    line = "𠮷学年{year.term_start}"
    assert to_client(line, 1) == 0
    assert to_client(line, 2) == 2  # after 𠮷: two UTF-16 units
    assert to_client(line, 4) == 4  # after 学年: one unit each
    assert from_client(line, 0) == 1 and from_client(line, 2) == 2 and from_client(line, 4) == 4
    assert from_client(line, 1) == 2  # inside the surrogate pair: the next character
    assert from_client(line, 999) == len(line) + 1
    assert to_client(line, 2, "utf-8") == 4 and to_client(line, 3, "utf-32") == 2
    for col in range(1, len(line) + 2):
        assert from_client(line, to_client(line, col)) == col


def test_suggestion_and_language() -> None:
    assert suggestion(Msg("是否应为 'term_start'？", "did you mean 'term_start'?")) == "term_start"
    assert suggestion(Msg("是否应为 rules？", "did you mean rules?")) == "rules"
    look_alike = "'а' (U+0430 CYRILLIC SMALL LETTER A) is a look-alike of a Latin letter; did you mean 'term_start'?"
    assert suggestion(Msg("", look_alike)) == "term_start"
    assert suggestion(Msg("", "define it with `let`, or check the spelling")) is None
    assert suggestion(None) is None
    assert lang_of("en-US") == "en" and lang_of("zh-cn") == "zh" and lang_of(None) == "zh"
    assert lang_of("zh-cn", {"lang": "en"}) == "en"
    assert lang_of("en", {"xueji": {"lang": "zh"}}) == "zh"


def test_the_verb_refuses_a_missing_policy_directory(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "engine", "lsp", "--policy", str(tmp_path / "nowhere")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 2 and "no such directory" in run.stderr and "Traceback" not in run.stderr


def test_find_policy_walks_up_to_the_manifest(policies: Path, tmp_path: Path) -> None:
    assert find_policy(policies / ANNUAL) == policies.resolve()
    assert find_policy(policies) == policies.resolve()
    assert find_policy(policies / "2021" / "not-yet-saved.yaml") == policies.resolve()
    assert find_policy(tmp_path) is None
