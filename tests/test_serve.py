"""The decision service (issue 15): ``xueji serve`` over real HTTP.

Each server is uvicorn on a loopback port of its own, started by the test (in a thread, or ``xueji
serve --port 0`` in a subprocess); the client is httpx, or a raw socket where a test needs to misbehave
(a slow client, a client that goes away mid-batch, a batch streamed both ways). Every test is bounded:
fixed counts, timeouts on every request, schemathesis with a fixed number of examples per operation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest

from engine.diagnostics import FactsError
from engine.faces import serve
from engine.faces.cli import main
from engine.faces.render import decision_json, to_json
from engine.faces.render_machine import deadlines_ics
from engine.faces.serve import Background, DecisionLog, Limits, create_app
from engine.run.decisionschema import decision_schema
from engine.run.evaluate import bundled_policy, deadlines, evaluate
from engine.sources.yamlsource import load_data
from engine.tools import policytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = sorted((REPO / "fixtures").glob("*.yaml"))
DATES = ("2021-12-01", "2024-11-15", "2025-09-10")
TIMEOUT = httpx.Timeout(30.0)
DECISION = jsonschema.Draft202012Validator(
    decision_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def fixture(name: str) -> Any:
    path = REPO / "fixtures" / f"{name}.yaml"
    record, _ = load_data(path.read_bytes(), str(path))
    return record


def is_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["type"].startswith("urn:xueji:problem:")
    assert {"title", "detail"} <= set(body)
    assert "Traceback" not in r.text
    return body


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve") / "decisions.jsonl"


@pytest.fixture(scope="module")
def url(log_path: Path) -> Iterator[str]:
    log = DecisionLog.open(str(log_path))
    with Background(create_app(None, log=log)) as base:
        yield base
    log.close()


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=TIMEOUT) as c:
        yield c


LIMITS = Limits(max_body=16 * 1024, max_batch_body=64 * 1024, max_batch=5, timeout=1.0)


@pytest.fixture(scope="module")
def limited() -> Iterator[str]:
    """A server with small limits: 16 KiB bodies, 64 KiB batches of at most 5 records, 1 s to read."""
    with Background(create_app(None, limits=LIMITS)) as base:
        yield base


def healthy(base: str) -> None:
    r = httpx.get(base + "/healthz", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "ok"


# ----------------------------------------------------------------------------------- /v1/evaluate


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_evaluate_answers_exactly_what_evaluate_decides_for_every_fixture(client: httpx.Client, path: Path) -> None:
    record = fixture(path.stem)
    for on in DATES:
        r = client.post("/v1/evaluate", json={"record": record, "on": on})
        assert r.status_code == 200, r.text[:500]
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body.pop("on_used") == on
        assert body == evaluate(record, on=on).to_dict()
        assert not list(DECISION.iter_errors(body))


def _case_records() -> list[tuple[str, Any, dt.date]]:
    policy = bundled_policy()
    out = []
    for case in policytest.load_cases(policytest.default_case_paths(policy)):
        if case.version is not None or case.problems:
            continue  # a case pinned to a version is judged by that version alone, not by the service's set
        try:
            record = policytest._record(case, [REPO / "fixtures"], {})
        except Exception:
            continue
        if record is not None:
            out.append((case.name, record, case.on or dt.date(2024, 11, 15)))
    return out


def test_evaluate_answers_exactly_what_evaluate_decides_for_every_policy_test_record(client: httpx.Client) -> None:
    cases = _case_records()
    assert len(cases) > 100
    for name, record, on in cases:
        r = client.post("/v1/evaluate", json={"record": record, "on": on.isoformat()})
        try:
            expected = evaluate(record, on=on).to_dict()
        except FactsError as ex:  # a bad record: 422 naming every problem by path
            body = is_problem(r, 422)
            assert [e["path"] for e in body["errors"]] == [p.path for p in ex.problems], name
            continue
        assert r.status_code == 200, (name, r.text[:300])
        body = r.json()
        assert body.pop("on_used") == on.isoformat()
        assert body == expected, name


def test_on_defaults_to_the_servers_date_and_the_answer_says_so(client: httpx.Client) -> None:
    before = dt.date.today().isoformat()
    body = client.post("/v1/evaluate", json={"record": fixture("annual-pending")}).json()
    assert body["on_used"] in (before, dt.date.today().isoformat()) and body["on"] == body["on_used"]


def test_explain_is_what_eval_json_explain_writes(
    client: httpx.Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fixture("cancellation-late")
    r = client.post("/v1/evaluate", json={"record": record, "on": "2024-11-15", "explain": True})
    body = r.json()
    body.pop("on_used")
    decision = evaluate(record, on="2024-11-15")
    assert body == decision_json(decision, bundled_policy(), record, explain=True)
    assert all(f["explanation"] for f in body["findings"] if f["outcome"] != "not_applicable")
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    main(["eval", "fixtures/cancellation-late.yaml", "--on", "2024-11-15", "--format", "json", "--explain"])
    (cli,) = json.loads(capsys.readouterr().out)
    cli.pop("file")
    assert cli == body
    assert not list(DECISION.iter_errors(body))


def test_a_bad_record_is_422_with_every_problem_by_path(client: httpx.Client) -> None:
    record = {**fixture("annual-pending"), "birth_date": "2004-02-30", "level": "bachelorr"}
    body = is_problem(client.post("/v1/evaluate", json={"record": record, "on": "2024-11-15"}), 422)
    paths = {e["path"]: e["message"] for e in body["errors"]}
    assert set(paths) == {"birth_date", "level"}
    assert "2004-02-30" in paths["birth_date"]["en"] and paths["birth_date"]["zh"]
    is_problem(client.post("/v1/evaluate", json={"record": [1, 2]}), 422)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"on": "2024-11-15"}, "record"),
        ({"record": {}, "on": "2024-13-01"}, "on"),
        ({"record": {}, "on": 20241115}, "on"),
        ({"record": {}, "explain": "yes"}, "explain"),
        ({"record": {}, "colour": "red"}, "colour"),
    ],
)
def test_a_request_body_not_as_described_is_422_naming_the_key(
    client: httpx.Client, body: dict[str, Any], where: str
) -> None:
    problem = is_problem(client.post("/v1/evaluate", json=body), 422)
    assert problem["errors"][0]["path"] == where


def test_every_error_is_problem_json(client: httpx.Client) -> None:
    is_problem(client.get("/nowhere"), 404)
    is_problem(client.get("/v1/evaluate"), 405)
    is_problem(client.post("/v1/evaluate", content=b"{}"), 415)  # no Content-Type
    is_problem(client.post("/v1/evaluate", content=b"{}", headers={"content-type": "text/plain"}), 415)
    bad = is_problem(
        client.post("/v1/evaluate", content=b'{"record": ', headers={"content-type": "application/json"}), 400
    )
    assert "line 1" in bad["detail"]
    dup = b'{"record": {}, "record": {}}'
    is_problem(client.post("/v1/evaluate", content=dup, headers={"content-type": "application/json"}), 400)
    deep = b"[" * 100_000 + b"]" * 100_000  # under the body limit, too deep for the JSON reader
    is_problem(client.post("/v1/evaluate", content=deep, headers={"content-type": "application/json"}), 400)
    nan = b'{"record": {"admission": {"year": NaN}}}'
    is_problem(client.post("/v1/evaluate", content=nan, headers={"content-type": "application/json"}), 400)


def test_an_internal_error_is_a_500_problem_with_an_id_and_no_traceback(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug, with a secret in it")

    monkeypatch.setattr(serve, "evaluate", broken)
    monkeypatch.delenv("XUEJI_DEBUG", raising=False)
    capfd.readouterr()
    body = is_problem(client.post("/v1/evaluate", json={"record": {}}), 500)
    assert body["id"] and "secret" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)
    err = capfd.readouterr().err
    assert body["id"] in err and "Traceback" not in err
    monkeypatch.setenv("XUEJI_DEBUG", "1")
    body = is_problem(client.post("/v1/evaluate", json={"record": {}}), 500)
    err = capfd.readouterr().err
    assert "Traceback" in err and body["id"] in err  # the log, never the answer
    healthy(client.base_url.__str__().rstrip("/"))


def test_a_slow_evaluation_does_not_hold_up_the_others(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    real = serve.evaluate

    def slow(record: Any, **kwargs: Any) -> Any:
        if isinstance(record, dict) and record.get("id") == "slow":
            time.sleep(2.0)
        return real(record, **kwargs)

    monkeypatch.setattr(serve, "evaluate", slow)
    done: dict[str, float] = {}

    def call(key: str, record: Any) -> None:
        client.post("/v1/evaluate", json={"record": record, "on": "2024-11-15"})
        done[key] = time.monotonic()

    began = time.monotonic()
    t = threading.Thread(target=call, args=("slow", {"id": "slow"}))
    t.start()
    time.sleep(0.2)
    call("quick", fixture("annual-pending"))
    t.join(10)
    assert done["quick"] < done["slow"] and done["quick"] - began < 1.5


# -------------------------------------------------------------------------------------- /v1/batch


def ndjson(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def test_batch_judges_each_line_and_reports_a_malformed_one(client: httpx.Client) -> None:
    records = [fixture(p.stem) for p in FIXTURES[:4]]
    body = ndjson(records[:2]) + b'{"id": "broken",\n\n' + ndjson([{"level": 3}]) + ndjson(records[2:])
    r = client.post("/v1/batch?on=2024-11-15", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3, 5, 6, 7]  # line 4 is blank
    assert lines[2]["error"]["status"] == 400 and "not valid JSON" in lines[2]["error"]["detail"]
    assert lines[3]["error"]["status"] == 422 and lines[3]["error"]["errors"][0]["path"] == "level"
    judged = [line for line in lines if "error" not in line]
    for line, record in zip(judged, records, strict=True):
        assert line.pop("line") and line == evaluate(record, on="2024-11-15").to_dict()


def test_batch_compact_view_writes_the_lines_of_the_cli(client: httpx.Client) -> None:
    """?view=compact: each line as ``xueji eval --batch`` writes it by default (compact_dict)."""
    from engine.tools.batch import compact_dict

    records = [fixture(p.stem) for p in FIXTURES[:5]]
    r = client.post(
        "/v1/batch?on=2024-11-15&view=compact",
        content=ndjson(records),
        headers={"content-type": "application/x-ndjson"},
    )
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [line.pop("line") for line in lines] == [1, 2, 3, 4, 5]
    assert lines == [json.loads(json.dumps(compact_dict(evaluate(x, on="2024-11-15")))) for x in records]
    assert all("outcomes" in line for line in lines)


def test_batch_refuses_a_bad_on_and_a_wrong_media_type(client: httpx.Client) -> None:
    is_problem(client.post("/v1/batch?on=tomorrow", content=b"{}\n", headers={"content-type": NDJSON}), 422)
    bad_view = is_problem(client.post("/v1/batch?view=short", content=b"{}\n", headers={"content-type": NDJSON}), 422)
    assert bad_view["errors"][0]["path"] == "query.view"
    is_problem(client.post("/v1/batch", content=b"{}\n", headers={"content-type": "application/json"}), 415)


NDJSON = "application/x-ndjson"


async def _duplex(base: str, body: Iterator[bytes], *, keep: bool = True) -> tuple[int, list[bytes]]:
    """POST /v1/batch with a chunked body, reading the answer while the body is still being sent (as a
    streaming client must: the answer streams while the body arrives). The status and the lines."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST /v1/batch?on=2024-11-15 HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {NDJSON}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode())

    async def send() -> None:
        for block in body:
            writer.write(b"%x\r\n%s\r\n" % (len(block), block))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def receive() -> tuple[int, list[bytes]]:
        status_line = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        lines: list[bytes] = []
        rest = b""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                break
            rest += await reader.readexactly(size)
            await reader.readline()
            *whole, rest = rest.split(b"\n")
            lines += whole if keep else [b""] * len(whole)
        return int(status_line.split()[1]), lines

    _, (status, lines) = await asyncio.gather(send(), receive())
    writer.close()
    return status, lines


