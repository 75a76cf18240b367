"""Batch evaluation: a stream of records in, one JSON line per record out, in input order.

Takes a JSON Lines or CSV file (or stdin) and a policy directory; writes, for every input record, one
line: the decision or an error record (``{"line": n, "error": ...}``) with the input line number and
the reason. Two output modes:

* ``compact`` (the default): the decision's line (``decision_line``) with only the findings that are
  neither ``satisfied`` nor ``not_applicable``, and ``outcomes``, each article's outcome (its worst
  finding, in the order of ``SEVERITY``) — built by ``compact_dict``;
* ``full``: the whole decision, every finding with its message and facts (``Decision.to_dict``).

The parent process only reads raw input lines (JSON Lines) or raw CSV rows, ships them in chunks of
``CHUNK`` to the worker processes and writes what they return, in input order, one ``os.write`` per
chunk; a worker parses, evaluates and serialises a chunk and returns its output lines as one
``bytes``. Memory stays constant whatever the input size: records are read lazily and at most
``window`` chunks are in flight. A run that is killed leaves complete lines only; ``resume_point``
finds where it stopped so that ``--resume`` continues after the last complete line.

CSV (and XLSX) columns are field paths (``admission.year``, ``academic_years[0].term_start``), or what
a mapping (:mod:`engine.tools.exports`) makes them; a cell that is a null token (default: empty,
``NULL``, ``\\N``, ``null``) is none where the field may be none and absent where it may not, a group
of columns all null is none, an empty list or no element (``_CsvShape``), and cells are converted to the
schema's type (int, decimal, bool) after the mapping's labels and date formats. The parent splits the
CSV into rows with ``csv.reader`` (a quoted cell may hold a newline, so a row is not always a line) or
streams the XLSX rows, and checks the header before any output is written; it ships the ``Layout``
with each chunk, and workers build the records from the rows.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime as dt
import gc
import io
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import IO, Any, Literal, NamedTuple

import attrs

from engine.diagnostics import FactsError, XuejiError, excerpt
from engine.lang.types import ListT, Nullable, Prim, RecordT, Type
from engine.run.decision import Decision, Outcome
from engine.run.evaluate import evaluate
from engine.run.pipeline import load_policy
from engine.sources import factpath
from engine.sources.policy import PolicySet
from engine.sources.schema import Schema
from engine.tools.exports import DEFAULT_NULLS, Layout, Mapping, field_type, mapped_layout, plain_layout, xlsx_rows

#: records a worker judges per task: big enough that shipping a chunk costs little next to judging
#: it, small enough that ``window`` chunks in flight stay a few megabytes (see bench/README.md)
CHUNK = 128

Mode = Literal["compact", "full"]

#: outcomes from the worst to the best: an article's outcome in a compact line is its worst finding's
#: (a breach before a question the record cannot answer, before an open deadline, before a rule met)
SEVERITY: tuple[Outcome, ...] = (
    Outcome.VIOLATED,
    Outcome.UNKNOWN,
    Outcome.PENDING,
    Outcome.SATISFIED,
    Outcome.NOT_APPLICABLE,
)
_RANK = {o: i for i, o in enumerate(SEVERITY)}
_LAST = len(SEVERITY)
_VALUE = {o: o.value for o in SEVERITY}
#: findings a compact line leaves out: nothing to do about them
SETTLED = frozenset({Outcome.SATISFIED, Outcome.NOT_APPLICABLE})
UNSETTLED = frozenset(SEVERITY) - SETTLED

Item = tuple[int, Any, dict[str, Any] | None]  # (line number, record, or None with an error)
Raw = tuple[int, Any]  # (line number, a raw JSON line or a CSV row)
Chunk = tuple[Layout | None, list[Raw]]  # (the layout of a CSV/XLSX header, or None for JSON lines; the lines)


# ------------------------------------------------------------------------------------------------- input


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects as dicts, refusing a repeated key (json keeps the last silently, losing a fact)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def raw_lines(stream: IO[str], start_line: int = 1) -> Iterator[Raw]:
    """The non-blank lines of a JSON Lines stream from ``start_line`` on, unparsed, with their numbers."""
    for n, line in enumerate(stream, start=1):
        if n >= start_line and not line.isspace():
            yield n, line


def parse_line(n: int, line: str) -> Item:
    """One JSON line as a record, or the error that says why it is not one."""
    try:
        return n, json.loads(line, object_pairs_hook=_no_duplicates), None
    except _DuplicateKey as ex:
        duplicate = ex.key
        return (
            n,
            None,
            _err(f"对象中的键 {excerpt(duplicate)} 重复", f"the key {excerpt(duplicate)} appears twice in an object"),
        )
    except json.JSONDecodeError as ex:
        return (
            n,
            None,
            _err(
                f"第 {n} 行不是有效的 JSON：{ex.msg}（第 {ex.colno} 列）",
                f"not valid JSON: {ex.msg} (column {ex.colno})",
            ),
        )


def read_jsonl(stream: IO[str], start_line: int = 1) -> Iterator[Item]:
    for n, line in raw_lines(stream, start_line):
        yield parse_line(n, line)


def _convert(cell: str, t: Type | None) -> Any:
    base = t.inner if isinstance(t, Nullable) else t
    if isinstance(base, ListT) and cell.strip() == "[]":
        return []  # an empty list (an empty cell would mean the record does not know)
    if isinstance(base, Prim) and base.name == "int":
        try:
            return int(cell)
        except ValueError:
            return cell  # the schema check reports it, with its path
    if isinstance(base, Prim) and base.name == "decimal":
        try:
            return int(cell)
        except ValueError:
            pass
        try:
            number = float(cell)
        except ValueError:
            return cell
        return number if math.isfinite(number) else cell
    if isinstance(base, Prim) and base.name == "bool" and cell.strip().lower() in ("true", "false"):
        return cell.strip().lower() == "true"
    return cell


def read_csv(
    stream: IO[str],
    schema: Schema,
    start_line: int = 1,
    *,
    mapping: Mapping | None = None,
    nulls: Iterable[str] = DEFAULT_NULLS,
    warn: Callable[[list[str]], None] | None = None,
) -> Iterator[Item]:
    """Records from a CSV file. The header is read and checked now (a bad header is an XuejiError
    before any output is written); the rows are read as they are consumed."""
    layout, rows = csv_rows(stream, schema, start_line, mapping=mapping, nulls=nulls, warn=warn)
    return _table_items(layout, rows, schema)


def read_xlsx(
    path: str,
    schema: Schema,
    start_line: int = 1,
    *,
    mapping: Mapping | None = None,
    nulls: Iterable[str] = DEFAULT_NULLS,
    warn: Callable[[list[str]], None] | None = None,
) -> Iterator[Item]:
    """Records from the first sheet of an XLSX file (streamed), as ``read_csv`` reads a CSV file."""
    source = open_table(path, schema, start_line, mapping=mapping, nulls=nulls, warn=warn)
    return _table_items(source.header, source.lines, schema)


def _table_items(layout: Layout | None, rows: Iterator[Raw], schema: Schema) -> Iterator[Item]:
    if layout is None:
        return iter(())
    shape = _CsvShape(layout, schema)
    return (shape.item(n, row) for n, row in rows)


def _layout(
    header: tuple[str, ...],
    schema: Schema,
    mapping: Mapping | None,
    nulls: Iterable[str],
    warn: Callable[[list[str]], None] | None,
) -> Layout:
    layout, unknown = mapped_layout(header, schema, mapping, nulls)
    _CsvShape(layout, schema)  # refuses a bad header
    if unknown and warn is not None:
        warn(unknown)
    return layout


def csv_rows(
    stream: IO[str],
    schema: Schema,
    start_line: int = 1,
    *,
    mapping: Mapping | None = None,
    nulls: Iterable[str] = DEFAULT_NULLS,
    warn: Callable[[list[str]], None] | None = None,
) -> tuple[Layout | None, Iterator[Raw]]:
    """The layout of the header (checked now, None for an empty file) and the non-blank rows from
    ``start_line`` on, unconverted, each with the line number where it ends."""
    reader = csv.reader(stream)
    try:
        header = tuple(next(reader))
    except StopIteration:
        return None, iter(())
    return _layout(header, schema, mapping, nulls, warn), _csv_raw(reader, start_line)


def _csv_raw(reader: Any, start_line: int) -> Iterator[Raw]:
    for row in reader:
        n = reader.line_num
        if n >= start_line and any(cell.strip() for cell in row):
            yield n, row


_ABSENT: Any = object()  # no cell says anything
_NULL: Any = object()  # every cell is a null token


class _CsvShape:
    """What a header says: a tree of the columns' field paths with the schema's type at each node.

    A row becomes a record bottom-up: a cell that is a null token is none where the field may be none
    and absent where it may not; an empty cell that is not a null token is absent. A group of columns
    (an object, a list, a list element) whose cells are all null tokens is none for an object that may
    be none (``graduation?``), an empty list for a list, no element for a list element, and absent
    for an object that may not be none."""

    def __init__(self, layout: Layout, schema: Schema) -> None:
        header = layout.header
        used = [(i, c) for i, c in enumerate(layout.columns) if c is not None and c.path]
        for column, c in used:
            if any(isinstance(seg, int) and seg >= schema.max_collection for seg in c.path):
                raise XuejiError(
                    f"CSV column {column + 1} '{header[column]}': a list index beyond the collection limit "
                    f"({schema.max_collection}) / 列表下标超出集合上限"
                )
        _check_header([header[i] for i, _ in used], [list(c.path) for _, c in used])
        self.schema = schema
        self.width = len(header)
        self.nulls = layout.nulls
        #: column index -> (type, labels, date formats)
        self.leaf: dict[int, tuple[Type | None, dict[str, Any], tuple[str, ...]]] = {}
        self.tree: dict[factpath.Segment, Any] = {}
        for i, c in used:
            node = self.tree
            for seg in c.path[:-1]:
                node = node.setdefault(seg, {})
            node[c.path[-1]] = i
            self.leaf[i] = (field_type(schema, list(c.path)), dict(c.labels), c.dates)
        self.root_type: Type = schema.root

    def item(self, n: int, row: list[str]) -> Item:
        if len(row) > self.width:
            return n, None, _err(f"第 {n} 行的列数多于表头", "more cells than header columns")
        value = self._build(self.tree, self.root_type, row)
        return n, (value if isinstance(value, dict) else {}), None

    def _cell(self, i: int, row: list[str]) -> Any:
        cell = row[i] if i < len(row) else ""
        bare = cell.strip()
        if bare in self.nulls:
            return _NULL
        if cell == "":
            return _ABSENT
        t, labels, dates = self.leaf[i]
        if bare in labels:
            return labels[bare]
        for fmt in dates:
            try:
                day = dt.datetime.strptime(bare, fmt)
            except ValueError:
                continue
            base = t.inner if isinstance(t, Nullable) else t
            if base == Prim("int"):
                return day.year  # RXRQ 20220905 → admission.year 2022
            return f"{day:%Y-%m}" if base == Prim("yearmonth") else day.date().isoformat()
        return _convert(cell, t)

    def _build(self, node: Any, t: Type | None, row: list[str]) -> Any:
        if isinstance(node, int):
            return self._cell(node, row)
        base = t.inner if isinstance(t, Nullable) else t
        parts: list[tuple[factpath.Segment, Any, Type | None]] = []
        for seg, child in node.items():
            if isinstance(seg, int):
                ct: Type | None = base.elem if isinstance(base, ListT) else None
            else:
                ct = base.fields[seg].type if isinstance(base, RecordT) and seg in base.fields else None
            parts.append((seg, self._build(child, ct, row), ct))
        if all(v is _NULL for _, v, _ in parts):
            return _NULL
        if all(v is _NULL or v is _ABSENT for _, v, _ in parts):
            return _ABSENT
        if parts and isinstance(parts[0][0], int):  # a list: its elements in index order
            out: list[Any] = []
            for _, v, _ in sorted(parts, key=lambda p: p[0]):
                if v is _NULL or v is _ABSENT:
                    continue  # no such element
                out.append(v)
            return out
        record: dict[str, Any] = {}
        for seg, v, ct in parts:
            if v is _ABSENT:
                continue
            if v is _NULL:
                if isinstance(ct, Nullable):
                    v = None
                elif isinstance(ct, ListT):
                    v = []
                else:
                    continue  # a fact that may not be none: the record does not know it
            record[str(seg)] = v
        return record


def _check_header(header: list[str], paths: list[list[factpath.Segment]]) -> None:
    """Columns must describe one tree: no path twice, none inside another's value, and below one
    path either list indexes or field names, not both."""
    below: dict[tuple[factpath.Segment, ...], tuple[type, int]] = {}  # prefix -> (segment kind, column)
    leaves: dict[tuple[factpath.Segment, ...], int] = {}
    for column, path in enumerate(paths):
        whole = tuple(path)
        clash = leaves.get(whole)
        for k in range(len(path)):
            prefix = whole[:k]
            if prefix in leaves:
                clash = leaves[prefix]
            kind, first = below.setdefault(prefix, (type(path[k]), column))
            if kind is not type(path[k]):
                clash = first
        if clash is None and whole in below:
            clash = below[whole][1]
        if clash is not None:
            raise XuejiError(
                f"CSV columns {clash + 1} '{header[clash]}' and {column + 1} '{header[column]}' describe "
                "conflicting fields / 表头的字段路径相互冲突"
            )
        if path:
            leaves[whole] = column


def _err(zh: str, en: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"zh": zh, "en": en}
    if problems:
        out["problems"] = problems
    return out


# ------------------------------------------------------------------------------------------------ output


def article_outcomes(decision: Decision) -> dict[int, Outcome]:
    """Each article's outcome: the worst of its findings (``SEVERITY``), by article number (read from
    the decision's judgements: no finding is built for it)."""
    worst: dict[int, int] = {}
    for article, outcome, _ in decision.judgements():
        rank = _RANK[outcome]
        if rank < worst.get(article, _LAST):
            worst[article] = rank
    return {article: SEVERITY[rank] for article, rank in sorted(worst.items())}


