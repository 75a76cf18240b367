"""The ``xueji`` command: renders what the engine decides; decides nothing itself.

Exit codes follow ruff/opa: 0 clean, 1 findings (violations, lint errors, failing tests), 2 usage or
input errors. No traceback reaches the user: every problem is one message naming its file:line:col or
its field path. Set ``XUEJI_DEBUG=1`` to see the traceback of an internal error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from engine import __version__
from engine.diagnostics import (
    Diagnostic,
    FactsError,
    Lang,
    Msg,
    PolicyError,
    Severity,
    XuejiError,
    date_problem,
    error,
    path_text,
    warning,
)
from engine.faces.render import (
    deadlines_text,
    decision_json,
    decision_text,
    diagnostics_text,
    explainer,
    summary_counts,
    to_json,
    versions_json,
    versions_text,
)
from engine.resources import bundled_policy_dir
from engine.run.pipeline import load_checked, load_policy
from engine.sources.loader import MANIFEST
from engine.sources.policy import PolicySet
from engine.sources.yamlsource import load_data

if TYPE_CHECKING:
    from engine.run.decision import Decision, Finding
    from engine.tools import policytest

# A verb imports what only it uses inside its function (the tools, their renderers, the machine
# formats, the explanation, the evaluator: `xueji lint` only checks), so that `xueji eval` and
# `xueji lint` start without them: each such import points down the layers (faces → tools/run) and
# is deferred for start-up time only.


EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


#: files of many records, one a line or a row: ``eval --batch`` reads them, never ``eval RECORD``
BATCH_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv", ".xlsx", ".xls")

#: ``eval --fail-on``: the outcomes that set exit 1, worst first; each choice takes those before it too
#: (the order of an article's outcome in a batch line: a breach, a question the record cannot answer,
#: an open deadline)
FAIL_ON = ("violated", "unknown", "pending")


def fails(outcomes: Iterable[str], fail_on: str) -> bool:
    """Whether any of ``outcomes`` (outcome values) is ``fail_on`` or worse (:data:`FAIL_ON`)."""
    failing = FAIL_ON[: FAIL_ON.index(fail_on) + 1]
    return any(o in failing for o in outcomes)


class UsageError(Exception):
    """A problem with how the command was called or with its input files: exit 2."""


def default_lang() -> Lang:
    """Messages follow the locale (LC_ALL, LC_MESSAGES, LANG); Chinese unless it says English."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    import locale  # deferred for start-up time: only when no variable says

    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:
        loc = ""
    return "en" if loc.lower().startswith("en") else "zh"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


EXAMPLES = """\
examples:
  xueji eval fixtures/graduate-complete.yaml --on 2023-12-01
  xueji eval - --format json < record.json
  xueji lint                      # the bundled policy set
  xueji lint --policy policies/ --format json
  xueji doc --out site/           # the measures beside their rules, as web pages
"""