def test_a_large_batch_streams_both_ways(url: str) -> None:
    """2,000 records (about 3 MB in, 30 MB out): the answer arrives while the body is sent, in order."""
    records = [fixture(p.stem) for p in FIXTURES]
    count = 2000

    def body() -> Iterator[bytes]:
        for i in range(0, count, 50):
            yield ndjson([records[j % len(records)] for j in range(i, i + 50)])

    status, lines = asyncio.run(asyncio.wait_for(_duplex(url, body()), 120))
    assert status == 200 and len(lines) == count
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert first["line"] == 1 and last["line"] == count
    assert {k: v for k, v in last.items() if k != "line"} == evaluate(
        records[(count - 1) % len(records)], on="2024-11-15"
    ).to_dict()


def test_batch_limits_records_size_and_line_length(limited: str) -> None:
    with httpx.Client(base_url=limited, timeout=TIMEOUT) as c:
        record = {"id": "1"}
        r = c.post("/v1/batch", content=ndjson([record] * 7), headers={"content-type": NDJSON})
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert [line["line"] for line in lines] == [1, 2, 3, 4, 5, 6]  # five judged, then why it stopped
        assert lines[-1]["error"]["status"] == 413 and "more than 5 records" in lines[-1]["error"]["detail"]
        too_big = b"x" * (LIMITS.max_batch_body + 1)
        is_problem(c.post("/v1/batch", content=too_big, headers={"content-type": NDJSON}), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
            for _ in range(10):
                yield b" " * 10_000 + b"\n"

        r = c.post("/v1/batch", content=chunks(), headers={"content-type": NDJSON})
        assert json.loads(r.text.splitlines()[-1])["error"]["status"] == 413
        long_line = b'{"id": "' + b"x" * (LIMITS.max_body + 10) + b'"}\n'
        for body in (long_line + ndjson([record]), iter([long_line, ndjson([record])])):
            r = c.post("/v1/batch", content=body, headers={"content-type": NDJSON})
            lines = [json.loads(line) for line in r.text.splitlines()]
            assert "line is over the limit" in lines[0]["error"]["detail"] and lines[1]["line"] == 2
        unended = b'{"id": "' + b"x" * (LIMITS.max_body + 10)  # no end of line in sight: the batch stops
        r = c.post("/v1/batch", content=iter([unended]), headers={"content-type": NDJSON})
        assert "line is over the limit" in json.loads(r.text.splitlines()[-1])["error"]["detail"]
    healthy(limited)


def test_a_client_that_goes_away_mid_batch_leaves_the_server_healthy(url: str) -> None:
    parts = urlsplit(url)
    records = ndjson([fixture("annual-pending")] * 200)
    for _ in range(3):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
            head = f"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: {NDJSON}\r\n"
            s.sendall(f"{head}Content-Length: {len(records) * 2}\r\n\r\n".encode())
            s.sendall(records)  # half the body, then gone
            s.recv(100)  # the answer has begun
    healthy(url)
    r = httpx.post(url + "/v1/batch", content=records[:5000] + b"\n", headers={"content-type": NDJSON}, timeout=TIMEOUT)
    assert r.status_code == 200


# -------------------------------------------------------------------------------------------- limits


def test_an_oversized_body_is_413(limited: str) -> None:
    big = {"record": {"name": "x" * (LIMITS.max_body + 1)}}
    is_problem(httpx.post(limited + "/v1/evaluate", json=big, timeout=TIMEOUT), 413)

    def chunks() -> Iterator[bytes]:  # chunked, no Content-Length: counted as it arrives
        yield b'{"record": {"name": "'
        for _ in range(4):
            yield b"x" * 8192
        yield b'"}}'

    r = httpx.post(
        limited + "/v1/evaluate", content=chunks(), headers={"content-type": "application/json"}, timeout=TIMEOUT
    )
    is_problem(r, 413)
    healthy(limited)


def test_a_slow_client_gets_408_and_the_server_stays_healthy(limited: str) -> None:
    parts = urlsplit(limited)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(
            b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"record": '
        )
        began = time.monotonic()
        healthy(limited)  # meanwhile the others are served
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            got = s.recv(4096)
            if not got:
                break
            answer += got
    assert time.monotonic() - began < 5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and b"application/problem+json" in head
    assert json.loads(body)["status"] == 408
    healthy(limited)


# -------------------------------------------------------------------------------- the other endpoints


def test_deadlines_as_json_and_as_an_ics_file(client: httpx.Client) -> None:
    record = fixture("annual-pending")
    on = "2025-09-10"
    decision = evaluate(record, on=on)
    rows = deadlines(decision, bundled_policy())
    assert rows
    r = client.post("/v1/deadlines", json={"record": record, "on": on})
    assert r.json() == [f.to_dict() for f in rows] == json.loads(to_json([f.to_dict() for f in rows]))
    r = client.post(
        "/v1/deadlines", json={"record": record, "on": on, "lang": "en"}, headers={"accept": "text/calendar"}
    )
    assert r.headers["content-type"].startswith("text/calendar")
    stamp = "20250910T000000Z"
    assert r.text == deadlines_ics(decision, rows, "en", stamp, str(record["name"]))
    assert r.text.startswith("BEGIN:VCALENDAR\r\n")


def test_lint_gives_diagnostics_at_line_and_column(client: httpx.Client) -> None:
    assert client.post("/v1/lint", json={"files": {}}).json() == {"diagnostics": []}
    name = "2021/ch3-annual-registration.yaml"
    text = (REPO / "policies" / name).read_text(encoding="utf-8").replace("term_start", "term_stаrt", 1)
    diags = client.post("/v1/lint", json={"files": {name: text}}).json()["diagnostics"]
    errors = [d for d in diags if d["severity"] == "error"]
    assert errors and errors[0]["file"] == name and errors[0]["line"] > 1 and errors[0]["col"] >= 1
    assert errors[0]["message"]["en"] and errors[0]["message"]["zh"]
    for bad in ("../outside.yaml", "/etc/passwd", "2021/../../x.yaml"):
        problem = is_problem(client.post("/v1/lint", json={"files": {bad: "x"}}), 422)
        assert problem["errors"][0]["path"] == f"files.{bad}"
    is_problem(client.post("/v1/lint", json={"files": {name: 3}}), 422)


@pytest.mark.parametrize("endpoint", ["/v1/lint", "/v1/playground"])
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("      - 2021/*.yaml", "      - 2021/*.yaml\n      - ../fixtures/*.yaml"),
        ("schema: schema.yaml", "schema: /etc/passwd"),
        ("schema: schema.yaml", "schema: schema.yaml\nextends: ../tests/data/two-versions"),
    ],
)
def test_edited_files_may_not_read_outside_the_policy_directory(
    client: httpx.Client, endpoint: str, old: str, new: str
) -> None:
    manifest = (REPO / "policies" / "xueji.yaml").read_text(encoding="utf-8")
    assert old in manifest
    body: dict[str, Any] = {"files": {"xueji.yaml": manifest.replace(old, new, 1)}}
    if endpoint == "/v1/playground":
        body["record"] = fixture("annual-pending")
    r = client.post(endpoint, json=body)
    assert "passwd" not in r.text.replace("/etc/passwd", "") and "root:" not in r.text
    if r.status_code == 200:  # the loader itself refuses what lies outside (outside-policy), reading nothing
        codes = {d["code"] for d in r.json()["diagnostics"]}
        assert "outside-policy" in codes, r.text
        assert endpoint == "/v1/lint" or r.json()["decision"] is None
    else:  # the service's own guard
        problem = is_problem(r, 422)
        assert problem["errors"][0]["path"] == "files"