def compact_dict(decision: Decision, outcomes: dict[int, Outcome] | None = None) -> dict[str, Any]:
    """A decision as a compact line holds it: ``Decision.to_dict()`` with ``outcomes`` (each article's
    worst outcome, ``article_outcomes``; pass them if already computed) before the findings, and only
    the findings that are neither satisfied nor not applicable — each exactly as the full output
    writes it."""
    if outcomes is None:
        outcomes = article_outcomes(decision)
    out: dict[str, Any] = {
        "id": decision.student_id,
        "on": decision.on.isoformat(),
        "version": decision.version,
        "versions": list(decision.versions),
        "in_force": decision.in_force,
        "outcomes": {str(a): _VALUE[o] for a, o in outcomes.items()},
        "findings": [f.to_dict() for f in decision.findings_where(UNSETTLED)],  # only those are built
        "warnings": [w.to_dict() for w in decision.warnings],
    }
    if decision.note is not None:
        out["note"] = {"zh": decision.note.zh, "en": decision.note.en}
    return out


def decision_line(
    n: int, decision: Decision, mode: Mode = "compact", outcomes: dict[int, Outcome] | None = None
) -> str:
    """The output line (without its newline) of the decision on input line ``n``."""
    body = compact_dict(decision, outcomes) if mode == "compact" else decision.to_dict()
    return json.dumps({"line": n, **body}, ensure_ascii=False)