def build_parser() -> argparse.ArgumentParser:
    def options(default: Any) -> _Parser:
        parent = _Parser(add_help=False)
        parent.add_argument(
            "--policy",
            metavar="PATH",
            default=default,
            help="the policy set: a directory or its xueji.yaml (default: the nearest xueji.yaml at or above the "
            "current directory, else the bundled set)",
        )
        parent.add_argument(
            "--lang", choices=["zh", "en"], default=default, help="message language (default: from the locale, else zh)"
        )
        return parent

    # The options work before or after the verb: the verb's copies only set them when given.
    top, common = options(None), options(argparse.SUPPRESS)
    p = _Parser(
        prog="xueji",
        description="Xueji 学籍 — rules engine for the CCIT student-status and credential e-registration measures.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[top],
    )
    p.add_argument("--version", action="version", version=f"xueji {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def verb(name: str, help: str, description: str, *examples: str) -> argparse.ArgumentParser:
        """A verb with the common options and an examples section in its --help."""
        epilog = "examples:\n" + "".join(f"  {e}\n" for e in examples)
        return sub.add_parser(
            name,
            help=help,
            parents=[common],
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    ev = verb(
        "eval",
        "judge student records",
        "Judge student records (JSON or YAML files, or - for stdin; a .jsonl or .csv file with --batch). "
        "Exit 0 when no finding reaches --fail-on, 1 when one does (default: a rule is violated), "
        "2 on bad input (a file that cannot be read, a record that fails the schema, a bad option).",
        "xueji eval fixtures/*.yaml --on 2024-11-15",
        "cat r.json | xueji eval - --format json",
        "xueji eval --batch students.jsonl --out decisions.jsonl --jobs 2",
        "xueji eval --batch students.csv --out decisions.jsonl --resume   # after an interrupted run",
        "xueji eval --batch students.jsonl --out decisions.jsonl --full   # every finding, messages and facts",
        "xueji eval --batch 学生.xlsx --map zh --out decisions.xlsx   # Chinese headers; a row per student",
        "xueji eval --batch xj.csv --map chsi --null 'NULL,\\N,' --out decisions.csv",
        "xueji eval --batch students.csv --out decisions.jsonl --fail-on unknown   # CI: no missing facts either",
    )
    ev.add_argument("records", nargs="*", metavar="RECORD")
    ev.add_argument("--on", metavar="DATE", help="judge as of this date (YYYY-MM-DD; default: today)")
    ev.add_argument("--format", choices=["text", "json"], default="text")
    ev.add_argument(
        "--explain",
        action="store_true",
        help="show the article text, the rule, the facts it read and the sub-condition that decided it",
    )
    ev.add_argument("--all", action="store_true", help="text: also list the articles that do not apply")
    ev.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="violated",
        help="exit 1 when a finding is this or worse, in the order violated > unknown > pending: violated "
        "(default), unknown (violated or unknown: a fact is missing), pending (also a deadline still open)",
    )
    ev.add_argument(
        "--batch",
        metavar="FILE",
        help="stream records from a .jsonl, .csv or .xlsx file (or - for JSON Lines on stdin)",
    )
    ev.add_argument(
        "--out",
        metavar="FILE",
        help="with --batch: write one JSON line per record here (- for stdout); FILE.csv or FILE.xlsx: a table, "
        "one row per student and one column per article (its worst outcome)",
    )
    _export_options(ev)
    ev.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="with --batch: worker processes (default: all cores)"
    )
    ev.add_argument(
        "--resume", action="store_true", help="with --batch: continue after the last complete line of --out"
    )
    ev.add_argument(
        "--full",
        action="store_true",
        help="with --batch: write every finding of every decision (default: compact lines, each article's "
        "outcome and only the findings that are not satisfied or not applicable)",
    )

    li = verb(
        "lint",
        "check policy files",
        "Syntax, schema and type checks of a policy set. Exit 1 on errors (and warnings with --strict).",
        "xueji lint",
        "xueji lint --policy my-policies/ --format json",
    )
    li.add_argument("paths", nargs="*", metavar="FILE", help="report only on these files of the set (default: all)")
    li.add_argument("--format", choices=["text", "json", "sarif", "github"], default="text")
    li.add_argument("--strict", action="store_true", help="fail on warnings too")

    fm = verb(
        "fmt",
        "lay out rule text canonically",
        "Rewrite the rules in policy files in the canonical layout, keeping comments and "
        "article text byte for byte. With --check, change nothing: list what would change, exit 1.",
        "xueji fmt policies/",
        "xueji fmt --check policies/2021/ch3-annual-registration.yaml",
    )
    fm.add_argument("paths", nargs="*", metavar="PATH")
    fm.add_argument("--check", action="store_true", help="only report files that would change")

    te = verb(
        "test",
        "run the policy test cases (YAML)",
        "Run the policy's YAML test cases (default: the policy's tests/ directory). Failures show "
        "expected against actual and the case's file:line. Exit 1 on a failing or broken case.",
        "xueji test",
        "xueji test policies/tests/ch3.yaml --lang en",
        "xueji test --junit report.xml          # for CI dashboards",
        "xueji test --format github             # annotations on a pull request",
    )
    te.add_argument("paths", nargs="*", metavar="PATH")
    te.add_argument(
        "--format",
        choices=["text", "json", "junit", "github"],
        default="text",
        help="text (default), json, junit (JUnit XML on stdout) or github (annotations for GitHub Actions)",
    )
    te.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    te.add_argument("--verbose", "-v", action="store_true", help="list passing cases too")

    co = verb(
        "coverage",
        "which test cases exercise each article's rules",
        "List each article with its rules and the test cases that make each rule satisfied, "
        "violated, pending... Exit 1 when a normative article has no rule, or a rule has no case making it "
        "violated or none making it satisfied.",
        "xueji coverage",
        "xueji coverage --format json --pending",
    )
    co.add_argument("paths", nargs="*", metavar="PATH", help="test case files (default: the policy's tests/)")
    co.add_argument(
        "--format",
        choices=["text", "json", "junit", "github"],
        default="text",
        help="text (default), json, junit (JUnit XML on stdout) or github (annotations for GitHub Actions)",
    )
    co.add_argument("--pending", action="store_true", help="also require a pending case for each deadline rule")

    ck = verb(
        "check",
        "check the rule set's consistency with generated records",
        "Run the consistency laws (totality, determinism, the two evaluators agree, no "
        "contradictions, invariants hold, due dates after their anchors, pending only until due, "
        "monotonicity in `on` and in the act date) over generated records. On failure print the shrunk "
        "counterexample and the rules involved; exit 1.",
        "xueji check                      # the bundled policy set, CI budget",
        "xueji check --policy my-policies/ --examples 5000   # a nightly run",
    )
    ck.add_argument("path", nargs="?", metavar="PATH", help=argparse.SUPPRESS)  # the old form of --policy
    ck.add_argument("--examples", type=int, default=100, help="records per law (default 100; nightly: 5000)")
    ck.add_argument("--seed", type=int, default=0, help="generation seed (default 0: reproducible); -1 for random")
    ck.add_argument(
        "--seconds", type=float, help="time budget: keep drawing batches of --examples records for about this long"
    )
    ck.add_argument("--law", action="append", help="run only this law (repeatable)")
    ck.add_argument("--format", choices=["text", "json"], default="text")

    dl = verb(
        "deadlines",
        "a student's overdue and upcoming deadlines",
        "List a student's overdue and upcoming deadlines, as a table or an iCalendar file; with --batch, "
        "those of every student of a .jsonl, .csv or .xlsx file in one calendar (or JSON, CSV).",
        "xueji deadlines fixtures/annual-pending.yaml --on 2025-09-10",
        "xueji deadlines record.json --format ics > deadlines.ics",
        "xueji deadlines --batch cohort.csv --map zh > cohort.ics",
        "xueji deadlines --batch cohort.jsonl --format csv > deadlines.csv",
    )
    dl.add_argument("record", nargs="?", metavar="RECORD")
    dl.add_argument("--on", metavar="DATE", help="as of this date (default: today)")
    dl.add_argument(
        "--format",
        choices=["table", "ics", "json", "csv"],
        help="table (default for one RECORD), ics (default with --batch), json or csv",
    )
    dl.add_argument("--batch", metavar="FILE", help="every student of a .jsonl, .csv or .xlsx file (- for JSON Lines)")
    _export_options(dl)

    tp = verb(
        "template",
        "write an empty export with the expected header",
        "Write an empty CSV or XLSX export whose header names every field of the record (lists with --items "
        "elements), by the mapping's headers with --map.",
        "xueji template csv > students.csv",
        "xueji template xlsx --map zh --items 5 --out 学生.xlsx",
    )
    tp.add_argument("kind", choices=["csv", "xlsx"], metavar="csv|xlsx")
    tp.add_argument("--map", metavar="NAME|FILE", help="the headers of a mapping: zh, chsi or a mapping file")
    tp.add_argument("--items", type=int, default=2, help="elements of each list (default 2)")
    tp.add_argument("--out", metavar="FILE", help="where to write (default: stdout for csv; needed for xlsx)")

    df = verb(
        "diff",
        "the impact of a revision: decisions that change between two policy sets",
        "Judge the same records under two policy sets, OLD and NEW (directories or their xueji.yaml), or "
        "under one set as it stood on --from and on --to, and count the students whose decisions change: "
        "by article, and by transition of each finding (satisfied → violated, (none) → violated for a "
        "finding only one side has, a due date that moved...), with an example of each. Exit 1 when a "
        "decision changes.",
        "xueji diff policies/ new-policies/ --records students.jsonl --on 2025-11-01",
        "xueji diff --policy policies/ --from 2025-08-31 --to 2025-09-01 --records students.csv",
        "xueji diff policies/ new-policies/ --generate 200 --format markdown   # shrunk examples",
    )
    df.add_argument(
        "old", nargs="?", metavar="OLD", help="the policy set before the revision (a directory or its xueji.yaml)"
    )
    df.add_argument("new", nargs="?", metavar="NEW", help="the policy set after the revision")
    df.add_argument("--from", dest="from_date", metavar="DATE", help="OLD is --policy as it stood on this date")
    df.add_argument("--to", dest="to_date", metavar="DATE", help="NEW is --policy as it stood on this date")
    df.add_argument("--records", metavar="FILE", help="records to judge: .jsonl or .csv (- for JSON Lines on stdin)")
    df.add_argument("--generate", type=int, metavar="N", help="judge N records generated from the facts schema")
    df.add_argument("--on", metavar="DATE", help="judge as of this date (YYYY-MM-DD; default: today)")
    df.add_argument("--seed", type=int, help="with --generate: generation seed (default 0); -1 for random")
    df.add_argument(
        "--shrink-seconds",
        type=float,
        metavar="S",
        help="with --generate: time for shrinking the examples, all transitions together (default 20)",
    )
    df.add_argument("--format", choices=["text", "json", "markdown"], default="text")

    co = verb(
        "compile",
        "show the Python source generated from the policy set",
        "Print the Python source generated from the checked policy set (one arises and one judge function "
        "per rule), and the rules left to the closures with why.",
        "xueji compile --show",
        "xueji compile --show --rule art9.annual_registration",
    )
    co.add_argument("--show", action="store_true", help="print the generated source")
    co.add_argument("--rule", metavar="ID", help="only this rule's functions (and the helpers first used by it)")

    sc = verb(
        "schema",
        "print the JSON Schema of the record or of the decision",
        "Print the JSON Schema (2020-12) of a student record (from the policy set's facts schema) or of a "
        "decision (what eval --format json writes per record and the service answers). The bundled set's are "
        "shipped in the package as schemas/record.schema.json and schemas/decision.schema.json.",
        "xueji schema record > record.schema.json",
        "xueji schema decision --policy my-policies/",
    )
    sc.add_argument("which", choices=["record", "decision"], help="record or decision")

    sv = verb(
        "serve",
        "run the decision service (HTTP, JSON)",
        "Serve the policy set over HTTP: POST /v1/evaluate, /v1/batch (NDJSON), /v1/deadlines, /v1/lint, "
        "/v1/playground; GET /v1/policy, /healthz, /metrics, /openapi.json and /docs. Binds to 127.0.0.1; "
        "another address needs --token (or XUEJI_TOKEN), which every /v1/ call must then send as "
        "Authorization: Bearer TOKEN. Needs the serve extra: pip install 'xueji[serve]'.",
        "xueji serve",
        "xueji serve --policy my-policies/ --port 8080 --watch --decision-log decisions.jsonl",
        "XUEJI_TOKEN=s3cret xueji serve --host 0.0.0.0",
    )
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port, printed)")
    sv.add_argument("--token", help="the bearer token every /v1/ call needs (default: $XUEJI_TOKEN)")
    sv.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES", help="request body limit (default 1 MiB)")
    sv.add_argument(
        "--max-batch-body",
        type=int,
        default=64 << 20,
        metavar="BYTES",
        help="/v1/batch body limit, streamed (default 64 MiB)",
    )
    sv.add_argument("--max-batch", type=int, default=100_000, metavar="N", help="records per batch (default 100000)")
    sv.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time to read a request body and to answer it (default 10; /v1/batch: between two lines)",
    )
    sv.add_argument("--decision-log", metavar="FILE", help="one JSON line per decision to FILE (- for stdout)")
    sv.add_argument("--log-input", action="store_true", help="put the input record in the decision log")
    sv.add_argument("--watch", action="store_true", help="reload the policy set when its files change")
    sv.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (default 1; each loads the policy set)"
    )

    ls = verb(
        "lsp",
        "run the language server for editors (stdio)",
        "Speak the Language Server Protocol on stdin/stdout for the policy YAML files: diagnostics as you type, "
        "hover, completion, go to definition, references, outline, formatting and quick fixes. The policy set is "
        "the nearest xueji.yaml above each opened file, else the bundled one. Needs the lsp extra: "
        "pip install 'xueji[lsp]'.",
        "xueji lsp",
        "xueji lsp --stdio   # as editors' language clients start it",
    )
    ls.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the only transport; accepted)")

    do = verb(
        "doc",
        "write the measures beside their rules as a static web site",
        "Write the policy set as static HTML pages: every article's Chinese text verbatim beside its rules, "
        "the English title and reading, the policy tests naming each rule and their coverage, the versions "
        "and the parameters by date. index.html is in --lang (default Chinese), the other language in a "
        "folder named by it (en/index.html); check.html and playground.html say how to start xueji serve, "
        "which those two pages need. No network, no external resource: open the files in any browser.",
        "xueji doc --out site/",
        "xueji doc --out site/ --lang en --policy examples/revision-2025",
    )
    do.add_argument("--out", metavar="DIR", required=True, help="the directory to write (created if missing)")
    # --lang: the messages' language unless the client says; --policy: the set of files outside any set
    return p


