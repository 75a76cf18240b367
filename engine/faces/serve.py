"""``xueji serve``: the decision service — the engine over HTTP, for systems that do not run Python.

A face like the command line: it reads requests, asks the engine and renders JSON; it decides nothing
itself. Built on Starlette and uvicorn (the ``serve`` extra): ASGI, small, and it streams request and
response bodies (``/v1/batch`` reads NDJSON line by line and answers line by line); the record and
decision shapes come from the engine's own JSON Schemas (:mod:`engine.sources.recordschema`,
:mod:`engine.run.decisionschema`), so there is no second model layer to keep in step.

:func:`create_app` builds the application (tests run it in-process or under uvicorn); :func:`run` serves
it. Every error is RFC 9457 ``application/problem+json``; an internal error is a 500 problem with an
id, its traceback logged only under ``XUEJI_DEBUG=1``. Evaluation runs in worker threads, so a slow
request does not hold up the others; the policy set is swapped whole on a ``--watch`` reload.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import anyio
import anyio.to_thread
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import __version__
from engine.diagnostics import Diagnostic, FactsError, Lang, PolicyError
from engine.faces.render import decision_json
from engine.faces.serve_openapi import DOCS_HTML, openapi
from engine.lang.printer import expr as expr_text
from engine.run.decision import Decision
from engine.run.decisionschema import decision_schema
from engine.run.evaluate import as_date, deadlines, evaluate
from engine.run.pipeline import check_policy, load_policy
from engine.sources.policy import PolicySet
from engine.sources.recordschema import record_schema

PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"
#: the request bodies each endpoint takes
_JSON_TYPES = ("application/json",)
_NDJSON_TYPES = (NDJSON, "application/jsonl", "application/json-seq", "application/x-jsonlines")
#: files a policy set's hash and ``--watch`` look at, at most (a hostile directory is refused, not walked)
MAX_POLICY_FILES = 5000
#: files one /v1/lint or /v1/playground request may give
MAX_OVERRIDE_FILES = 200
#: records judged per worker-thread call in /v1/batch (fewer hops; output still streams chunk by chunk)
BATCH_CHUNK = 32

T = TypeVar("T")


@attrs.frozen
class Limits:
    """What one request may ask: body bytes (``/v1/batch``'s are streamed and have their own limit),
    records per batch, and seconds to read a body and to answer (for ``/v1/batch``: between two reads)."""

    max_body: int = 1 << 20
    max_batch_body: int = 64 << 20
    max_batch: int = 100_000
    timeout: float = 10.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): the only addresses served without a token."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------ problems


class Problem(Exception):
    """An RFC 9457 problem: the request is answered with it (``application/problem+json``)."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": f"urn:xueji:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return _json(self.to_dict(), self.status, PROBLEM, headers)


_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    408: ("request-timeout", "Request timeout"),
    413: ("too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable content"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


def http_problem(status: int, detail: str, **extra: Any) -> Problem:
    slug, title = _HTTP_TITLES.get(status, ("http-error", "HTTP error"))
    return Problem(status, slug, title, detail, **extra)


def _facts_problem(ex: FactsError) -> Problem:
    return Problem(
        422,
        "invalid-record",
        "The record does not fit the facts schema",
        f"{len(ex.problems)} problem(s) in the record; each is listed with its path",
        errors=[{"path": p.path, "message": {"zh": p.message.zh, "en": p.message.en}} for p in ex.problems],
    )


def _json(
    obj: Any, status: int = 200, media_type: str = "application/json", headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(body, status, headers=headers, media_type=media_type)


# --------------------------------------------------------------------------------------------- the policy


@attrs.frozen
class Served:
    """A loaded policy set and what the service says of it; replaced whole on a reload."""

    policy: PolicySet
    hash: str
    files: dict[str, tuple[int, int]]  # path → (mtime_ns, size) when it was loaded
    loaded_at: str


def policy_files(policy_path: str | None, policy: PolicySet | None = None) -> list[Path]:
    """The files a policy set is made of (every YAML file under its directory and those it extends),
    sorted; at most :data:`MAX_POLICY_FILES`."""
    from engine.resources import bundled_policy_dir

    roots = [Path(policy_path) if policy_path is not None else bundled_policy_dir()]
    roots += list(policy.bases) if policy is not None else []
    found: set[Path] = set()
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                found.add(path)
                if len(found) > MAX_POLICY_FILES:
                    raise ValueError(f"{root}: more than {MAX_POLICY_FILES} policy files")
    return sorted(found)


def _snapshot(files: list[Path]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        out[str(path)] = (st.st_mtime_ns, st.st_size)
    return out


def policy_hash(files: list[Path], root: Path) -> str:
    """A content hash of the policy files: their paths (relative to the set's directory) and bytes."""
    h = hashlib.sha256()
    for path in files:
        try:
            name = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            name = path.as_posix()
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        h.update(f"{len(name)}:{name}:{len(data)}:".encode())
        h.update(data)
    return "sha256:" + h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------- metrics and logs

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters in the Prometheus text format, hand-written: requests by route, method and status, a
    latency histogram by route, and the findings of the decisions by article and outcome."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = {}
        self.findings: Counter[tuple[int, str]] = Counter()
        self.decisions = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[route, method, status] += 1
            buckets = self.latency.setdefault(route, [0] * (len(_BUCKETS) + 1))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def decided(self, counts: Counter[tuple[int, str]]) -> None:
        with self.lock:
            self.decisions += 1
            self.findings.update(counts)

    def text(self, served: Served) -> str:
        with self.lock:
            out = [
                "# HELP xueji_requests_total HTTP requests by route, method and status.",
                "# TYPE xueji_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                out.append(f'xueji_requests_total{{route="{route}",method="{method}",status="{status}"}} {n}')
            out += [
                "# HELP xueji_request_seconds Time to answer a request, by route.",
                "# TYPE xueji_request_seconds histogram",
            ]
            for route, buckets in sorted(self.latency.items()):
                for bound, n in zip((*_BUCKETS, "+Inf"), buckets, strict=True):
                    out.append(f'xueji_request_seconds_bucket{{route="{route}",le="{bound}"}} {n}')
                out.append(f'xueji_request_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
                out.append(f'xueji_request_seconds_count{{route="{route}"}} {buckets[-1]}')
            out += [
                "# HELP xueji_decisions_total Decisions made (records judged).",
                "# TYPE xueji_decisions_total counter",
                f"xueji_decisions_total {self.decisions}",
                "# HELP xueji_findings_total Findings of the decisions, by article and outcome.",
                "# TYPE xueji_findings_total counter",
            ]
            for (article, outcome), n in sorted(self.findings.items()):
                out.append(f'xueji_findings_total{{article="{article}",outcome="{outcome}"}} {n}')
        out += [
            "# HELP xueji_policy_info The policy set served (value 1).",
            "# TYPE xueji_policy_info gauge",
            f'xueji_policy_info{{hash="{served.hash}",versions="{",".join(v.id for v in served.policy.versions)}"}} 1',
        ]
        return "\n".join(out) + "\n"


class DecisionLog:
    """One JSON line per decision (OPA's decision log): to a file, to stdout (``-``), to a text stream, or
    nowhere. A file or stdout gets each line in one ``write`` on a descriptor opened to append, so that
    the worker processes of ``--workers`` can share it."""

    def __init__(self, stream: IO[str] | None = None, *, fd: int | None = None, owned: bool = False) -> None:
        self.stream, self.fd, self.owned = stream, fd, owned
        self.lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.stream is not None or self.fd is not None

    @classmethod
    def open(cls, target: str | None) -> DecisionLog:
        if target is None:
            return cls()
        if target == "-":
            return cls(fd=sys.stdout.fileno())
        return cls(fd=os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640), owned=True)

    def write(self, entry: dict[str, Any]) -> None:
        if not self.enabled:
            return
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self.lock:
            if self.fd is not None:
                os.write(self.fd, line.encode("utf-8"))
            elif self.stream is not None:
                self.stream.write(line)
                self.stream.flush()

    def close(self) -> None:
        if self.owned and self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _debug() -> bool:
    return bool(os.environ.get("XUEJI_DEBUG"))


def _report_internal(eid: str, ex: BaseException) -> None:
    sys.stderr.write(f"xueji serve: internal error {eid} ({type(ex).__name__}); please report it\n")
    if _debug():
        traceback.print_exception(ex, file=sys.stderr)
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------- the service


class Service:
    """The state behind the application: the policy set served, limits, token, metrics, decision log."""

    def __init__(
        self,
        policy_path: str | None,
        *,
        token: str | None,
        limits: Limits,
        log: DecisionLog,
        watch: bool,
        log_input: bool,
        poll: float = 1.0,
    ) -> None:
        self.policy_path, self.token, self.limits, self.log = policy_path, token, limits, log
        self.watch, self.log_input, self.poll = watch, log_input, poll
        self.metrics = Metrics()
        #: loading a policy set is not thread-safe (the parser's cache is global): one load at a time
        self.load_lock = threading.Lock()
        self.current = self._load()
        #: the last --watch reload that failed (the set it left serving is ``current``)
        self.failed: dict[str, Any] | None = None
        self._failed_files: dict[str, tuple[int, int]] | None = None
        self._openapi: tuple[str, dict[str, Any]] | None = None
        self._policy_json: tuple[str, dict[str, Any]] | None = None
        self.pages_lock = threading.Lock()
        self._pages: dict[tuple[str, str, str], str] = {}
        self._coverage: tuple[str, Any] | None = None

    @property
    def root(self) -> Path:
        return self.current.policy.root

    def _load(self) -> Served:
        with self.load_lock:
            files = policy_files(self.policy_path)
            snapshot = _snapshot(files)
            policy = load_policy(self.policy_path)
            files = policy_files(self.policy_path, policy)
            return Served(policy, policy_hash(files, policy.root), snapshot | _snapshot(files), _now())

    def changed(self) -> dict[str, tuple[int, int]] | None:
        """The files' state when it differs from the set served (and from the last failed reload)."""
        try:
            now = _snapshot(policy_files(self.policy_path, self.current.policy))
        except (OSError, ValueError):
            return None
        if now == self.current.files or now == self._failed_files:
            return None
        return now

    def reload(self, snapshot: dict[str, tuple[int, int]]) -> bool:
        """Load the set again; swap it in when it loads, else keep serving the last good one and keep
        the diagnostics for /healthz. True when swapped."""
        try:
            fresh = self._load()
        except PolicyError as ex:
            self.failed = {"at": _now(), "diagnostics": [self._diag(d) for d in ex.diagnostics]}
            self._failed_files = snapshot
            sys.stderr.write(
                f"xueji serve: reload failed ({len(ex.diagnostics)} diagnostic(s)); still serving {self.current.hash}\n"
            )
            return False
        except (OSError, ValueError) as ex:
            self.failed = {"at": _now(), "diagnostics": [], "error": str(ex)}
            self._failed_files = snapshot
            return False
        self.current, self.failed, self._failed_files = fresh, None, None
        sys.stderr.write(f"xueji serve: reloaded the policy set ({fresh.hash})\n")
        return True

    def _diag(self, d: Diagnostic) -> dict[str, Any]:
        """A diagnostic as JSON, its file named relative to the policy set's directory."""
        out = d.to_dict()
        file = out.get("file")
        if isinstance(file, str):
            with contextlib.suppress(ValueError, OSError):
                out["file"] = Path(file).resolve().relative_to(self.root.resolve()).as_posix()
        return out

    def openapi(self) -> dict[str, Any]:
        served = self.current
        if self._openapi is None or self._openapi[0] != served.hash:
            doc = openapi(record_schema(served.policy.schema), decision_schema(), __version__, _example_record())
            self._openapi = (served.hash, doc)
        return self._openapi[1]

    def page(self, which: Literal["measures", "check", "playground"], lang: Lang) -> str:
        """A page of the set served, rendered once per set loaded and language."""
        from engine.faces import pages  # deferred: only a page needs the HTML renderer

        served = self.current
        key = (served.hash, which, lang)
        with self.pages_lock:
            html = self._pages.get(key)
            if html is None:
                if which == "measures":
                    if self._coverage is None or self._coverage[0] != served.hash:
                        self._coverage = (served.hash, pages.policy_coverage(served.policy))
                    html = pages.measures_page(served.policy, lang, coverage=self._coverage[1])
                elif which == "check":
                    html = pages.check_page(served.policy, lang)
                else:
                    html = pages.playground_page(served.policy, lang)
                self._pages = {k: v for k, v in self._pages.items() if k[0] == served.hash}  # older sets go
                self._pages[key] = html
        return html

    def policy_json(self) -> dict[str, Any]:
        served = self.current
        if self._policy_json is None or self._policy_json[0] != served.hash:
            self._policy_json = (served.hash, _describe(served))
        return self._policy_json[1]

    def log_decision(
        self, request: Request, served: Served, decision: Decision, started: float, record: Any, line: int | None = None
    ) -> str:
        """Count the decision's findings and write its decision-log line; its id."""
        judged = decision.judgements()
        self.metrics.decided(Counter((article, outcome.value) for article, outcome, _ in judged))
        did = str(uuid.uuid4())
        if not self.log.enabled:
            return did
        entry: dict[str, Any] = {
            "decision_id": did,
            "time": _now(),
            "path": request.url.path,
            "policy_hash": served.hash,
            "on": decision.on.isoformat(),
            "version": decision.version,
            "versions": list(decision.versions),
            "outcomes": dict(sorted(Counter(o.value for _, o, _ in judged).items())),
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if line is not None:
            entry["line"] = line
        if self.log_input:
            entry["input"] = record
        self.log.write(entry)
        return did


def _example_record() -> Any:
    from engine.resources import data_path
    from engine.sources.yamlsource import load_data

    try:
        record, _ = load_data(data_path("fixtures", "graduate-complete.yaml").read_bytes(), "graduate-complete.yaml")
    except OSError:
        return {"id": "2022010203", "name": "李明", "level": "bachelor"}
    return record


def _describe(served: Served) -> dict[str, Any]:
    """GET /v1/policy: the articles (with their text) and rules of the version in force today (else the
    latest), every version and parameter, and the hash."""
    ps = served.policy
    current = ps.version_on(dt.date.today()) or ps.versions[-1]
    articles = []
    for a in sorted(current.articles.values(), key=lambda a: a.number):
        title_zh, _, title_en = a.title.partition(" · ")
        articles.append(
            {
                "number": a.number,
                "title": a.title,
                "title_zh": title_zh.strip(),
                "title_en": title_en.strip() or None,
                "chapter": a.chapter,
                "text": a.text,
                "gloss": a.reading or None,
                "informative": a.informative,
                "rules": [r.id for r in a.rules],
            }
        )
    return {
        "name": ps.name,
        "hash": served.hash,
        "loaded_at": served.loaded_at,
        "version": current.id,
        "versions": [
            {"id": v.id, "title": v.title, "effective": v.effective.isoformat(), "previous": v.previous}
            for v in ps.versions
        ],
        "articles": articles,
        "rules": [
            {"id": r.id, "article": r.article, "kind": r.kind, "deadline": r.is_deadline, "text": r.source}
            for r in current.rules
        ],
        "parameters": [
            {
                "name": p.name,
                "doc": p.doc,
                "values": [{"from": day.isoformat(), "value": expr_text(value)} for day, value in p.values],
            }
            for p in ps.parameters.values()
        ],
    }


# ---------------------------------------------------------------------------------------------- requests


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _content_type(request: Request, allowed: tuple[str, ...]) -> None:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in allowed:
        raise http_problem(415, f"send the body as {allowed[0]} (got {given or 'no Content-Type'})")


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, refused past ``limit`` bytes (413) or ``timeout`` seconds (408)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise http_problem(413, f"the body is {declared} bytes; the limit is {limit}", limit=limit)
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout
    stream = request.stream()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise http_problem(408, f"the body was not received within {timeout:g} s")
        try:
            with anyio.fail_after(remaining):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise http_problem(408, f"the body was not received within {timeout:g} s") from None
        size += len(chunk)
        if size > limit:
            raise http_problem(413, f"the body is over the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in an object")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(data: bytes | str) -> Any:
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as ex:
        raise http_problem(400, f"the body is not valid JSON: {ex.msg} (line {ex.lineno}, column {ex.colno})") from None
    except (ValueError, RecursionError) as ex:
        raise http_problem(400, f"the body is not valid JSON: {str(ex)[:200]}") from None


async def _json_body(request: Request, keys: dict[str, bool]) -> dict[str, Any]:
    """The JSON object of the body; ``keys``: the keys it may have, True for those it must have."""
    service = _service(request)
    _content_type(request, _JSON_TYPES)
    body = _parse_json(await _read_body(request, service.limits.max_body, service.limits.timeout))
    if not isinstance(body, dict):
        raise _body_problem("", "the body must be a JSON object", "请求体应为 JSON 对象")
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise _body_problem(unknown[0], f"unknown key {unknown[0]!r}; the keys are {', '.join(keys)}", "未知的键")
    for key, required in keys.items():
        if required and key not in body:
            raise _body_problem(key, f"the body needs {key!r}", f"缺少 {key}")
    return body


def _body_problem(path: str, en: str, zh: str) -> Problem:
    return Problem(
        422,
        "invalid-request",
        "The request body is not as described",
        en,
        errors=[{"path": path, "message": {"zh": zh, "en": en}}],
    )


def _on(value: Any, path: str = "on") -> dt.date:
    """``on`` of a request: YYYY-MM-DD, or absent/null for the server's local date."""
    if value is None:
        return dt.date.today()
    if not isinstance(value, str):
        raise _body_problem(path, f"{path} must be a date written YYYY-MM-DD", f"{path} 应为日期 YYYY-MM-DD")
    try:
        return as_date(value)
    except ValueError:
        raise _body_problem(
            path, f"{path}: {value[:40]!r} is not a date (YYYY-MM-DD)", f"{path} 不是有效日期"
        ) from None


async def _in_thread(fn: Callable[[], T], timeout: float) -> T:
    """``fn()`` in a worker thread (Starlette's ``run_in_threadpool``, abandoned past ``timeout``: the
    request is answered 503 and the thread finishes on its own)."""
    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
    except TimeoutError:
        raise http_problem(503, f"the request took longer than the limit of {timeout:g} s", limit=timeout) from None


# ---------------------------------------------------------------------------------------------- endpoints


async def post_evaluate(request: Request) -> Response:
    started = time.perf_counter()
    service = _service(request)
    body = await _json_body(request, {"record": True, "on": False, "explain": False})
    on = _on(body.get("on"))
    explain = body.get("explain", False)
    if not isinstance(explain, bool):
        raise _body_problem("explain", "explain must be true or false", "explain 应为 true 或 false")
    served = service.current
    record = body["record"]

    def judge() -> tuple[Decision, dict[str, Any]]:
        try:
            decision = evaluate(record, on=on, policy=served.policy)
        except FactsError as ex:
            raise _facts_problem(ex) from None
        return decision, decision_json(decision, served.policy, record, explain=explain)

    decision, out = await _in_thread(judge, service.limits.timeout)
    did = service.log_decision(request, served, decision, started, record)
    out["on_used"] = on.isoformat()
    return _json(out, headers={"X-Decision-Id": did})


async def post_deadlines(request: Request) -> Response:
    from engine.faces.render_machine import deadlines_ics

    started = time.perf_counter()
    service = _service(request)
    body = await _json_body(request, {"record": True, "on": False, "lang": False})
    on = _on(body.get("on"))
    lang = body.get("lang", "zh")
    if lang not in ("zh", "en"):
        raise _body_problem("lang", "lang is zh or en", "lang 应为 zh 或 en")
    served = service.current
    record = body["record"]

    def judge() -> tuple[Decision, list[Any]]:
        try:
            decision = evaluate(record, on=on, policy=served.policy)
        except FactsError as ex:
            raise _facts_problem(ex) from None
        return decision, deadlines(decision, served.policy)

    decision, rows = await _in_thread(judge, service.limits.timeout)
    did = service.log_decision(request, served, decision, started, record)
    headers = {"X-Decision-Id": did}
    if "text/calendar" in request.headers.get("accept", ""):
        stamp = dt.datetime.combine(on, dt.time()).strftime("%Y%m%dT%H%M%SZ")
        name = record.get("name") if isinstance(record, dict) else None
        ics = deadlines_ics(decision, rows, lang, stamp, str(name) if name else None)
        return Response(ics.encode("utf-8"), 200, headers=headers, media_type="text/calendar")
    return _json([f.to_dict() for f in rows], headers=headers)


def _overrides(service: Service, files: Any) -> dict[Path, str]:
    """The ``files`` of a lint or playground request: relative paths inside the policy set's directory."""
    if not isinstance(files, dict):
        raise _body_problem("files", "files must be an object: relative path → file text", "files 应为对象")
    if len(files) > MAX_OVERRIDE_FILES:
        raise _body_problem("files", f"at most {MAX_OVERRIDE_FILES} files", "文件过多")
    root = service.root.resolve()
    out: dict[Path, str] = {}
    for name, text in files.items():
        where = f"files.{name}"
        if not isinstance(text, str):
            raise _body_problem(where, "a file's text must be a string", "文件内容应为字符串")
        rel = Path(name)
        if not name or rel.is_absolute() or ".." in rel.parts or "\x00" in name:
            raise _body_problem(
                where, "a file is named by its path relative to the policy set's directory", "应为相对路径"
            )
        path = (root / rel).resolve()
        if root not in path.parents:
            raise _body_problem(where, "the file is not inside the policy set's directory", "文件不在策略目录中")
        out[path] = text
    return out


def _stay_inside(service: Service, diags: list[Diagnostic], policy: PolicySet | None) -> None:
    """Refuse an answer built from files outside the served set's directories: an edited manifest may
    point ``files:``, ``schema:`` or ``extends:`` anywhere, and the diagnostics (or the rules) of what it
    read there are not the client's to see."""
    roots = [p.resolve() for p in (service.root, *service.current.policy.bases)]
    read = [Path(d.span.file) for d in diags if d.span is not None]
    if policy is not None:
        read += [f for v in policy.versions for f in v.files] + list(policy.bases)
    for path in read:
        resolved = path.resolve()
        if not any(resolved == root or root in resolved.parents for root in roots):
            raise _body_problem(
                "files",
                "the edited files make the policy set read outside its directory",
                "编辑后的文件引用了策略目录之外的文件",
            )


async def post_lint(request: Request) -> Response:
    service = _service(request)
    body = await _json_body(request, {"files": False})
    overrides = _overrides(service, body.get("files", {}))
    root = service.root

    def lint() -> list[Diagnostic]:
        with service.load_lock:
            try:
                policy, diags = check_policy(root, overrides=overrides)
            except PolicyError as ex:
                policy, diags = None, ex.diagnostics
        _stay_inside(service, diags, policy)
        return sorted(diags, key=Diagnostic.sort_key)

    diags = await _in_thread(lint, service.limits.timeout)
    return _json({"diagnostics": [service._diag(d) for d in diags]})


async def post_playground(request: Request) -> Response:
    started = time.perf_counter()
    service = _service(request)
    body = await _json_body(request, {"files": False, "record": True, "on": False})
    overrides = _overrides(service, body.get("files", {}))
    on = _on(body.get("on"))
    record = body["record"]
    root = service.root

    def play() -> tuple[list[Diagnostic], PolicySet | None, Decision | None, dict[str, Any] | None]:
        with service.load_lock:
            try:
                policy = load_policy(root, overrides=overrides)
            except PolicyError as ex:
                _stay_inside(service, ex.diagnostics, None)
                return ex.diagnostics, None, None, None
        _stay_inside(service, policy.warnings, policy)
        try:
            decision = evaluate(record, on=on, policy=policy)
        except FactsError as ex:
            raise _facts_problem(ex) from None
        return policy.warnings, policy, decision, decision.to_dict()

    diags, policy, decision, out = await _in_thread(play, service.limits.timeout)
    if decision is not None and policy is not None:
        played = Served(policy, "playground", {}, _now())
        service.log_decision(request, played, decision, started, record)
    return _json(
        {
            "diagnostics": [service._diag(d) for d in sorted(diags, key=Diagnostic.sort_key)],
            "decision": out,
            "on_used": on.isoformat(),
        }
    )


async def get_policy(request: Request) -> Response:
    return _json(_service(request).policy_json())


async def get_health(request: Request) -> Response:
    service = _service(request)
    served = service.current
    return _json(
        {
            "status": "ok",
            "version": __version__,
            "policy": {
                "name": served.policy.name,
                "hash": served.hash,
                "versions": [v.id for v in served.policy.versions],
                "loaded_at": served.loaded_at,
            },
            "watch": service.watch,
            "reload": service.failed,
        }
    )


async def get_metrics(request: Request) -> Response:
    service = _service(request)
    return Response(service.metrics.text(service.current), media_type="text/plain; version=0.0.4; charset=utf-8")


async def get_openapi(request: Request) -> Response:
    return _json(_service(request).openapi())


async def get_docs(request: Request) -> Response:
    return HTMLResponse(DOCS_HTML)


#: the pages (engine/faces/pages.py) by path: the measures beside their rules, check a student, the playground
PAGES: dict[str, Literal["measures", "check", "playground"]] = {
    "/": "measures",
    "/check": "check",
    "/playground": "playground",
}


async def get_page(request: Request) -> Response:
    """A page, in ``?lang=zh|en`` (default zh), with its Content-Security-Policy; its scripts call the
    /v1/ endpoints of this service (a token, when one is needed, is pasted into the page)."""
    from engine.faces import pages  # deferred: only a page needs the HTML renderer

    which = PAGES[request.url.path]
    lang: Lang = "en" if request.query_params.get("lang") == "en" else "zh"
    service = _service(request)
    # the measures run every policy test case once per set loaded (the coverage): not a request's budget
    html = await _in_thread(lambda: service.page(which, lang), max(service.limits.timeout, 120.0))
    headers = {"Content-Security-Policy": pages.content_security_policy(which)}
    return HTMLResponse(html, headers=headers)


# ------------------------------------------------------------------------------------------------- batch


class _Stop(Exception):
    """The batch cannot go on (its body is too large or too slow, too many records): the last line."""

    def __init__(self, line: int, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.line, self.problem = line, problem


async def _lines(request: Request, limits: Limits) -> AsyncIterator[tuple[int, bytes]]:
    """The body's lines (number, bytes), read as they arrive; never more than one line held beyond a
    chunk. Raises :class:`_Stop` past the body limit, a line over ``max_body`` or a silence of ``timeout``."""
    stream = request.stream()
    buf = b""
    total = 0
    n = 0
    while True:
        try:
            with anyio.fail_after(limits.timeout):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise _Stop(n + 1, http_problem(408, f"no data for {limits.timeout:g} s")) from None
        total += len(chunk)
        if total > limits.max_batch_body:
            raise _Stop(n + 1, http_problem(413, f"the body is over the limit of {limits.max_batch_body} bytes"))
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            n += 1
            yield n, buf[start:end]
            start = end + 1
        buf = buf[start:]
        if len(buf) > limits.max_body:
            raise _Stop(n + 1, http_problem(413, f"a line is over the limit of {limits.max_body} bytes"))
    if buf.strip():
        yield n + 1, buf


def _judge_lines(
    service: Service,
    request: Request,
    served: Served,
    on: dt.date,
    items: list[tuple[int, bytes]],
    view: str = "full",
) -> bytes:
    """One chunk of a batch judged: its output lines (``view``: the whole decision, or the compact line
    of ``xueji eval --batch``)."""
    from engine.tools.batch import compact_dict  # deferred: only a compact batch needs it

    body = (lambda d: d.to_dict()) if view == "full" else compact_dict
    out: list[str] = []
    for n, raw in items:
        started = time.perf_counter()
        try:
            record = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as ex:  # JSONDecodeError is a ValueError
            detail = (
                f"not valid JSON: {ex.msg} (column {ex.colno})"
                if isinstance(ex, json.JSONDecodeError)
                else str(ex)[:200]
            )
            problem = http_problem(400, detail)
            out.append(json.dumps({"line": n, "error": problem.to_dict()}, ensure_ascii=False))
            continue
        try:
            decision = evaluate(record, on=on, policy=served.policy)
        except FactsError as ex:
            out.append(json.dumps({"line": n, "error": _facts_problem(ex).to_dict()}, ensure_ascii=False))
            continue
        out.append(json.dumps({"line": n, **body(decision)}, ensure_ascii=False))
        service.log_decision(request, served, decision, started, record, line=n)
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


class _BatchResponse:
    """The NDJSON answer of /v1/batch, streamed while the request body is still arriving. Not
    Starlette's StreamingResponse: under ASGI < 2.4 that listens for a disconnect by reading the
    request, which would take the body's chunks from under the batch."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", NDJSON.encode())]})
        async for chunk in self.chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def post_batch(request: Request) -> Response | _BatchResponse:
    service = _service(request)
    limits = service.limits
    _content_type(request, _NDJSON_TYPES)
    on_text = request.query_params.get("on")
    on = _on(on_text, "query.on")
    view = request.query_params.get("view", "full")
    if view not in ("full", "compact"):
        raise _body_problem("query.view", "query.view must be full or compact", "query.view 应为 full 或 compact")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_batch_body:
        raise http_problem(413, f"the body is {declared} bytes; the limit is {limits.max_batch_body}")
    served = service.current

    async def answer() -> AsyncIterator[bytes]:
        items: list[tuple[int, bytes]] = []
        records = 0
        try:
            async for n, raw in _lines(request, limits):
                if not raw.strip():
                    continue
                if len(raw) > limits.max_body:  # that line only: the others are judged
                    problem = http_problem(413, f"a line is over the limit of {limits.max_body} bytes")
                    yield (json.dumps({"line": n, "error": problem.to_dict()}) + "\n").encode()
                    continue
                records += 1
                if records > limits.max_batch:
                    raise _Stop(n, http_problem(413, f"more than {limits.max_batch} records in one batch"))
                items.append((n, raw))
                if len(items) >= BATCH_CHUNK:
                    chunk, items = items, []
                    yield await anyio.to_thread.run_sync(_judge_lines, service, request, served, on, chunk, view)
        except _Stop as stop:
            if items:
                yield await anyio.to_thread.run_sync(_judge_lines, service, request, served, on, items, view)
            yield (json.dumps({"line": stop.line, "error": stop.problem.to_dict()}, ensure_ascii=False) + "\n").encode()
            return
        if items:
            yield await anyio.to_thread.run_sync(_judge_lines, service, request, served, on, items, view)

    return _BatchResponse(answer())


# ------------------------------------------------------------------------------------------- the guard


_ROUTES = (
    *PAGES,
    "/v1/evaluate",
    "/v1/batch",
    "/v1/deadlines",
    "/v1/lint",
    "/v1/playground",
    "/v1/policy",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/docs",
)


class Guard:
    """The outermost layer: the token rule, metrics, and the last line of defence — an exception that
    escapes a handler becomes a 500 problem with an id (the traceback only under ``XUEJI_DEBUG=1``)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def sending(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
            await send(message)

        path: str = scope.get("path", "")
        try:
            if self.service.token is not None and path.startswith("/v1/") and not self._authorised(scope):
                problem = http_problem(401, "this service needs Authorization: Bearer TOKEN")
                await problem.response({"WWW-Authenticate": 'Bearer realm="xueji"'})(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        except ClientDisconnect:
            status = 499  # the client went away: nothing to answer (nginx's code, for the metrics only)
        except Exception as ex:
            eid = str(uuid.uuid4())
            _report_internal(eid, ex)
            if not response_started:
                problem = Problem(
                    500, "internal", "Internal error", "an internal error; please report it with its id", id=eid
                )
                with contextlib.suppress(Exception):
                    await problem.response()(scope, receive, sending)
        finally:
            route = path if path in _ROUTES else "other"
            self.service.metrics.observe(route, scope.get("method", ""), status, time.perf_counter() - started)

    def _authorised(self, scope: Scope) -> bool:
        token = self.service.token
        assert token is not None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return hmac.compare_digest(value, b"Bearer " + token.encode("utf-8"))
        return False


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Problem):
        return exc.response()
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    return http_problem(exc.status_code, str(exc.detail)).response(headers)


# ------------------------------------------------------------------------------------------------- the app


def create_app(
    policy_path: str | None,
    *,
    token: str | None = None,
    limits: Limits | None = None,
    log: DecisionLog | None = None,
    watch: bool = False,
    log_input: bool = False,
    poll: float = 1.0,
) -> Starlette:
    """The decision service for the policy set at ``policy_path`` (None: the bundled set), loaded now
    (a set that does not load raises its ``PolicyError``). ``token``: every /v1/ call must send it as
    ``Authorization: Bearer``. ``watch``: poll the set's files every ``poll`` seconds and reload it
    when they change."""
    service = Service(
        policy_path,
        token=token,
        limits=limits or Limits(),
        log=log or DecisionLog(),
        watch=watch,
        log_input=log_input,
        poll=poll,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            if watch:
                tg.start_soon(_watch, service)
            yield
            tg.cancel_scope.cancel()

    routes = [
        Route("/v1/evaluate", post_evaluate, methods=["POST"]),
        Route("/v1/batch", post_batch, methods=["POST"]),
        Route("/v1/deadlines", post_deadlines, methods=["POST"]),
        Route("/v1/lint", post_lint, methods=["POST"]),
        Route("/v1/playground", post_playground, methods=["POST"]),
        Route("/v1/policy", get_policy, methods=["GET"]),
        Route("/healthz", get_health, methods=["GET"]),
        Route("/metrics", get_metrics, methods=["GET"]),
        Route("/openapi.json", get_openapi, methods=["GET"]),
        Route("/docs", get_docs, methods=["GET"]),
        *(Route(path, get_page, methods=["GET"]) for path in PAGES),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Problem: _http_error},
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(Guard, service=service)
    return app


async def _watch(service: Service) -> None:
    while True:
        await anyio.sleep(service.poll)
        try:
            snapshot = await anyio.to_thread.run_sync(service.changed)
            if snapshot is not None:
                await anyio.to_thread.run_sync(service.reload, snapshot)
        except Exception as ex:  # a reload never stops the service
            _report_internal(str(uuid.uuid4()), ex)


# ------------------------------------------------------------------------------------------------- serving


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP: asyncio then sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _server(app: ASGIApp) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def run(app: ASGIApp, *, host: str, port: int) -> int:
    """Serve ``app`` with uvicorn (one process; evaluation in its worker threads) until interrupted."""
    sock = bind(host, port)
    server = _server(app)
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"xueji serve: listening on http://{shown}:{sock.getsockname()[1]}/ (docs: /docs)\n")
    sys.stderr.flush()
    server.run(sockets=[sock])
    return 0


@attrs.frozen
class Options:
    """What ``xueji serve`` was given: each worker process of ``--workers`` builds its app from it."""

    policy: str | None = None
    token: str | None = None
    limits: Limits = Limits()
    decision_log: str | None = None
    watch: bool = False
    log_input: bool = False

    def app(self, log: DecisionLog) -> Starlette:
        return create_app(
            self.policy, token=self.token, limits=self.limits, log=log, watch=self.watch, log_input=self.log_input
        )


_OPTIONS_VAR = "XUEJI_SERVE_OPTIONS"


def app_from_env() -> Starlette:
    """The app of one worker process (uvicorn's factory), from the options its parent put in the environment."""
    given = json.loads(os.environ[_OPTIONS_VAR])
    options = Options(**{**given, "limits": Limits(**given["limits"])})
    return options.app(DecisionLog.open(options.decision_log))


def run_workers(options: Options, *, host: str, port: int, workers: int) -> int:
    """Serve with ``workers`` uvicorn processes sharing one listening socket (each loads the policy set
    and keeps its own metrics; the decision log takes each one's lines whole)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    sock = bind(host, port)
    os.environ[_OPTIONS_VAR] = json.dumps(attrs.asdict(options))
    config = uvicorn.Config(
        "engine.faces.serve:app_from_env",
        factory=True,
        workers=workers,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"xueji serve: listening on http://{shown}:{sock.getsockname()[1]}/ (docs: /docs) with {workers} workers\n"
    )
    sys.stderr.flush()
    Multiprocess(config, sockets=[sock]).run()
    return 0


class Background:
    """The app served by uvicorn in a thread on a loopback port of its own: for tests and benchmarks.
    ``with Background(app) as url: ...``"""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, start_timeout: float = 20.0) -> None:
        self.sock = bind(host, port)
        self.server = _server(app)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.start_timeout = start_timeout
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