def error_line(n: int, error: dict[str, Any]) -> str:
    """The output line of an input line that is not a record, or a record that fails the schema."""
    return json.dumps({"line": n, "error": error}, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------- workers

_POLICY: PolicySet | None = None
_SHAPES: dict[Layout, _CsvShape] = {}


def _init(policy_path: str | None, parent: int | None = None) -> None:
    global _POLICY
    _exit_with_parent(parent)  # first: loading the policy takes a while, and the parent may die meanwhile
    _POLICY = load_policy(policy_path)
    gc.freeze()  # the policy lives as long as the worker: the collector need not walk it again


#: seconds between two looks of a worker at its parent: the only watch where the kernel does not end
#: the worker with its parent (not Linux), the second line on Linux
PARENT_POLL = 0.2


def _exit_with_parent(parent: int | None = None) -> None:
    """A worker whose parent was killed (SIGKILL skips every clean-up) would wait on its queue for
    ever: leave with it.

    On Linux the kernel kills the worker when its parent dies (``PR_SET_PDEATHSIG``: immediate,
    however busy the machine; the pool forks its workers from the thread that runs the batch, which
    outlives them). As a second line, and elsewhere, a thread watches for being re-parented. ``parent``:
    the parent's pid as the parent gave it (read here, it would already be init's if the parent died
    before the worker started)."""
    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:  # it died before this worker got here
        os._exit(1)
    if sys.platform.startswith("linux"):
        import ctypes  # deferred: only a worker needs it

        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # it died before the request: the kernel will not send the signal
            os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="xueji-parent-watch", daemon=True).start()