# ------------------------------------------------------------------------------------------------ helpers


def _export_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--map",
        metavar="NAME|FILE",
        help="CSV/XLSX input: a mapping of headers, value labels and date formats (zh, chsi, or a YAML file)",
    )
    p.add_argument(
        "--null",
        metavar="TOKENS",
        help="CSV/XLSX input: the cells that mean none, comma-separated (default: the empty cell, NULL, \\N, null)",
    )


def _parse_on(text: str | None, lang: Lang) -> dt.date | None:
    return None if text is None else _parse_date("--on", text, lang)


def _parse_date(option: str, text: str, lang: Lang) -> dt.date:
    """A date option as ``engine.evaluate`` reads ``on`` (YYYY-MM-DD only); else one message in the
    user's language naming the value and the format (or the day the calendar lacks)."""
    from engine.run.evaluate import as_date  # deferred for start-up time, as for every verb that judges

    try:
        return as_date(text)
    except ValueError:
        raise UsageError(f"{option}: {date_problem(text).get(lang)}") from None


def _resolve_policy(args: argparse.Namespace, lang: Lang) -> None:
    """One way to name a policy set, for every verb: ``--policy PATH`` (a directory or its
    ``xueji.yaml``), else the nearest ``xueji.yaml`` at or above the current directory
    (:func:`~engine.sources.discover.find_policy`, the language server's rule too), else the bundled set
    (None). Sets ``args.policy`` to the directory and ``args.policy_given`` to whether it was named."""
    given = getattr(args, "policy", None)
    args.policy_given = given is not None
    if given is not None:
        path = Path(given)
        if path.name == MANIFEST and path.is_file():
            args.policy = str(path.parent)
        elif path.is_file():
            raise UsageError(
                f"--policy: {given}: give a policy directory or its {MANIFEST} / 请给出策略目录或其 {MANIFEST}"
            )
        return
    from engine.sources.discover import find_policy

    found = find_policy(Path.cwd())
    args.policy = None if found is None else str(found)


def _deprecated(lang: Lang, old: str, new: str) -> None:
    """The old form still works for one release, with this message on stderr."""
    if lang == "zh":
        sys.stderr.write(
            f"xueji: 提示：{old} 的写法已弃用，下一版将不再支持；请写 {new}（位置参数只表示该命令的输入）\n"
        )
    else:
        sys.stderr.write(
            f"xueji: deprecated: {old} — write {new} (positional arguments are a verb's inputs); "
            "the old form goes in the next release\n"
        )


def _load_policy_arg(path: str | None) -> PolicySet:
    if path is not None and not Path(path).exists():
        raise UsageError(f"--policy: {path}: no such directory / 目录不存在")
    if path is not None and Path(path).is_dir() and not (Path(path) / MANIFEST).is_file():
        raise UsageError(f"--policy: {path}: not a policy directory (no {MANIFEST}) / 不是策略目录")
    return load_policy(path)


def read_record(name: str) -> tuple[Any, list[Diagnostic]]:
    if name == "-":
        data: bytes = sys.stdin.buffer.read()
        shown = "<stdin>"
    else:
        path = Path(name)
        if path.is_dir():
            raise UsageError(f"{name}: is a directory, not a record file / 是目录，不是记录文件")
        if not path.is_file():
            raise UsageError(f"{name}: no such file / 文件不存在")
        try:
            data = path.read_bytes()
        except OSError as ex:
            raise UsageError(f"{name}: {ex.strerror}") from None
        shown = path_text(name)  # a name that is not UTF-8 is shown escaped in diagnostics
    return load_data(data, shown)


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# ------------------------------------------------------------------------------------------------- verbs


def _input_kind(name: str) -> str:
    """How a batch input is read, by its name: ``xlsx``, ``csv`` or ``jsonl`` (stdin: JSON Lines)."""
    lower = name.lower()
    if lower.endswith((".yaml", ".yml", ".json")):
        raise UsageError(
            f"--batch {name}: a batch is a .jsonl, .csv or .xlsx file; give one record without --batch "
            "/ 批量输入应为 .jsonl、.csv 或 .xlsx 文件"
        )
    return "xlsx" if lower.endswith(".xlsx") else "csv" if lower.endswith(".csv") else "jsonl"