def test_an_absolute_files_pattern_is_a_diagnostic_not_a_crash(client: httpx.Client) -> None:
    manifest = (REPO / "policies" / "xueji.yaml").read_text(encoding="utf-8")
    edited = manifest.replace("      - 2021/*.yaml", "      - 2021/*.yaml\n      - /etc/*.yaml", 1)
    (diag,) = client.post("/v1/lint", json={"files": {"xueji.yaml": edited}}).json()["diagnostics"]
    assert diag["code"] in ("policy-shape", "outside-policy") and "policy directory" in diag["message"]["en"]
    assert diag["file"] == "xueji.yaml" and diag["line"] == 43  # at the pattern itself


def test_playground_judges_a_record_with_the_edited_rules(client: httpx.Client) -> None:
    record = fixture("annual-pending")
    plain = client.post("/v1/playground", json={"record": record, "on": "2025-09-10"}).json()
    assert plain["diagnostics"] == [] and plain["decision"] == evaluate(record, on="2025-09-10").to_dict()
    manifest = (REPO / "policies" / "xueji.yaml").read_text(encoding="utf-8")
    longer = manifest.replace("2021-11-01: 2 weeks", "2021-11-01: 3 weeks", 1)
    assert longer != manifest
    edited = client.post(
        "/v1/playground", json={"files": {"xueji.yaml": longer}, "record": record, "on": "2025-09-10"}
    ).json()
    due = {f["rule"]: f["due"] for f in edited["decision"]["findings"] if f["subject"] == "academic_years[2]"}
    assert due["art11.annual_registration"] == "2025-09-22"  # 2025-09-01 + 3 weeks, not + 2
    broken = manifest.replace("2021-11-01: 2 weeks", "2021-11-01: 2 fortnights", 1)
    out = client.post("/v1/playground", json={"files": {"xueji.yaml": broken}, "record": record}).json()
    assert out["decision"] is None
    assert any(d["severity"] == "error" and d["file"] == "xueji.yaml" and d["line"] > 1 for d in out["diagnostics"])
    is_problem(client.post("/v1/playground", json={"files": {}, "record": {"level": 3}}), 422)