class Judged(NamedTuple):
    """What a worker returns for a chunk: its output lines and what the summary counts of them."""

    data: bytes
    records: int
    errors: int
    last_line: int
    #: (article, outcome) -> records whose article has that outcome
    counts: dict[tuple[int, str], int]


def _items(chunk: Chunk, schema: Schema) -> Iterator[Item]:
    layout, lines = chunk
    if layout is None:
        return itertools.starmap(parse_line, lines)
    shape = _SHAPES.get(layout)
    if shape is None or shape.schema is not schema:
        shape = _SHAPES[layout] = _CsvShape(layout, schema)
    return itertools.starmap(shape.item, lines)


def judge_chunk(chunk: Chunk, on: dt.date, mode: Mode = "compact", policy: PolicySet | None = None) -> Judged:
    """Parse, evaluate and serialise a chunk of raw lines: the output bytes (whole lines) and counts."""
    ps = policy or _POLICY
    assert ps is not None
    lines: list[str] = []
    counts: Counter[tuple[int, str]] = Counter()
    errors = 0
    for n, record, error in _items(chunk, ps.schema):
        if error is None:
            try:
                decision = evaluate(record, on=on, policy=ps)
            except FactsError as ex:
                problems = [p.to_dict() for p in ex.problems]
                error = _err("记录不符合事实模式", "the record does not fit the facts schema", problems)
            else:
                outcomes = article_outcomes(decision)
                lines.append(decision_line(n, decision, mode, outcomes))
                counts.update([(a, _VALUE[o]) for a, o in outcomes.items()])
                continue
        lines.append(error_line(n, error))
        errors += 1
    lines.append("")
    return Judged("\n".join(lines).encode("utf-8"), len(chunk[1]), errors, chunk[1][-1][0], counts)