def _reading(args: argparse.Namespace, policy: PolicySet, kind: str, lang: Lang) -> dict[str, Any]:
    """The export options (``--map``, ``--null``) as the readers take them; a warning on stderr,
    once, lists the columns that are not read."""
    from engine.tools import exports  # deferred for start-up time: only batch input needs it

    if kind == "jsonl":
        if args.map is not None or args.null is not None:
            raise UsageError("--map and --null read CSV or XLSX input (.csv, .xlsx), not JSON Lines")
        return {}

    def warn(unknown: list[str]) -> None:
        shown = ", ".join(unknown)
        sys.stderr.write(
            f"xueji: 警告：这些列不对应记录的字段，未读取：{shown}\n"
            if lang == "zh"
            else f"xueji: warning: columns that name no field of the record, not read: {shown}\n"
        )

    mapping = exports.load_mapping(args.map, policy.schema) if args.map is not None else None
    nulls = exports.parse_nulls(args.null) if args.null is not None else exports.DEFAULT_NULLS
    return {"mapping": mapping, "nulls": nulls, "warn": warn}


def _table_format(out: str) -> str | None:
    """``--out FILE.csv`` or ``FILE.xlsx``: decisions as a table of that kind; otherwise JSON Lines."""
    lower = out.lower()
    return "xlsx" if lower.endswith(".xlsx") else "csv" if lower.endswith(".csv") else None


def _rule_articles(policy: PolicySet) -> list[int]:
    return sorted({r.article for v in policy.versions for r in v.rules})


def cmd_batch(args: argparse.Namespace, lang: Lang, on: dt.date) -> int:
    from engine.tools import batch  # deferred for start-up time: only --batch needs it

    if args.records:
        raise UsageError("give RECORD files or --batch, not both")
    if not args.out:
        raise UsageError("--batch needs --out FILE (or --out - for stdout)")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    mode: batch.Mode = "full" if args.full else "compact"
    policy = _load_policy_arg(args.policy)  # fail fast, before any worker starts
    kind = _input_kind(args.batch)
    if kind == "xlsx" and args.batch == "-":
        raise UsageError("--batch -: stdin is read as JSON Lines")
    reading = _reading(args, policy, kind, lang)
    table = _table_format(args.out)
    if table is not None:
        if args.resume:
            raise UsageError("--resume continues JSON Lines output; a table (.csv, .xlsx) is written whole")
        if args.full:
            raise UsageError("--full writes JSON Lines; a table (.csv, .xlsx) holds each article's outcome")
        return _batch_table(args, lang, on, policy, kind, reading, table)
    start = 1
    # a regular file (through a symlink too) is written as FILE.part and renamed; a device or pipe
    # (/dev/null, a FIFO) or stdout is written directly, never replaced
    target = os.path.realpath(args.out) if args.out != "-" else "-"
    direct = target == "-" or (os.path.exists(target) and not os.path.isfile(target))
    if direct and args.resume:
        raise UsageError(f"--resume needs --out to be a regular file, not {args.out}")
    part = batch.part_path(target)
    identity = batch.run_identity(args.batch, on, args.policy, mode)
    # A run writes FILE.part and renames it to FILE when it ends, so FILE is never half-written;
    # a run that was killed leaves FILE.part, which --resume continues.
    if args.resume and not direct:
        ended = not os.path.exists(part) and os.path.exists(target)  # a run that ended: FILE only
        why = batch.same_run(part, identity, target if ended else part)
        if why is not None:
            raise UsageError(f"--resume: {args.out} was written by another run ({why}) / 不是同一次运行")
        if ended:
            os.replace(target, part)
        last_line = batch.resume_point(part)
        start = last_line + 1
        sys.stderr.write(f"resuming after input line {last_line}\n")
    source, stream = _open_batch(args.batch, kind, policy, start, reading)
    if target == "-":
        fd = sys.stdout.fileno()
    else:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if args.resume else os.O_TRUNC)
        try:
            fd = os.open(target if direct else part, os.O_WRONLY if direct else flags, 0o644)
            if not direct:
                batch.remember_run(part, identity)
        except OSError as ex:
            if stream is not None:
                stream.close()
            raise UsageError(f"--out {args.out}: {ex.strerror}") from None
    tty = sys.stderr.isatty()
    began = batch.clock()
    try:
        try:
            summary = batch.run_batch(
                source,
                fd,
                on=on,
                policy_path=args.policy,
                jobs=args.jobs,
                mode=mode,
                progress=_progress(began) if tty else None,
                out_name=part if not direct else "standard output" if args.out == "-" else args.out,
            )
        finally:
            if stream is not None:
                stream.close()
            if target != "-":
                os.close(fd)
        if not direct:
            batch.commit(part, target)
    except BaseException as ex:
        # a run that failed (a full disk, a worker killed) leaves FILE.part as a killed run does,
        # complete lines only, for --resume: FILE is never the output of a run that failed
        if direct or not os.path.exists(part):
            raise
        last = batch.resume_point(part)
        if not isinstance(ex, batch.BatchError):
            raise
        raise batch.BatchError(
            f"{ex}\n  {part} keeps the output up to input line {last}; continue with --resume once fixed"
            f" / 已保留到输入第 {last} 行，排除故障后用 --resume 继续"
        ) from None
    if tty:
        sys.stderr.write("\n")
    if args.resume and not direct and not summary.interrupted:
        summary = batch.summarize(target)  # the whole output, not only the part this run added
    return _batch_end(summary, lang, began, args.fail_on)


def _progress(began: float) -> Callable[[Any], None]:
    from engine.tools import batch

    def progress(summary: batch.Summary) -> None:
        rate = summary.records / max(batch.clock() - began, 1e-6)
        sys.stderr.write(f"\r{summary.records} records  {rate:,.0f}/s  line {summary.last_line}  ")
        sys.stderr.flush()

    return progress


def _batch_end(summary: Any, lang: Lang, began: float, fail_on: str) -> int:
    from engine.tools import batch

    sys.stderr.write(batch.summary_text(summary, lang, batch.clock() - began) + "\n")
    if summary.interrupted:
        return 130
    if summary.errors:
        return EXIT_USAGE
    # the summary counts each article's worst outcome, the output's own: a finding at or above
    # --fail-on makes its article's outcome at or above it too
    return EXIT_FINDINGS if fails((o for (_, o), c in summary.counts.items() if c), fail_on) else EXIT_OK


def _open_batch(name: str, kind: str, policy: PolicySet, start: int, reading: dict[str, Any]) -> tuple[Any, Any]:
    """The batch source (header checked now, before any output is written) and the stream to close."""
    from engine.tools import batch

    if kind == "xlsx":
        if not Path(name).is_file():
            raise UsageError(f"{name}: no such file / 文件不存在")
        return batch.open_table(name, policy.schema, start, **reading), None
    stream = batch.open_input(name)
    try:
        return batch.open_source(stream, policy.schema, is_csv=kind == "csv", start_line=start, **reading), stream
    except BaseException:
        stream.close()
        raise