def test_policy_lists_articles_rules_versions_parameters_and_the_hash(client: httpx.Client) -> None:
    body = client.get("/v1/policy").json()
    assert body["hash"].startswith("sha256:") and body["hash"] == client.get("/healthz").json()["policy"]["hash"]
    art11 = next(a for a in body["articles"] if a["number"] == 11)
    assert "两周内" in art11["text"] and art11["title_en"] == "Registering for the year" and art11["gloss"]
    rule = next(r for r in body["rules"] if r["id"] == "art11.annual_registration")
    assert rule["article"] == 11 and rule["kind"] == "require" and rule["deadline"] and "by" in rule["text"]
    assert body["versions"] == [
        {"id": "2021", "title": body["versions"][0]["title"], "effective": "2021-11-01", "previous": None}
    ]
    assert {
        "name": "annual_registration_window",
        "values": [{"from": "2021-11-01", "value": "2 weeks"}],
    }.items() <= next(p for p in body["parameters"] if p["name"] == "annual_registration_window").items()


def test_openapi_components_are_the_json_schemas_and_docs_work_offline(client: httpx.Client) -> None:
    from engine.sources.recordschema import record_schema

    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["schemas"]["Record"] == record_schema(bundled_policy().schema)
    assert doc["components"]["schemas"]["Decision"] == decision_schema()
    assert {"/v1/evaluate", "/v1/batch", "/v1/deadlines", "/v1/lint", "/v1/playground", "/v1/policy"} <= set(
        doc["paths"]
    )
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN


def test_metrics_are_prometheus_text(client: httpx.Client) -> None:
    client.post("/v1/evaluate", json={"record": fixture("credential-problems"), "on": "2024-11-15"})
    client.get("/nowhere")
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'xueji_requests_total{route="/v1/evaluate",method="POST",status="200"}' in text
    assert 'xueji_requests_total{route="other",method="GET",status="404"}' in text
    assert 'xueji_request_seconds_bucket{route="/v1/evaluate",le="+Inf"}' in text
    assert "# TYPE xueji_request_seconds histogram" in text
    assert 'xueji_findings_total{article="15",outcome="violated"}' in text
    for line in text.splitlines():
        assert line.startswith("#") or float(line.rsplit(" ", 1)[1]) >= 0


def test_the_decision_log_has_one_line_per_decision(client: httpx.Client, log_path: Path) -> None:
    before = log_path.read_text(encoding="utf-8").count("\n") if log_path.exists() else 0
    record = fixture("annual-pending")
    r = client.post("/v1/evaluate", json={"record": record, "on": "2025-09-10"})
    client.post("/v1/batch?on=2025-09-10", content=ndjson([record, record]), headers={"content-type": NDJSON})
    entries = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()[before:]]
    assert len(entries) == 3
    first = entries[0]
    assert first["decision_id"] == r.headers["x-decision-id"]
    assert first["path"] == "/v1/evaluate" and first["policy_hash"].startswith("sha256:")
    assert first["versions"] == ["2021"] and first["on"] == "2025-09-10" and first["latency_ms"] >= 0
    assert sum(first["outcomes"].values()) == len(r.json()["findings"]) and "input" not in first
    assert dt.datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert [e.get("line") for e in entries[1:]] == [1, 2] and entries[1]["path"] == "/v1/batch"