# ------------------------------------------------------------------------------------------------ runner


@attrs.define
class Summary:
    records: int = 0
    errors: int = 0
    last_line: int = 0
    #: (article, outcome) -> records whose article has that outcome (its worst finding)
    counts: Counter[tuple[int, str]] = attrs.Factory(Counter)
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        by_article: dict[str, dict[str, int]] = {}
        for (article, outcome), c in sorted(self.counts.items()):
            if article:
                by_article.setdefault(str(article), {})[outcome] = c
        return {
            "records": self.records,
            "errors": self.errors,
            "last_line": self.last_line,
            "interrupted": self.interrupted,
            "by_article": by_article,
        }

    def add(self, judged: Judged) -> None:
        self.records += judged.records
        self.errors += judged.errors
        self.last_line = judged.last_line
        self.counts.update(judged.counts)


@attrs.define
class Source:
    """The raw input as the parent reads it: JSON lines (``header`` None) or CSV rows after ``header``."""

    header: Layout | None
    lines: Iterator[Raw]

    def chunks(self, size: int) -> Iterator[Chunk]:
        while batch := list(itertools.islice(self.lines, size)):
            yield self.header, batch


def open_source(
    stream: IO[str],
    schema: Schema,
    *,
    is_csv: bool,
    start_line: int = 1,
    mapping: Mapping | None = None,
    nulls: Iterable[str] = DEFAULT_NULLS,
    warn: Callable[[list[str]], None] | None = None,
) -> Source:
    """The input from ``start_line`` on; a CSV header is checked now, before any output is written."""
    if not is_csv:
        return Source(None, raw_lines(stream, start_line))
    layout, rows = csv_rows(stream, schema, start_line, mapping=mapping, nulls=nulls, warn=warn)
    return Source(layout or plain_layout(()), rows)