def _batch_table(
    args: argparse.Namespace, lang: Lang, on: dt.date, policy: PolicySet, kind: str, reading: dict[str, Any], fmt: str
) -> int:
    """``--out FILE.csv|FILE.xlsx``: the batch as JSON lines in a temporary file beside FILE, then the
    table (one row per student, one column per article) written to FILE.part and renamed to FILE."""
    import tempfile

    from engine.tools import batch, exports

    target = "-" if args.out == "-" else os.path.realpath(args.out)
    if target == "-" and fmt == "xlsx":
        raise UsageError("--out -: an .xlsx table is written to a file")
    source, stream = _open_batch(args.batch, kind, policy, 1, reading)
    folder = os.path.dirname(target) if target != "-" else None
    try:
        fd, temp = tempfile.mkstemp(prefix=".xueji-", suffix=".jsonl", dir=folder)
    except OSError as ex:
        if stream is not None:
            stream.close()
        raise UsageError(f"--out {args.out}: {ex.strerror}") from None
    began = batch.clock()
    try:
        try:
            summary = batch.run_batch(
                source,
                fd,
                on=on,
                policy_path=args.policy,
                jobs=args.jobs,
                progress=_progress(began) if sys.stderr.isatty() else None,
            )
        finally:
            os.close(fd)
            if stream is not None:
                stream.close()
        articles = _rule_articles(policy)
        if target == "-":
            exports.write_table(temp, "-", fmt, articles, lang, stream=sys.stdout)
        else:
            part = target + ".part"
            try:
                exports.write_table(temp, part, fmt, articles, lang)
            except OSError as ex:
                raise UsageError(f"--out {args.out}: {ex.strerror}") from None
            os.replace(part, target)
    finally:
        os.remove(temp)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    return _batch_end(summary, lang, began, args.fail_on)


def cmd_eval(args: argparse.Namespace, lang: Lang) -> int:
    from engine.run.evaluate import evaluate

    on = _parse_on(args.on, lang) or dt.date.today()
    if args.batch:
        return cmd_batch(args, lang, on)
    if not args.records:
        raise UsageError("give one or more RECORD files (or - for stdin), or --batch FILE")
    for name in args.records:  # a file of many records is judged by --batch, not read as one record
        if name.lower().endswith(BATCH_SUFFIXES):
            raise UsageError(
                f"{name}: a file of many records: judge it with --batch {name} --out decisions.jsonl"
                if lang == "en"
                else f"{name}：这是多条记录的文件，请用 --batch {name} --out decisions.jsonl 判断"
            )
    policy = _load_policy_arg(args.policy)
    results: list[dict[str, Any]] = []
    texts: list[str] = []
    decisions: list[Decision] = []
    bad_input = False
    for name in args.records:
        record, diags = read_record(name)
        errors = [d for d in diags if d.severity is Severity.ERROR]
        if errors:
            bad_input = True
            sys.stderr.write(diagnostics_text(errors, lang) + "\n")
            if any(d.code == "yaml-json-syntax" and d.message.en.endswith(": Extra data") for d in errors):
                sys.stderr.write(  # a second JSON value after the first: one record a line
                    f"xueji: {name}: more than one JSON value, as in JSON Lines: judge one record a line with "
                    f"--batch {name} --out decisions.jsonl\n"
                    if lang == "en"
                    else f"xueji: {name}：不止一个 JSON 值，像是每行一条记录（JSON Lines）：请用 --batch {name} "
                    "--out decisions.jsonl 判断\n"
                )
            results.append({"file": name, "error": [d.to_dict() for d in errors]})
            continue
        try:
            decision = evaluate(record, on=on, policy=policy)
        except FactsError as ex:
            bad_input = True
            for p in ex.problems:
                sys.stderr.write(f"{name}: {p.path or '<record>'}: {p.message.get(lang)}\n")
            results.append({"file": name, "error": [p.to_dict() for p in ex.problems]})
            continue
        decisions.append(decision)
        if args.format == "json":
            results.append({"file": name, **decision_json(decision, policy, record, explain=args.explain)})
            continue
        explain = explainer(policy, record, decision.on) if args.explain else None
        name_fact = record.get("name") if isinstance(record, dict) else None
        shown = str(name_fact) if name_fact else None
        texts.append(decision_text(decision, policy, lang, name=shown, explain=explain, show_all=args.all))
    if args.format == "json":
        _print(to_json(results))  # always a list, one entry per RECORD, whatever the shell glob matched
    else:
        if texts:  # bad input alone prints its errors on stderr and nothing here
            _print("\n\n".join(texts))
    if bad_input:
        return EXIT_USAGE
    counts = summary_counts(decisions)
    return EXIT_FINDINGS if fails((o.value for o, c in counts.items() if c), args.fail_on) else EXIT_OK


def lint_policies(paths: Sequence[str]) -> tuple[list[Diagnostic], list[PolicySet]]:
    """Every diagnostic of the policy sets at ``paths`` (errors and warnings), and the sets that loaded."""
    out: list[Diagnostic] = []
    loaded: list[PolicySet] = []
    for path in paths or [None]:  # type: ignore[list-item]
        root, only = _policy_root(path)
        try:
            ps = load_checked(root)  # lint judges no record: checked, not compiled
        except PolicyError as ex:
            found = ex.diagnostics
        else:
            found = [*ps.warnings, *_untested(ps)]
            loaded.append(ps)
        # a single file: that file's diagnostics (and any that belong to no file)
        out.extend(d for d in found if only is None or d.span is None or Path(d.span.file).resolve() == only)
    return out, loaded


def _untested(ps: PolicySet) -> list[Diagnostic]:
    """An error for each test case that cannot run, and a warning for each rule that no test case
    of the policy set exercises (when it has cases)."""
    from engine.tools import casefiles  # deferred for start-up time: the cases' summary, cached

    paths = [p for p in casefiles.default_case_paths(ps) if p.exists()]
    if not paths:
        return []
    cases = casefiles.summary(paths)
    broken = [
        error(
            "test-case-invalid",
            span,
            "测试用例无法运行：" + "；".join(m.zh for m in problems),
            "the test case cannot run: " + "; ".join(m.en for m in problems),
            hint=Msg(
                "按提示改正用例；xueji test 会给出详情",
                "correct the case as the message says; xueji test shows the details",
            ),
        )
        for span, problems in cases.broken
    ]
    return broken + [
        warning(
            "rule-untested",
            r.span,
            f"没有测试用例检验规则 {r.id}",
            f"no test case exercises the rule {r.id}",
            hint=Msg(
                f"在 {paths[0]} 中为它写一个违反的用例和一个符合的用例",
                f"write a case in {paths[0]} that violates it and one that satisfies it",
            ),
        )
        for r in casefiles.untested_rules(ps, cases)
    ]


def _policy_root(path: str | None) -> tuple[Path | None, Path | None]:
    """The policy directory to load for ``path``, and the one file to report on (if a file was given)."""
    if path is None:
        return None, None
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file or directory / 文件或目录不存在")
    if p.is_dir():
        if not (p / MANIFEST).is_file():
            raise UsageError(f"{path}: not a policy directory (no {MANIFEST}) / 不是策略目录（缺少 {MANIFEST}）")
        return p, None
    for parent in p.resolve().parents:  # a file: the policy set it belongs to
        if (parent / MANIFEST).is_file():
            return parent, p.resolve()
    raise UsageError(f"{path}: not inside a policy directory (no {MANIFEST} above it) / 不在策略目录中")