def test_log_input_puts_the_record_in_the_decision_log() -> None:
    stream = io.StringIO()
    with Background(create_app(None, log=DecisionLog(stream), log_input=True)) as base:
        httpx.post(base + "/v1/evaluate", json={"record": {"id": "7"}, "on": "2024-11-15"}, timeout=TIMEOUT)
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["input"] == {"id": "7"}


# ---------------------------------------------------------------------------------------- security


def test_with_a_token_every_v1_call_needs_it() -> None:
    with Background(create_app(None, token="s3cret")) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as c:
        body = {"record": {}, "on": "2024-11-15"}
        r = c.post("/v1/evaluate", json=body)
        is_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        is_problem(c.post("/v1/evaluate", json=body, headers={"authorization": "Bearer wrong"}), 401)
        is_problem(c.get("/v1/policy", headers={"authorization": "s3cret"}), 401)
        assert c.post("/v1/evaluate", json=body, headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/openapi.json").status_code == 200


def test_binding_beyond_loopback_needs_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XUEJI_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--token" in err and "XUEJI_TOKEN" in err and "Traceback" not in err
    assert serve.is_loopback("127.0.0.1") and serve.is_loopback("::1") and serve.is_loopback("localhost")
    assert (
        not serve.is_loopback("0.0.0.0")
        and not serve.is_loopback("192.168.1.2")
        and not serve.is_loopback("example.org")
    )


def test_serve_without_the_extra_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.faces

    monkeypatch.setitem(sys.modules, "engine.faces.serve", None)  # as if starlette were not installed
    monkeypatch.delattr(engine.faces, "serve", raising=False)
    monkeypatch.delenv("XUEJI_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2  # never serves, whatever happens
    assert "pip install 'xueji[serve]'" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [1, 2])
def test_xueji_serve_in_a_subprocess_on_a_free_port(tmp_path: Path, workers: int) -> None:
    env = {**os.environ, "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}
    env.pop("XUEJI_DEBUG", None)
    cmd = [sys.executable, "-m", "engine", "serve", "--port", "0", "--decision-log", "-", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "listening on" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        assert "listening on http://127.0.0.1:" in line, line
        base = line.split("listening on ")[1].split("/ ")[0].rstrip("/")
        r = httpx.post(
            base + "/v1/evaluate", json={"record": fixture("annual-pending"), "on": "2025-09-10"}, timeout=TIMEOUT
        )
        assert r.status_code == 200
        logged = json.loads(proc.stdout.readline())  # the decision log on stdout
        assert logged["decision_id"] == r.headers["x-decision-id"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == (130 if workers == 1 else 0)  # one process: interrupted, as every verb says
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


# --------------------------------------------------------------------------------------------- --watch


def _wait(predicate: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_watch_reloads_a_good_edit_and_keeps_serving_through_a_broken_one(tmp_path: Path) -> None:
    policy = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policy)
    manifest = policy / "xueji.yaml"
    text = manifest.read_text(encoding="utf-8")
    record = fixture("annual-pending")
    app = create_app(str(policy), watch=True, poll=0.2)
    with Background(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as c:

        def due() -> str:
            body = c.post("/v1/evaluate", json={"record": record, "on": "2025-09-10"}).json()
            return next(
                f["due"]
                for f in body["findings"]
                if f["rule"] == "art11.annual_registration" and f["subject"] == "academic_years[2]"
            )

        first = c.get("/healthz").json()["policy"]["hash"]
        assert due() == "2025-09-15"
        manifest.write_text(text.replace("2021-11-01: 2 weeks", "2021-11-01: 3 weeks", 1), encoding="utf-8")
        assert _wait(lambda: c.get("/healthz").json()["policy"]["hash"] != first)
        assert due() == "2025-09-22"
        good = c.get("/healthz").json()
        assert good["reload"] is None
        manifest.write_text(text.replace("2021-11-01: 2 weeks", "2021-11-01: 2 fortnights", 1), encoding="utf-8")
        assert _wait(lambda: c.get("/healthz").json()["reload"] is not None)
        health = c.get("/healthz").json()
        assert health["policy"]["hash"] == good["policy"]["hash"]  # the last good set still serves
        diag = health["reload"]["diagnostics"][0]
        assert diag["severity"] == "error" and diag["file"] == "xueji.yaml" and diag["line"] > 1
        assert due() == "2025-09-22"
        manifest.write_text(text, encoding="utf-8")
        assert _wait(lambda: c.get("/healthz").json()["policy"]["hash"] == first)
        assert c.get("/healthz").json()["reload"] is None and due() == "2025-09-15"


# ------------------------------------------------------------------------------------------- schemathesis

OPERATIONS = [
    ("POST", "/v1/evaluate"),
    ("POST", "/v1/batch"),
    ("POST", "/v1/deadlines"),
    ("POST", "/v1/lint"),
    ("POST", "/v1/playground"),
    ("GET", "/v1/policy"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_schemathesis_finds_no_5xx_and_only_problem_json_errors(url: str, method: str, path: str, mode: str) -> None:
    """The OpenAPI description fuzzed: 30 examples per operation and mode, 60 s at most each."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    if method == "GET" and mode == "negative":
        pytest.skip("a GET without parameters has nothing to break")

    @schemathesis.serializer("application/x-ndjson")
    def _ndjson(ctx: Any, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        return value.encode() if isinstance(value, str) else json.dumps(value).encode() + b"\n"

    schema = schemathesis.openapi.from_url(url + "/openapi.json", timeout=30)
    operation = schema[path][method]
    began = time.monotonic()
    seen: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if time.monotonic() - began > 60:
            return
        r = case.call(base_url=url, timeout=30)
        seen.add(r.status_code)
        assert r.status_code < 500, (r.status_code, r.text[:500])
        if r.status_code >= 400:
            ct = r.headers.get("content-type", [""])
            ct = ct[0] if isinstance(ct, list) else ct
            assert ct.startswith("application/problem+json"), (r.status_code, ct, r.text[:300])

    run()
    assert seen
    healthy(url)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_service_serves_the_pages_with_their_policy(client: httpx.Client, lang: str) -> None:
    """/, /check and /playground are the pages of engine/faces/pages.py, each with its own
    Content-Security-Policy; no token is needed to read them (their scripts send it to /v1/)."""
    from engine.faces import pages

    for path, which in (("/", "measures"), ("/check", "check"), ("/playground", "playground")):
        r = client.get(path, params={"lang": lang}, timeout=120)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == pages.content_security_policy(which)  # type: ignore[arg-type]
        assert f'lang="{lang}"' in r.text or f"lang={lang}" in r.text
    assert 'id="art-11"' in client.get("/", timeout=120).text