def open_table(
    path: str,
    schema: Schema,
    start_line: int = 1,
    *,
    mapping: Mapping | None = None,
    nulls: Iterable[str] = DEFAULT_NULLS,
    warn: Callable[[list[str]], None] | None = None,
) -> Source:
    """An XLSX file's first sheet (openpyxl, read-only streaming), read as a CSV file is: the header
    is checked now; the rows are numbered by their sheet row."""
    header, rows = xlsx_rows(path, start_line)
    if header is None:
        return Source(plain_layout(()), iter(()))
    return Source(_layout(header, schema, mapping, nulls, warn), rows)


class BatchError(XuejiError):
    """A run that cannot go on: its output cannot be written (a full disk) or a worker process died
    (killed by the system). What was written before is kept, complete lines only, for --resume."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _steady_heap() -> None:
    """Keep the resident memory of a long run flat (glibc; elsewhere nothing is done).

    glibc serves a block below its mmap threshold from the heap, and raises the threshold (up to
    32 MB) each time it frees a larger mapped block. The parent's mid-sized buffers — chunks pickled
    for the workers, results read from the pipes, 64–300 KB each — then come from the heap in an order
    that fragments it: its RSS crept up about 2 MB per 100,000 records, with no Python object kept
    (tracemalloc). A fixed threshold of 64 KB has them mapped and unmapped whole: flat. Workers
    started by fork inherit the setting."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # deferred: only a batch run needs it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 64 * 1024)