def cmd_lint(args: argparse.Namespace, lang: Lang) -> int:
    # FILE...: report on those files of the set they belong to; --policy PATH: the set (default: the
    # nearest above the current directory, else the bundled one); a directory is the old form of --policy
    if any(Path(p).is_dir() for p in args.paths):
        _deprecated(lang, "xueji lint DIR", "xueji lint --policy DIR")
    diags, loaded = lint_policies(args.paths or ([args.policy] if args.policy else []))
    if args.format == "json":
        versions = [v for ps in loaded for v in versions_json(ps)]
        _print(to_json({"diagnostics": [d.to_dict() for d in diags], "versions": versions}))
    elif args.format == "sarif":
        from engine.faces.render_machine import diagnostics_sarif  # deferred for start-up time

        _print(to_json(diagnostics_sarif(diags, lang, __version__)))
    elif args.format == "github":
        from engine.faces.render_machine import diagnostics_github  # deferred for start-up time

        if diags:
            _print(diagnostics_github(diags, lang))
    else:
        # a set of several versions: what each changes, before the diagnostics
        revised = [versions_text(ps, lang) for ps in loaded if len(ps.versions) > 1]
        if revised:
            _print("\n".join(revised) + ("\n\n" if diags else ""))
        if diags:
            _print(diagnostics_text(diags, lang))
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = len(diags) - errors
    if args.format == "text":
        sys.stderr.write(
            f"{errors} 个错误，{warnings} 个警告\n" if lang == "zh" else f"{errors} error(s), {warnings} warning(s)\n"
        )
    if errors or (args.strict and warnings):
        return EXIT_FINDINGS
    return EXIT_OK


def _policy_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for p in paths or [str(bundled_policy_dir())]:
        path = Path(p)
        if path.is_dir():
            files += sorted(f for f in path.rglob("*.yaml") if f.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{p}: no such file or directory / 文件或目录不存在")
    return files


def cmd_fmt(args: argparse.Namespace, lang: Lang) -> int:
    import difflib  # deferred for start-up time, like the formatter

    from engine.tools.fmt import format_file

    changed = unreadable = 0
    for path in _policy_files(args.paths or ([args.policy] if args.policy else [])):
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as ex:
            raise UsageError(f"{path}: {ex}") from None
        new, notes, problems = format_file(text, str(path))
        for note in notes:
            sys.stderr.write(f"{note}\n")
        if problems:  # not valid YAML: nothing could be checked or formatted
            sys.stderr.write(diagnostics_text(problems, lang) + "\n")
            unreadable += 1
            continue
        if new == text:
            continue
        changed += 1
        if args.check:
            diff = difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"{path}", f"{path} (formatted)")
            sys.stdout.write("".join(diff))
        else:
            path.write_text(new, encoding="utf-8", newline="")
            _print(f"formatted {path}" if lang == "en" else f"已格式化 {path}")
    if unreadable:
        return EXIT_FINDINGS
    if args.check and changed:
        sys.stderr.write(
            f"{changed} file(s) would be reformatted\n" if lang == "en" else f"{changed} 个文件需要格式化\n"
        )
        return EXIT_FINDINGS
    return EXIT_OK


def _judge_one(name: str, on: dt.date, policy: PolicySet, lang: Lang) -> tuple[Decision, str | None]:
    """Read and judge one record: the decision and the student's name; bad input is a UsageError
    naming the file and every problem."""
    from engine.run.evaluate import evaluate

    record, diags = read_record(name)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors:
        raise UsageError("\n" + diagnostics_text(errors, lang))
    student = record.get("name") if isinstance(record, dict) else None
    try:
        return evaluate(record, on=on, policy=policy), (str(student) if student else None)
    except FactsError as ex:
        lines = [f"{name}: {p.path or '<record>'}: {p.message.get(lang)}" for p in ex.problems]
        raise UsageError("\n" + "\n".join(lines)) from None


def cmd_deadlines(args: argparse.Namespace, lang: Lang) -> int:
    from engine.faces.render_machine import deadline_rows, deadlines_ics_many  # deferred for start-up time
    from engine.run.evaluate import deadlines

    on = _parse_on(args.on, lang) or dt.date.today()
    if args.batch is not None:
        if args.record is not None:
            raise UsageError("give a RECORD or --batch FILE, not both")
        return _deadlines_batch(args, lang, on)
    if args.record is None:
        raise UsageError("give a RECORD file (or - for stdin), or --batch FILE / 请给出记录文件或 --batch")
    if args.map is not None or args.null is not None:
        raise UsageError("--map and --null read CSV or XLSX input: use them with --batch")
    policy = _load_policy_arg(args.policy)
    decision, student = _judge_one(args.record, on, policy, lang)
    rows = deadlines(decision, policy)
    fmt = args.format or "table"
    if fmt == "ics":
        sys.stdout.write(deadlines_ics_many([(decision, rows, student)], lang, _ics_stamp(on)))
    elif fmt == "json":
        _print(to_json([f.to_dict() for f in rows]))
    elif fmt == "csv":
        _write_csv(deadline_rows([(None, decision, rows, student)], lang))
    else:
        _print(deadlines_text(decision, rows, lang))
    return EXIT_OK


def _ics_stamp(on: dt.date) -> str:
    return dt.datetime.combine(on, dt.time()).strftime("%Y%m%dT%H%M%SZ")


def _write_csv(rows: list[list[Any]]) -> None:
    import csv  # deferred for start-up time

    from engine.faces.render_machine import DEADLINE_COLUMNS

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(DEADLINE_COLUMNS)
    w.writerows(rows)


def _deadlines_batch(args: argparse.Namespace, lang: Lang, on: dt.date) -> int:
    """``xueji deadlines --batch FILE``: every student's deadlines in one calendar (or JSON, CSV, a
    table per student); a bad line is reported on stderr with its number and the rest still listed."""
    from engine.faces.render_machine import deadline_rows, deadlines_ics_many
    from engine.run.evaluate import deadlines, evaluate
    from engine.tools import batch

    policy = _load_policy_arg(args.policy)
    kind = _input_kind(args.batch)
    reading = _reading(args, policy, kind, lang)
    stream = None
    if kind == "xlsx":
        if not Path(args.batch).is_file():
            raise UsageError(f"{args.batch}: no such file / 文件不存在")
        items = batch.read_xlsx(args.batch, policy.schema, **reading)
    else:
        stream = batch.open_input(args.batch)
        try:
            items = batch.read_csv(stream, policy.schema, **reading) if kind == "csv" else batch.read_jsonl(stream)
        except BaseException:
            stream.close()
            raise
    students: list[tuple[int | None, Decision, list[Finding], str | None]] = []
    errors = 0
    try:
        for n, record, err in items:
            if err is None:
                try:
                    decision = evaluate(record, on=on, policy=policy)
                except FactsError as ex:
                    shown = "; ".join(f"{p.path or '<record>'}: {p.message.get(lang)}" for p in ex.problems)
                else:
                    name = record.get("name") if isinstance(record, dict) else None
                    students.append((n, decision, deadlines(decision, policy), str(name) if name else None))
                    continue
            else:
                shown = str(err.get(lang, err.get("en", "")))
            errors += 1
            sys.stderr.write(f"{args.batch}:{n}: {shown}\n")
    finally:
        if stream is not None:
            stream.close()
    fmt = args.format or "ics"
    if fmt == "ics":
        sys.stdout.write(deadlines_ics_many([(d, rows, name) for _, d, rows, name in students], lang, _ics_stamp(on)))
    elif fmt == "json":
        out = [
            {"line": n, "id": d.student_id, "name": name, **f.to_dict()} for n, d, rows, name in students for f in rows
        ]
        _print(to_json(out))
    elif fmt == "csv":
        _write_csv(deadline_rows(students, lang))
    else:
        blocks = []
        for at, d, rows, name in students:
            who = f"{name or ''} {d.student_id or ''}".strip()
            title = who + (f"（第 {at} 行）" if lang == "zh" else f" (line {at})")
            blocks.append(title + "\n" + deadlines_text(d, rows, lang))
        _print("\n\n".join(blocks))
    return EXIT_USAGE if errors else EXIT_OK


