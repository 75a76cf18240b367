"""Batch evaluation: a stream of records in, one JSON line per record out, in input order.

Takes a JSON Lines or CSV file (or stdin) and a policy directory; writes, for every input record, one
line: the decision (``{"line": n, ...decision}``) or an error record (``{"line": n, "error": ...}``)
with the input line number and the reason. Memory stays constant whatever the input size: records are
read lazily and at most ``window`` chunks are in flight across the worker processes. Output lines are
written whole with one ``os.write`` per chunk, so a run that is killed leaves complete lines only;
``resume_point`` finds where such a run stopped so that ``--resume`` continues after the last
complete line.

CSV columns are field paths (``admission.year``, ``academic_years[0].term_start``); an empty cell is
an absent fact, ``null`` is none, and cells are converted to the schema's type (int, bool).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import IO, Any

import attrs

from engine.diagnostics import FactsError, XuejiError
from engine.lang.types import ListT, Nullable, Prim, RecordT, Type
from engine.run.decision import Outcome
from engine.run.evaluate import evaluate
from engine.run.pipeline import load_policy
from engine.sources import factpath
from engine.sources.policy import PolicySet
from engine.sources.schema import Schema

CHUNK = 64

Item = tuple[int, Any, dict[str, Any] | None]  # (line number, record, or None with an error)


# ------------------------------------------------------------------------------------------------- input


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects as dicts, refusing a repeated key (json keeps the last silently, losing a fact)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def read_jsonl(stream: IO[str], start_line: int = 1) -> Iterator[Item]:
    for n, line in enumerate(stream, start=1):
        if n < start_line or not line.strip():
            continue
        try:
            yield n, json.loads(line, object_pairs_hook=_no_duplicates), None
        except _DuplicateKey as ex:
            duplicate = ex.key
            yield n, None, _err(f"对象中的键 {duplicate!r} 重复", f"the key {duplicate!r} appears twice in an object")
        except json.JSONDecodeError as ex:
            yield (
                n,
                None,
                _err(
                    f"第 {n} 行不是有效的 JSON：{ex.msg}（第 {ex.colno} 列）",
                    f"not valid JSON: {ex.msg} (column {ex.colno})",
                ),
            )


def _field_type(schema: Schema, path: list[str | int]) -> Type | None:
    t: Type | None = schema.root
    for seg in path:
        if isinstance(t, Nullable):
            t = t.inner
        if isinstance(seg, int):
            t = t.elem if isinstance(t, ListT) else None
        elif isinstance(t, RecordT) and seg in t.fields:
            t = t.fields[seg].type
        else:
            return None
    return t


def _convert(cell: str, t: Type | None) -> Any:
    if cell == "null":
        return None
    base = t.inner if isinstance(t, Nullable) else t
    if isinstance(base, ListT) and cell.strip() == "[]":
        return []  # an empty list (an empty cell would mean the record does not know)
    if isinstance(base, Prim) and base.name == "int":
        try:
            return int(cell)
        except ValueError:
            return cell  # the schema check reports it, with its path
    if isinstance(base, Prim) and base.name == "bool" and cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    return cell


def _put(record: dict[str, Any], path: list[str | int], value: Any) -> None:
    node: Any = record
    for seg, nxt in itertools.pairwise(path):
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(seg, int):
            while len(node) <= seg:
                node.append(None)
            if node[seg] is None:
                node[seg] = empty
            node = node[seg]
        else:
            node = node.setdefault(seg, empty)
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    else:
        node[last] = value


def read_csv(stream: IO[str], schema: Schema, start_line: int = 1) -> Iterator[Item]:
    """Records from a CSV file. The header is read and checked now (a bad header is an XuejiError
    before any output is written); the rows are read as they are consumed."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return iter(())
    paths = [factpath.parse(h.strip()) for h in header]
    for column, path in enumerate(paths, start=1):
        if any(isinstance(seg, int) and seg >= schema.max_collection for seg in path):
            raise XuejiError(
                f"CSV column {column} '{header[column - 1]}': a list index beyond the collection limit "
                f"({schema.max_collection}) / 列表下标超出集合上限"
            )
    _check_header(header, paths)
    types = [_field_type(schema, p) for p in paths]
    return _csv_rows(reader, paths, types, start_line)


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


def _csv_rows(
    reader: Any, paths: list[list[factpath.Segment]], types: list[Type | None], start_line: int
) -> Iterator[Item]:
    header_len = len(paths)
    for row in reader:
        n = reader.line_num
        if n < start_line or not any(cell.strip() for cell in row):
            continue
        if len(row) > header_len:
            yield n, None, _err(f"第 {n} 行的列数多于表头", "more cells than header columns")
            continue
        record: dict[str, Any] = {}
        for path, t, cell in zip(paths, types, row, strict=False):
            if cell != "" and path:  # the header was checked: paths neither repeat nor contain each other
                _put(record, path, _convert(cell, t))
        yield n, record, None


def _err(zh: str, en: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"zh": zh, "en": en}
    if problems:
        out["problems"] = problems
    return out


# ----------------------------------------------------------------------------------------------- workers

_POLICY: PolicySet | None = None


