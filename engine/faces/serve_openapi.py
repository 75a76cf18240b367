"""The decision service's OpenAPI 3.1 description and its offline docs page.

The component schemas ``Record`` and ``Decision`` ARE the JSON Schemas ``xueji schema record|decision``
prints (one generator each: :mod:`engine.sources.recordschema`, :mod:`engine.run.decisionschema`);
this module only lays the operations around them. The docs page is a small hand-written HTML page
that reads ``/openapi.json`` and offers a "try it" form per operation: no CDN, no vendored UI.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.run.decisionschema import finding_schema

_DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_MSG = {
    "type": "object",
    "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
    "required": ["zh", "en"],
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "problem",
    "description": "RFC 9457 problem details. A bad record lists every problem with its field path in `errors`.",
    "properties": {
        "type": {"type": "string", "description": "urn:xueji:problem:<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": _MSG},
                "required": ["path", "message"],
            },
        },
        "id": {"type": "string", "description": "an internal error's id, as the server's log names it"},
        "limit": {"type": "number", "description": "the limit that was passed"},
    },
    "required": ["type", "title", "status", "detail"],
}

DIAGNOSTIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "diagnostic",
    "description": "A problem in a policy file, at its line and column (1-based; end exclusive).",
    "properties": {
        "code": {"type": "string"},
        "severity": {"type": "string", "enum": ["error", "warning", "info"]},
        "message": _MSG,
        "hint": {"anyOf": [_MSG, {"type": "null"}]},
        "file": {"type": "string", "description": "relative to the policy set's directory"},
        "line": {"type": "integer"},
        "col": {"type": "integer"},
        "end_line": {"type": "integer"},
        "end_col": {"type": "integer"},
    },
    "required": ["code", "severity", "message", "hint"],
}

_FILES = {
    "type": "object",
    "description": "texts that stand in for the server's policy files, by path relative to the policy set's "
    "directory (e.g. 2021/ch3-annual-registration.yaml); files not given are read from disk",
    "additionalProperties": {"type": "string"},
    "maxProperties": 200,
}


_ANY_JSON = {"application/json": {"schema": {"type": "object"}}}
_STRING = {"schema": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "the body is not valid JSON",
        401: "a token is configured and the request did not send it (Authorization: Bearer TOKEN)",
        408: "the body did not arrive within the time limit",
        413: "the body is over the size limit",
        415: "the body is not of the media type the operation takes",
        422: "the body, or the record in it, is not as described (every problem with its path)",
        503: "the request took longer than the time limit",
    }
    problem = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}
    out = {str(c): {"description": words[c], **problem} for c in codes}
    out["500"] = {"description": "an internal error (a bug): a problem with an id", **problem}
    return out


def openapi(record: dict[str, Any], decision: dict[str, Any], version: str, example: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 description; ``record`` and ``decision`` are the JSON Schemas, used as they are."""
    record, decision = copy.deepcopy(record), copy.deepcopy(decision)
    on_example = "2024-11-15"
    judged = {"record": example, "on": on_example}
    body_errors = (400, 401, 408, 413, 415, 422, 503)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Xueji decision service",
            "version": version,
            "description": "Judges student records under the university's measures (学籍学历电子注册管理办法). "
            "Every error is application/problem+json. With a token configured, every /v1/ call needs "
            "Authorization: Bearer TOKEN.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "components": {
            "schemas": {
                "Record": record,
                "Decision": decision,
                "Finding": finding_schema(),
                "Problem": PROBLEM_SCHEMA,
                "Diagnostic": DIAGNOSTIC_SCHEMA,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/evaluate": {
                "post": {
                    "operationId": "evaluate",
                    "summary": "Judge one student record",
                    "description": "The decision exactly as engine.evaluate(record, on=on).to_dict(), plus on_used "
                    "(the day judged: on, else the server's local date). With explain, each finding also has "
                    "its explanation (as xueji eval --format json --explain).",
                    "security": [{}, {"bearer": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "properties": {
                                "record": _ref("Record"),
                                "on": {**_DATE, "type": ["string", "null"]},
                                "explain": {"type": "boolean", "default": False},
                            },
                            "required": ["record"],
                            "additionalProperties": False,
                        },
                        judged,
                    ),
                    "responses": {
                        "200": {
                            "description": "the decision",
                            "headers": {"X-Decision-Id": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "allOf": [
                                            _ref("Decision"),
                                            {"properties": {"on_used": _DATE}, "required": ["on_used"]},
                                        ]
                                    }
                                }
                            },
                        },
                        **_errors(*body_errors),
                    },
                }
            },
            "/v1/batch": {
                "post": {
                    "operationId": "batch",
                    "summary": "Judge many records: NDJSON in, NDJSON out, streamed both ways",
                    "description": 'One JSON record per line. Each answer line is {"line": n, ...decision} or '
                    '{"line": n, "error": problem} for a line that is not valid JSON or not a valid record; '
                    "the other lines are judged. A batch that passes a limit mid-way ends with an error line. "
                    "Send the body and read the answer at the same time (the answer streams while the body "
                    "arrives).",
                    "security": [{}, {"bearer": []}],
                    "parameters": [
                        {
                            "name": "on",
                            "in": "query",
                            "required": False,
                            "schema": _DATE,
                            "description": "the day judged (default: the server's local date)",
                        },
                        {
                            "name": "view",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["full", "compact"]},
                            "description": "full (default): each line the whole decision; compact: as "
                            "xueji eval --batch writes by default, each article's worst outcome and only the "
                            "findings that are not satisfied or not applicable",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "one JSON line per input record, in input order",
                            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                        },
                        **_errors(401, 413, 415, 422),
                    },
                }
            },
            "/v1/deadlines": {
                "post": {
                    "operationId": "deadlines",
                    "summary": "A student's overdue, upcoming and undecidable deadlines",
                    "description": "As xueji deadlines --format json (a list of findings), or an iCalendar file with "
                    "Accept: text/calendar (as --format ics).",
                    "security": [{}, {"bearer": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "properties": {
                                "record": _ref("Record"),
                                "on": {**_DATE, "type": ["string", "null"]},
                                "lang": {"type": "string", "enum": ["zh", "en"], "default": "zh"},
                            },
                            "required": ["record"],
                            "additionalProperties": False,
                        },
                        judged,
                    ),
                    "responses": {
                        "200": {
                            "description": "the deadlines, by due date",
                            "content": {
                                "application/json": {"schema": {"type": "array", "items": _ref("Finding")}},
                                "text/calendar": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(*body_errors),
                    },
                }
            },
            "/v1/lint": {
                "post": {
                    "operationId": "lint",
                    "summary": "Check policy files: diagnostics with line and column",
                    "security": [{}, {"bearer": []}],
                    "requestBody": _json_body(
                        {"type": "object", "properties": {"files": _FILES}, "additionalProperties": False},
                        {"files": {}},
                    ),
                    "responses": {
                        "200": {
                            "description": "every diagnostic of the policy set, the given texts standing in",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"diagnostics": {"type": "array", "items": _ref("Diagnostic")}},
                                        "required": ["diagnostics"],
                                    }
                                }
                            },
                        },
                        **_errors(*body_errors),
                    },
                }
            },
            "/v1/playground": {
                "post": {
                    "operationId": "playground",
                    "summary": "Edit rules and judge a record with them",
                    "description": "Loads the policy set with the given texts standing in; when it has no error, "
                    "judges the record with it.",
                    "security": [{}, {"bearer": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "properties": {
                                "files": _FILES,
                                "record": _ref("Record"),
                                "on": {**_DATE, "type": ["string", "null"]},
                            },
                            "required": ["record"],
                            "additionalProperties": False,
                        },
                        {"files": {}, **judged},
                    ),
                    "responses": {
                        "200": {
                            "description": "the diagnostics, and the decision (null when the set has errors)",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "diagnostics": {"type": "array", "items": _ref("Diagnostic")},
                                            "decision": {"anyOf": [_ref("Decision"), {"type": "null"}]},
                                            "on_used": _DATE,
                                        },
                                        "required": ["diagnostics", "decision"],
                                    }
                                }
                            },
                        },
                        **_errors(*body_errors),
                    },
                }
            },
            "/v1/policy": {
                "get": {
                    "operationId": "policy",
                    "summary": "The measures: articles with their text, rules, versions, parameters, the hash",
                    "security": [{}, {"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "the policy set",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(401),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "ok, the policy hash, and the diagnostics of a --watch reload that failed",
                    "responses": {
                        "200": {
                            "description": "serving",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus text: requests, latency histogram, findings by article and outcome",
                    "responses": {
                        "200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
                    },
                }
            },
        },
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Xueji decision service</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.1rem;margin:0} code,textarea,pre{font:13px/1.4 ui-monospace,monospace}
section{border:1px solid #ccc;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:3.5rem;font-weight:bold} .post{color:#2a6} .get{color:#26a}
textarea{width:100%;height:9rem;box-sizing:border-box}
pre{background:#f6f6f6;padding:.6rem;overflow:auto;max-height:24rem}
button{margin:.4rem 0} .d{color:#555;margin:.3rem 0}
</style></head><body>
<h1>Xueji 学籍 — decision service</h1>
<p>The operations of <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1); the record and decision schemas are
its components <code>Record</code> and <code>Decision</code>. Errors are <code>application/problem+json</code>.</p>
<p><label>Token (only if the service has one): <input id="token" type="password" size="30"></label></p>
<div id="ops">Loading /openapi.json…</div>
<script>
"use strict";
const tokenBox = document.getElementById("token");
tokenBox.value = sessionStorage.getItem("xueji-token") || "";
tokenBox.addEventListener("change", () => sessionStorage.setItem("xueji-token", tokenBox.value));
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}
async function tryIt(path, method, type, box, out, query) {
  const headers = {};
  if (tokenBox.value) headers["Authorization"] = "Bearer " + tokenBox.value;
  const init = {method, headers};
  if (method === "POST") { headers["Content-Type"] = type; init.body = box.value; }
  out.textContent = "…";
  try {
    const r = await fetch(path + (query && query.value ? "?on=" + encodeURIComponent(query.value) : ""), init);
    const text = await r.text();
    let shown = text;
    const json = (r.headers.get("content-type") || "").includes("json") && !type.includes("ndjson");
    try { if (json) shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
    out.textContent = r.status + " " + (r.headers.get("content-type") || "") + "\\n\\n" + shown;
  } catch (e) { out.textContent = String(e); }
}
fetch("/openapi.json").then(r => r.json()).then(doc => {
  const ops = document.getElementById("ops");
  ops.textContent = "";
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const m = method.toUpperCase();
      const sec = el("section", {}, el("h2", {}, el("span", {class: "m " + method}, m), el("code", {}, path)),
                     el("div", {class: "d"}, op.summary || ""));
      if (op.description) sec.append(el("div", {class: "d"}, op.description));
      let box = null, query = null, type = "application/json";
      const content = op.requestBody && op.requestBody.content;
      if (content) {
        type = Object.keys(content)[0];
        const ex = content[type].example;
        box = el("textarea", {"aria-label": "request body"});
        box.value = type.includes("ndjson") ? "" : JSON.stringify(ex === undefined ? {} : ex, null, 2);
        sec.append(box);
      }
      if (path === "/v1/batch") {
        query = el("input", {placeholder: "on (YYYY-MM-DD)", size: "16"});
        sec.append(el("div", {}, "on: ", query));
        const ev = doc.paths["/v1/evaluate"].post.requestBody.content["application/json"].example;
        if (box && ev) box.value = JSON.stringify(ev.record) + "\\n" + JSON.stringify(ev.record) + "\\n";
      }
      const out = el("pre", {});
      const button = el("button", {type: "button"}, "Try it");
      button.addEventListener("click", () => tryIt(path, m, type, box || {value: ""}, out, query));
      sec.append(button, out);
      ops.append(sec);
    }
  }
}).catch(e => { document.getElementById("ops").textContent = "Could not read /openapi.json: " + e; });
</script>
</body></html>
"""