def cmd_template(args: argparse.Namespace, lang: Lang) -> int:
    from engine.tools import exports  # deferred for start-up time

    if args.items < 1:
        raise UsageError("--items must be at least 1")
    policy = _load_policy_arg(args.policy)
    mapping = exports.load_mapping(args.map, policy.schema) if args.map is not None else None
    header = exports.template_header(policy.schema, mapping, args.items)
    out = args.out or "-"
    if args.kind == "xlsx" and out == "-":
        raise UsageError("xueji template xlsx needs --out FILE.xlsx")
    try:
        exports.write_template(out, header, args.kind, sys.stdout if out == "-" else None)
    except OSError as ex:
        raise UsageError(f"--out {out}: {ex.strerror}") from None
    return EXIT_OK


def _run_policy_tests(args: argparse.Namespace) -> tuple[PolicySet, policytest.Report]:
    from engine.tools import policytest  # deferred for start-up time: only test and coverage run cases

    policy = _load_policy_arg(args.policy)
    for path in args.paths:
        if not Path(path).exists():
            raise UsageError(f"{path}: no such file or directory / 文件或目录不存在")
    paths = args.paths or policytest.default_case_paths(policy)
    cases = policytest.load_cases(paths)
    if not cases:
        shown = ", ".join(str(p) for p in paths)
        raise UsageError(f"no test cases found in {shown} / 没有找到测试用例")
    return policy, policytest.run_cases(cases, policy)


def cmd_test(args: argparse.Namespace, lang: Lang) -> int:
    from engine.faces import render_policytest  # deferred for start-up time (with the JUnit writer, xml)

    _, report = _run_policy_tests(args)
    if args.junit:
        try:
            Path(args.junit).write_text(render_policytest.junit_xml(report, lang), encoding="utf-8")
        except OSError as ex:
            raise UsageError(f"--junit {args.junit}: {ex.strerror}") from None
    if args.format == "json":
        _print(render_policytest.report_json(report))
    elif args.format == "junit":
        sys.stdout.write(render_policytest.junit_xml(report, lang))
    elif args.format == "github":
        _print(render_policytest.report_github(report, lang))
    else:
        _print(render_policytest.report_text(report, lang, verbose=args.verbose))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def cmd_coverage(args: argparse.Namespace, lang: Lang) -> int:
    from engine.faces import render_policytest  # deferred for start-up time
    from engine.tools import policytest

    policy, report = _run_policy_tests(args)
    cov = policytest.coverage(policy, report)
    if args.format == "json":
        _print(render_policytest.coverage_json(cov))
    elif args.format == "junit":
        sys.stdout.write(render_policytest.coverage_junit(cov, lang, pending=args.pending))
    elif args.format == "github":
        annotations = render_policytest.coverage_github(cov, lang, pending=args.pending)
        if annotations:
            _print(annotations)
    else:
        _print(render_policytest.coverage_text(cov, lang))
    return EXIT_FINDINGS if cov.problems(pending=args.pending) else EXIT_OK


def cmd_check(args: argparse.Namespace, lang: Lang) -> int:
    try:
        from engine.tools.consistency import LAWS, check_policy
    except ImportError as ex:  # hypothesis is a test extra
        raise UsageError(f"xueji check needs hypothesis: pip install 'xueji[test]' ({ex})") from None
    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    for law in args.law or []:
        if law not in LAWS:
            raise UsageError(f"--law: unknown law {law!r}; one of: {', '.join(LAWS)}")
    if args.path is not None:
        _deprecated(lang, "xueji check DIR", "xueji check --policy DIR")
    policy = _load_policy_arg(args.path or args.policy)
    seed = None if args.seed == -1 else args.seed
    results = []
    failed = 0
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive")
    for name, failure in check_policy(policy, examples=args.examples, seed=seed, laws=args.law, seconds=args.seconds):
        results.append({"law": name, "ok": failure is None, "failure": failure.to_dict() if failure else None})
        if args.format == "text":
            mark = ("通过" if lang == "zh" else "ok") if failure is None else ("失败" if lang == "zh" else "FAILED")
            _print(f"{name:<26} {mark}")
            sys.stdout.flush()
        if failure is not None:
            failed += 1
            if args.format == "text":
                _print(f"  {failure.doc}")
                _print(f"  {failure.message.get(lang)}")
                for rule, at in failure.rules:
                    _print(f"  {rule}  {at}")
                _print(
                    ("  反例（已缩减），评估日期 " if lang == "zh" else "  counterexample (shrunk), on ")
                    + str(failure.on)
                )
                _print("\n".join("    " + line for line in to_json(failure.record).splitlines()))
    if args.format == "json":
        _print(to_json({"examples": args.examples, "laws": results}))
    return EXIT_FINDINGS if failed else EXIT_OK