def run_batch(
    source: Source,
    out_fd: int,
    *,
    on: dt.date,
    policy_path: str | None,
    jobs: int,
    mode: Mode = "compact",
    progress: Callable[[Summary], None] | None = None,
    chunk: int = CHUNK,
    out_name: str = "the output",
) -> Summary:
    """Judge ``source`` and write one line per record to ``out_fd`` (the file ``out_name``), in input
    order. A write that fails (a full disk) or a worker that dies is a :class:`BatchError`; a write
    may have stopped inside a line (``resume_point`` cuts it)."""
    summary = Summary()
    _steady_heap()

    def done(judged: Judged) -> None:
        try:
            _write_all(out_fd, judged.data)
        except BrokenPipeError:
            raise  # the reader of a pipe left: nothing to report
        except OSError as ex:  # ENOSPC, EFBIG (a file size limit), EDQUOT, EIO
            raise BatchError(f"cannot write {out_name}: {ex.strerror or ex} / 无法写入输出文件") from None
        summary.add(judged)
        if progress is not None:
            progress(summary)

    try:
        if jobs <= 1:
            policy = load_policy(policy_path)
            for c in source.chunks(chunk):
                done(judge_chunk(c, on, mode, policy))
            return summary
        window = jobs * 2 + 2  # enough to keep every worker busy while the parent writes
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(policy_path, os.getpid())) as pool:
            pending: collections.deque[Future[Judged]] = collections.deque()
            try:
                for c in source.chunks(chunk):
                    pending.append(pool.submit(judge_chunk, c, on, mode))
                    while len(pending) >= window or (pending and pending[0].done()):
                        done(pending.popleft().result())
                while pending:
                    done(pending.popleft().result())
            except BrokenProcessPool:
                # a worker died (SIGKILL from the out-of-memory killer, a crash): the pool fails
                # every pending chunk and ends the other workers; the lines written stay
                raise BatchError(
                    "a worker process ended abruptly (killed by the system: out of memory?) / 工作进程意外终止"
                ) from None
            except BaseException:
                for fut in pending:
                    fut.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except KeyboardInterrupt:
        summary.interrupted = True
    return summary


def summarize(path: str) -> Summary:
    """The summary of a whole output file, compact or full (read line by line: constant memory)."""
    summary = Summary()
    with open(path, encoding="utf-8") as f:
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            summary.records += 1
            summary.last_line = int(line.get("line", summary.last_line))
            if "error" in line:
                summary.errors += 1
            elif "outcomes" in line:  # compact
                summary.counts.update((int(a), str(o)) for a, o in line["outcomes"].items())
            else:  # full: every finding is there
                worst: dict[int, str] = {}
                for finding in line.get("findings", ()):
                    article, outcome = int(finding["article"]), str(finding["outcome"])
                    if article not in worst or _RANK[Outcome(outcome)] < _RANK[Outcome(worst[article])]:
                        worst[article] = outcome
                summary.counts.update(worst.items())
    return summary


def part_path(out: str) -> str:
    """Where a run writes until it ends: ``FILE.part``, renamed to ``FILE`` when the run ends."""
    return out + ".part"


def _rfind_newline(f: IO[bytes], end: int) -> int:
    """The position of the last newline before ``end`` in ``f`` (-1 if none), reading backwards."""
    block = 1 << 16
    while end > 0:
        start = max(0, end - block)
        f.seek(start)
        i = f.read(end - start).rfind(b"\n")
        if i >= 0:
            return start + i
        end = start
    return -1


def resume_point(path: str) -> int:
    """The input line number of the last complete output line of ``path`` (0 if none).

    Reads the file from its end, so it costs the same whatever the file's size. A torn last line
    (no newline: the run was killed while writing it), or a last line that is not an output record,
    is cut off the file.
    """
    try:
        f = open(path, "rb+")  # noqa: SIM115 - closed by `with` below
    except FileNotFoundError:
        return 0
    with f:
        end = f.seek(0, os.SEEK_END)
        while True:
            newline = _rfind_newline(f, end)
            if newline < 0:
                f.truncate(0)
                return 0
            previous = _rfind_newline(f, newline)
            f.seek(previous + 1)
            line = f.read(newline - previous - 1)
            try:
                last = int(json.loads(line)["line"])
            except (ValueError, KeyError, TypeError):
                end = previous + 1  # not an output record: drop it and look further back
                continue
            f.truncate(newline + 1)
            return last


def commit(part: str, out: str) -> None:
    """End a run: cut a torn last line, flush to disk and rename ``FILE.part`` to ``FILE``. A flush
    that fails (a full disk, seen only now) is a :class:`BatchError` and leaves ``FILE.part``."""
    resume_point(part)
    try:
        with open(part, "rb") as f:
            os.fsync(f.fileno())
    except OSError as ex:
        raise BatchError(f"cannot write {part}: {ex.strerror or ex} / 无法写入输出文件") from None
    os.replace(part, out)
    with contextlib.suppress(FileNotFoundError):
        os.remove(run_file(part))