def _init(policy_path: str | None) -> None:
    global _POLICY
    _POLICY = load_policy(policy_path)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """A worker whose parent was killed (SIGKILL skips every clean-up) would wait on its queue for
    ever: watch for being re-parented and leave."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="xueji-parent-watch", daemon=True).start()


def judge_chunk(items: list[Item], on: dt.date, policy: PolicySet | None = None) -> tuple[bytes, list[tuple[int, str]]]:
    """Evaluate a chunk: the output bytes (whole lines) and the (article, outcome) pairs to count."""
    ps = policy or _POLICY
    assert ps is not None
    lines: list[str] = []
    counted: list[tuple[int, str]] = []
    for n, record, error in items:
        if error is not None:
            lines.append(json.dumps({"line": n, "error": error}, ensure_ascii=False))
            counted.append((0, "error"))
            continue
        try:
            decision = evaluate(record, on=on, policy=ps)
        except FactsError as ex:
            problems = [p.to_dict() for p in ex.problems]
            lines.append(
                json.dumps(
                    {
                        "line": n,
                        "error": _err("记录不符合事实模式", "the record does not fit the facts schema", problems),
                    },
                    ensure_ascii=False,
                )
            )
            counted.append((0, "error"))
            continue
        lines.append(json.dumps({"line": n, **decision.to_dict()}, ensure_ascii=False))
        counted.extend((f.article, f.outcome.value) for f in decision.findings)
    return ("".join(line + "\n" for line in lines)).encode("utf-8"), counted


# ------------------------------------------------------------------------------------------------ runner


@attrs.define
class Summary:
    records: int = 0
    errors: int = 0
    last_line: int = 0
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


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run_batch(
    items: Iterable[Item],
    out_fd: int,
    *,
    on: dt.date,
    policy_path: str | None,
    jobs: int,
    progress: Callable[[Summary], None] | None = None,
    chunk: int = CHUNK,
) -> Summary:
    """Evaluate ``items`` and write one line each to ``out_fd``, in input order."""
    summary = Summary()

    def done(n_items: list[Item], data: bytes, counted: list[tuple[int, str]]) -> None:
        _write_all(out_fd, data)
        summary.records += len(n_items)
        summary.last_line = n_items[-1][0]
        for key in counted:
            if key[1] == "error":
                summary.errors += 1
            else:
                summary.counts[key] += 1
        if progress is not None:
            progress(summary)

    try:
        if jobs <= 1:
            policy = load_policy(policy_path)
            for c in _chunks(items, chunk):
                done(c, *judge_chunk(c, on, policy))
            return summary
        window = jobs * 4
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(policy_path,)) as pool:
            pending: list[tuple[list[Item], Future[tuple[bytes, list[tuple[int, str]]]]]] = []
            try:
                for c in _chunks(items, chunk):
                    pending.append((c, pool.submit(judge_chunk, c, on)))
                    while len(pending) >= window or (pending and pending[0][1].done()):
                        first, fut = pending.pop(0)
                        done(first, *fut.result())
                while pending:
                    first, fut = pending.pop(0)
                    done(first, *fut.result())
            except BaseException:
                for _, fut in pending:
                    fut.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except KeyboardInterrupt:
        summary.interrupted = True
    return summary


def summarize(path: str) -> Summary:
    """The summary of a whole output file (read line by line: constant memory)."""
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
            for finding in line.get("findings", ()):
                summary.counts[(int(finding["article"]), str(finding["outcome"]))] += 1
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
    """End a run: cut a torn last line, flush to disk and rename ``FILE.part`` to ``FILE``."""
    resume_point(part)
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    os.replace(part, out)
    with contextlib.suppress(FileNotFoundError):
        os.remove(run_file(part))


def run_file(part: str) -> str:
    """Beside ``FILE.part``: what the run judges (input, date, policy), so --resume continues only it."""
    return part + ".run.json"


def run_identity(batch_input: str, on: dt.date, policy: str | None) -> dict[str, str | None]:
    same = "-" if batch_input == "-" else os.path.realpath(batch_input)
    return {"input": same, "on": on.isoformat(), "policy": os.path.realpath(policy) if policy else None}


def remember_run(part: str, identity: dict[str, str | None]) -> None:
    with open(run_file(part), "w", encoding="utf-8") as f:
        json.dump(identity, f)


def same_run(part: str, identity: dict[str, str | None]) -> str | None:
    """None when ``part`` was written by this run's input, date and policy (or says nothing), else why not."""
    try:
        with open(run_file(part), encoding="utf-8") as f:
            earlier = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    different = [k for k in ("input", "on", "policy") if earlier.get(k) != identity[k]]
    if not different:
        return None
    return ", ".join(f"{k} was {earlier.get(k)}, now {identity[k]}" for k in different)


def open_input(name: str) -> IO[str]:
    if name == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace", newline="")
    try:
        return open(name, encoding="utf-8-sig", errors="replace", newline="")
    except OSError as ex:
        raise XuejiError(f"{name}: {ex.strerror}") from None


def summary_text(summary: Summary, lang: str, elapsed: float) -> str:
    words = {o.value: o.value for o in Outcome}
    head = (
        f"{summary.records} 条记录，{summary.errors} 条错误，用时 {elapsed:.1f} 秒"
        if lang == "zh"
        else f"{summary.records} records, {summary.errors} errors, {elapsed:.1f} s"
    )
    lines = [head]
    by_article: dict[int, Counter[str]] = {}
    for (article, outcome), c in summary.counts.items():
        by_article.setdefault(article, Counter())[outcome] = c
    for article in sorted(by_article):
        parts = ", ".join(f"{words.get(o, o)} {c}" for o, c in sorted(by_article[article].items()))
        lines.append((f"  第{article}条: " if lang == "zh" else f"  Art. {article}: ") + parts)
    if summary.interrupted:
        lines.append(
            f"已中断：输出到输入第 {summary.last_line} 行为止；用 --resume 继续"
            if lang == "zh"
            else f"interrupted: output is complete up to input line {summary.last_line}; continue with --resume"
        )
    return "\n".join(lines)


clock = time.monotonic