def _diff_set(path: str) -> PolicySet:
    """A policy set named on the command line: a directory holding xueji.yaml, or that file."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such directory / 目录不存在")
    if p.is_file() and p.name != MANIFEST:
        raise UsageError(f"{path}: not a policy directory or its {MANIFEST} / 不是策略目录或其 {MANIFEST}")
    if p.is_dir() and not (p / MANIFEST).is_file():
        raise UsageError(f"{path}: not a policy directory (no {MANIFEST}) / 不是策略目录（缺少 {MANIFEST}）")
    return load_policy(p)


def cmd_diff(args: argparse.Namespace, lang: Lang) -> int:
    from engine.faces import render_diff  # deferred for start-up time: only diff needs the tool
    from engine.tools import batch, diff

    on = _parse_on(args.on, lang) or dt.date.today()
    if (args.records is None) == (args.generate is None):
        raise UsageError("give --records FILE or --generate N (one of them)")
    if args.records is not None and (args.seed is not None or args.shrink_seconds is not None):
        raise UsageError("--seed and --shrink-seconds go with --generate, not --records")
    if args.generate is not None and args.generate < 1:
        raise UsageError("--generate must be at least 1")
    if args.shrink_seconds is not None and args.shrink_seconds <= 0:
        raise UsageError("--shrink-seconds must be positive")
    dated = args.from_date is not None or args.to_date is not None
    sets = [s for s in (args.old, args.new) if s is not None]
    if sets and (dated or args.policy_given):
        raise UsageError("give OLD NEW, or --policy DIR --from DATE --to DATE; not both")
    if dated:
        if args.from_date is None or args.to_date is None:
            raise UsageError("--from and --to go together")
        since, until = _parse_date("--from", args.from_date, lang), _parse_date("--to", args.to_date, lang)
        whole = _load_policy_arg(args.policy)
        old, new = diff.as_of(whole, since), diff.as_of(whole, until)
        names = render_diff.SetName(args.policy, since), render_diff.SetName(args.policy, until)
    elif len(sets) == 2:
        old, new = _diff_set(args.old), _diff_set(args.new)
        names = render_diff.SetName(args.old), render_diff.SetName(args.new)
    else:
        raise UsageError("give two policy sets OLD NEW, or --from DATE --to DATE (with --policy DIR)")
    if args.generate is not None:
        try:
            result = diff.diff_generated(
                old,
                new,
                on=on,
                examples=args.generate,
                seed=None if args.seed == -1 else (args.seed or 0),
                shrink_seconds=20.0 if args.shrink_seconds is None else args.shrink_seconds,
            )
        except ImportError as ex:  # hypothesis is a test extra
            raise UsageError(f"xueji diff --generate needs hypothesis: pip install 'xueji[test]' ({ex})") from None
    else:
        stream = batch.open_input(args.records)
        try:
            is_csv = args.records.lower().endswith(".csv")
            items = batch.read_csv(stream, new.schema) if is_csv else batch.read_jsonl(stream)
            result = diff.diff_records(old, new, items, on=on)
        finally:
            stream.close()
    records = None if args.records is None else ("<stdin>" if args.records == "-" else args.records)
    labels = render_diff.Labels(*names, records)
    if result.errors:
        sys.stderr.write(render_diff.diff_errors_text(result, labels, lang) + "\n")
    if args.format == "json":
        _print(render_diff.diff_json(result, labels))
    else:
        titles = render_diff.article_titles(old, new)
        render = render_diff.diff_markdown if args.format == "markdown" else render_diff.diff_text
        _print(render(result, labels, titles, lang))
    if result.errors and args.records is not None:
        return EXIT_USAGE
    return EXIT_FINDINGS if result.has_changes else EXIT_OK


def cmd_compile(args: argparse.Namespace, lang: Lang) -> int:
    if args.policy is not None and not Path(args.policy).exists():
        raise UsageError(f"--policy: {args.policy}: no such directory / 目录不存在")
    policy = load_policy(args.policy, evaluator="generated")
    out: list[str] = []
    for v in policy.versions:
        cv = v.compiled
        if args.rule is not None and args.rule not in cv.rule_sources and args.rule not in cv.fallbacks:
            continue
        out.append(f"# ---- version {v.id}")
        for rule, why in cv.fallbacks.items():
            if args.rule in (None, rule):
                out.append(f"# {rule}: judged by the closures ({why})")
        if args.show:
            out.append(cv.source if args.rule is None else cv.rule_sources.get(args.rule, ""))
    if args.rule is not None and not out:
        raise UsageError(f"--rule: no rule {args.rule!r} / 无此规则")
    _print("\n".join(out))
    return EXIT_OK


def cmd_lsp(args: argparse.Namespace, lang: Lang) -> int:
    try:
        from engine.faces.lsp import serve  # deferred: pygls is the lsp extra, and only this verb needs it
    except ImportError as ex:
        raise UsageError(
            f"xueji lsp needs the lsp extra ({ex.name or ex}): pip install 'xueji[lsp]' / 需要安装 xueji[lsp]"
        ) from None
    if args.policy is not None and not Path(args.policy).exists():
        raise UsageError(f"--policy: {args.policy}: no such directory / 目录不存在")
    return serve(lang=args.lang, policy=args.policy)


def cmd_doc(args: argparse.Namespace, lang: Lang) -> int:
    from engine.faces import pages  # deferred: only this verb (and the service) renders HTML

    policy = _load_policy_arg(args.policy)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {args.out}: not a directory / 不是目录")
    site = pages.static_site(policy, pages.policy_coverage(policy), root=cast(Lang, args.lang or "zh"))
    try:
        for name, text in site.items():
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as ex:
        raise UsageError(f"--out: {args.out}: {ex.strerror or ex} / 无法写入") from None
    _print(f"{out / 'index.html'}: {len(site)} pages / 页")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, lang: Lang) -> int:
    if args.which == "decision":
        from engine.run.decisionschema import decision_schema

        _print(to_json(decision_schema()))
        return EXIT_OK
    from engine.sources.recordschema import record_schema

    _print(to_json(record_schema(_load_checked_arg(args.policy).schema)))
    return EXIT_OK


def _load_checked_arg(path: str | None) -> PolicySet:
    if path is not None and not Path(path).exists():
        raise UsageError(f"--policy: {path}: no such directory / 目录不存在")
    if path is not None and Path(path).is_dir() and not (Path(path) / MANIFEST).is_file():
        raise UsageError(f"--policy: {path}: not a policy directory (no {MANIFEST}) / 不是策略目录")
    return load_checked(path)


def cmd_serve(args: argparse.Namespace, lang: Lang) -> int:
    try:
        from engine.faces import serve  # deferred: starlette and uvicorn are the serve extra
    except ImportError as ex:
        raise UsageError(
            f"xueji serve needs the serve extra ({ex.name or ex}): pip install 'xueji[serve]' / 需要安装 xueji[serve]"
        ) from None
    token = args.token or os.environ.get("XUEJI_TOKEN") or None
    if not serve.is_loopback(args.host) and token is None:
        raise UsageError(
            f"--host {args.host} is not a loopback address: give --token TOKEN (or set XUEJI_TOKEN), which every "
            "/v1/ call must then send as Authorization: Bearer TOKEN / 绑定非本机地址需要 --token"
        )
    for option, value in (("--max-body", args.max_body), ("--max-batch-body", args.max_batch_body)):
        if value < 1:
            raise UsageError(f"{option} must be at least 1")
    if args.max_batch < 1:
        raise UsageError("--max-batch must be at least 1")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port (0–65535)")
    limits = serve.Limits(
        max_body=args.max_body, max_batch_body=args.max_batch_body, max_batch=args.max_batch, timeout=args.timeout
    )
    try:
        log = serve.DecisionLog.open(args.decision_log)
    except OSError as ex:
        raise UsageError(f"--decision-log {args.decision_log}: {ex.strerror}") from None
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    _load_policy_arg(args.policy)  # fail fast on a set that does not load (the service loads it again)
    try:
        if args.workers > 1:
            log.close()  # each worker opens the log itself
            options = serve.Options(args.policy, token, limits, args.decision_log, args.watch, args.log_input)
            return serve.run_workers(options, host=args.host, port=args.port, workers=args.workers)
        app = serve.create_app(
            args.policy, token=token, limits=limits, log=log, watch=args.watch, log_input=args.log_input
        )
        return serve.run(app, host=args.host, port=args.port)
    except OSError as ex:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {ex.strerror or ex}") from None
    finally:
        log.close()


COMMANDS: dict[str, Callable[[argparse.Namespace, Lang], int]] = {
    "test": cmd_test,
    "coverage": cmd_coverage,
    "check": cmd_check,
    "eval": cmd_eval,
    "lint": cmd_lint,
    "deadlines": cmd_deadlines,
    "fmt": cmd_fmt,
    "diff": cmd_diff,
    "compile": cmd_compile,
    "lsp": cmd_lsp,
    "doc": cmd_doc,
    "template": cmd_template,
    "schema": cmd_schema,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lang = cast(Lang, args.lang or default_lang())
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        _resolve_policy(args, lang)
        return COMMANDS[args.command](args, lang)
    except UsageError as ex:
        sys.stderr.write(f"xueji: {ex}\n")
        return EXIT_USAGE
    except PolicyError as ex:
        sys.stderr.write(diagnostics_text(ex.diagnostics, lang) + "\n")
        return EXIT_USAGE
    except XuejiError as ex:
        sys.stderr.write(f"xueji: {ex}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("xueji: interrupted / 已中断\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as ex:  # the last line of defence: never a traceback
        if os.environ.get("XUEJI_DEBUG"):
            import traceback  # deferred for start-up time: only an internal error needs it

            traceback.print_exc()
        sys.stderr.write(
            f"xueji: internal error ({type(ex).__name__}: {ex}); please report it, with XUEJI_DEBUG=1 for details\n"
        )
        return 3


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