def run_file(part: str) -> str:
    """Beside ``FILE.part``: what the run judges (input, date, policy) and how it writes (output mode),
    so --resume continues only it."""
    return part + ".run.json"


def run_identity(batch_input: str, on: dt.date, policy: str | None, mode: Mode = "compact") -> dict[str, str | None]:
    same = "-" if batch_input == "-" else os.path.realpath(batch_input)
    return {
        "input": same,
        "on": on.isoformat(),
        "policy": os.path.realpath(policy) if policy else None,
        "output": mode,
    }


def remember_run(part: str, identity: dict[str, str | None]) -> None:
    with open(run_file(part), "w", encoding="utf-8") as f:
        json.dump(identity, f)


def output_mode(path: str, look: int = 1000) -> Mode | None:
    """How ``path`` was written, from its first decision line (None: none among the first ``look`` lines)."""
    try:
        f = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by `with` below
    except FileNotFoundError:
        return None
    with f:
        for raw in itertools.islice(f, look):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and "findings" in line:
                return "compact" if "outcomes" in line else "full"
    return None


def same_run(part: str, identity: dict[str, str | None], written: str | None = None) -> str | None:
    """None when ``part`` was written by this run's input, date, policy and output mode (or says
    nothing), else why not. Without its run file (a run that ended: ``written``, its output) only the
    output mode is known, from the output's first decision line."""
    keys: tuple[str, ...] = ("input", "on", "policy", "output")
    try:
        with open(run_file(part), encoding="utf-8") as f:
            earlier = json.load(f)
        if not isinstance(earlier, dict):
            return None
        earlier.setdefault("output", "full")  # a run file written before compact output existed
    except (FileNotFoundError, ValueError):
        earlier, keys = {"output": output_mode(written or part)}, ("output",)
        if earlier["output"] is None:
            return None
    different = [k for k in keys if earlier.get(k) != identity[k]]
    if not different:
        return None
    return ", ".join(
        f"output was {earlier[k]}, now {identity[k]}: resume {'with' if earlier[k] == 'full' else 'without'} --full"
        if k == "output"
        else f"{k} was {earlier.get(k)}, now {identity[k]}"
        for k in different
    )


def open_input(name: str) -> IO[str]:
    if name == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace", newline="")
    try:
        return open(name, encoding="utf-8-sig", errors="replace", newline="")
    except OSError as ex:
        raise XuejiError(f"{name}: {ex.strerror}") from None


def summary_text(summary: Summary, lang: str, elapsed: float) -> str:
    head = (
        f"{summary.records} 条记录，{summary.errors} 条错误，用时 {elapsed:.1f} 秒"
        if lang == "zh"
        else f"{summary.records} records, {summary.errors} errors, {elapsed:.1f} s"
    )
    lines = [head]
    by_article: dict[int, Counter[str]] = {}
    for (article, outcome), c in summary.counts.items():
        by_article.setdefault(article, Counter())[outcome] = c
    if by_article:
        lines.append(
            "各条记录数，按该条的结果（其最差的一项判定）："
            if lang == "zh"
            else "records by each article's outcome (its worst finding):"
        )
    rank = {o.value: i for i, o in enumerate(SEVERITY)}
    for article in sorted(by_article):
        outcomes = sorted(by_article[article].items(), key=lambda oc: rank.get(oc[0], len(rank)))
        parts = ", ".join(f"{o} {c}" for o, c in outcomes)
        lines.append((f"  第{article}条: " if lang == "zh" else f"  Art. {article}: ") + parts)
    if summary.interrupted:
        lines.append(
            f"已中断：输出到输入第 {summary.last_line} 行为止；用 --resume 继续"
            if lang == "zh"
            else f"interrupted: output is complete up to input line {summary.last_line}; continue with --resume"
        )
    return "\n".join(lines)


clock = time.monotonic
