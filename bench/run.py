"""Speed, measured: ``python -m bench.run [--n 2000] [--seed 1] [--json FILE]``.

Prints, in one run (see ``bench/README.md`` for what each number means):

* per-student time of ``engine.evaluate`` (generated code, the default; then the closures, and the
  reference interpreter on the first ``--peer-n`` records, each with its ratio to the baseline), of the
  hand-written baseline (``bench.baseline``) and of
  the peer engines (``bench.peers``: rule-engine, CEL), each the median of ``--repeat`` runs over the
  generated records (``bench.records``); the peers run on the first ``--peer-n`` records;
* the ratios evaluate/baseline (target ≤ 2×) and peer/evaluate (target ≥ 10×);
* whether the baseline agrees with the engine on every record (outcome and due date of every
  finding) and how many findings each peer agrees on;
* cold start: ``python -c "import engine; engine.bundled_policy()"`` in fresh subprocesses, on a fresh
  copy of the package (no bytecode, empty lark-grammar and XDG caches): the first run, then the same
  command again with those caches warm (target ≤ 50 ms cached);
* the wall time of ``xueji lint`` on the bundled policies (target ≤ 0.5 s);
* the verbs' cold start: ``xueji eval`` of one record and ``xueji lint``, whole processes, best of
  ``--cold-runs`` after a first run that warms bytecode and the AST cache (targets ≤ 120 and ≤ 150 ms);
* ``xueji eval --batch`` of ``--batch-n`` generated records on ``--batch-jobs`` workers (all cores), a
  whole process, compact (the default) and ``--full``: records/s (target ≥ 10,000), output bytes per
  record (target ≤ 2 KB, compact) and the peak RSS of the largest process of the run; the compact run
  again on a tenth of the records shows whether the RSS stays flat. ``--batch-only`` runs only this.

Every target is printed MET or NOT MET. The exit status is 1 when the baseline disagrees with the
engine (the ratio would then compare different work), else 0 — whatever the timings.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import engine
from engine.run.interpreter import interpret
from engine.run.pipeline import load_policy

from . import baseline
from .compare import diff, engine_rows
from .records import DEFAULT_ON, generate, student

if TYPE_CHECKING:
    from .peers import Peer

REPO = Path(__file__).resolve().parent.parent
COLD_COMMAND = "import engine; engine.bundled_policy()"

TARGET_BASELINE_RATIO = 1.5  # evaluate / baseline ≤ 1.5× (issue 13; ≤ 2× before it)
TARGET_PEER_RATIO = 10.0  # peer / evaluate ≥ 10×
TARGET_COLD_MS = 50.0  # cached cold start ≤ 50 ms
TARGET_LINT_MS = 500.0  # xueji lint ≤ 0.5 s
TARGET_VERB_MS = {"eval": 120.0, "lint": 150.0}  # cold verbs, best of --cold-runs (issue 13)
VERB_ARGS = {
    "eval": ["eval", str(REPO / "fixtures" / "graduate-complete.yaml"), "--on", "2024-11-15"],
    "lint": ["lint"],
}

TARGET_BATCH_RPS = 10_000.0  # xueji eval --batch, records/s on all cores (issue 13)
TARGET_BATCH_KB = 2.0  # compact output, KB per record (issue 13)

Evaluator = Callable[[Mapping[str, Any], dt.date], object]


# ---------------------------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


# ------------------------------------------------------------------------------------------ per student


def per_student_us(fn: Evaluator, records: Sequence[Mapping[str, Any]], on: dt.date, repeat: int) -> list[float]:
    """Per-student time (µs) of each of ``repeat`` passes over ``records``, after a warm-up."""
    return interleaved_us([fn], records, on, repeat)[0]


def interleaved_us(
    fns: Sequence[Evaluator], records: Sequence[Mapping[str, Any]], on: dt.date, repeat: int
) -> list[list[float]]:
    """Per-student time (µs) of each of ``repeat`` passes over ``records`` by each evaluator, after a
    warm-up (the first 50 records), ``gc.collect()`` before each pass; the evaluators' passes
    interleaved (A B A B …), so that a machine that slows down or speeds up during the run weighs on
    each alike: their ratio is what counts."""
    for fn in fns:
        for r in records[: min(len(records), 50)]:
            fn(r, on)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times, strict=True):
            gc.collect()
            t0 = time.perf_counter()
            for r in records:
                fn(r, on)
            out.append((time.perf_counter() - t0) / len(records) * 1e6)
    return times


def kept_us(fn: Evaluator, records: Sequence[Mapping[str, Any]], on: dt.date, repeat: int) -> list[float]:
    """Per-student time when every result is kept (as a batch that collects decisions does)."""
    times: list[float] = []
    for _ in range(repeat):
        gc.collect()
        kept: list[object] = []
        t0 = time.perf_counter()
        for r in records:
            kept.append(fn(r, on))
        times.append((time.perf_counter() - t0) / len(records) * 1e6)
        del kept
    return times


def engine_fn() -> Evaluator:
    policy = engine.bundled_policy()

    def run(record: Mapping[str, Any], on: dt.date) -> object:
        return engine.evaluate(record, on=on, policy=policy)

    return run


def check_baseline(records: Sequence[Mapping[str, Any]], on: dt.date) -> tuple[int, int, list[str]]:
    """(records that disagree, findings compared, the first differences)."""
    policy = engine.bundled_policy()
    bad, findings = 0, 0
    shown: list[str] = []
    for i, r in enumerate(records):
        expected = engine_rows(engine.evaluate(r, on=on, policy=policy))
        findings += len(expected)
        lines = diff(expected, baseline.evaluate(r, on))
        if lines:
            bad += 1
            if len(shown) < 20:
                shown += [f"record {i} (id {r.get('id')}): {line}" for line in lines[:5]]
    return bad, findings, shown


def check_peer(peer: Peer, records: Sequence[Mapping[str, Any]], on: dt.date) -> tuple[int, int]:
    """(findings the peer agrees with the engine on, findings)."""
    policy = engine.bundled_policy()
    agree = total = 0
    for r in records:
        expected = {
            (f.rule, f.subject): (f.outcome.value, f.due) for f in engine.evaluate(r, on=on, policy=policy).findings
        }
        got = {(row[0], row[1]): (row[2], row[3]) for row in peer.evaluate(r, on)}
        total += len(expected)
        agree += sum(1 for k, v in expected.items() if got.get(k) == v)
    return agree, total


def profile_evaluate(records: Sequence[Mapping[str, Any]], on: dt.date, top: int) -> str:
    run = engine_fn()
    prof = cProfile.Profile()
    prof.enable()
    for r in records:
        run(r, on)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------------------------- subprocess times


def _timed(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    ms = (time.perf_counter() - t0) * 1000
    return ms, proc.returncode, (proc.stderr or proc.stdout)[-400:]


class Sandbox:
    """A fresh copy of the package (``engine/``, ``grammar/``, ``policies/``) without bytecode, and an
    environment whose ``TMPDIR`` (where lark caches the grammar) and ``XDG_CACHE_HOME`` are new empty
    directories. ``PYTHONDONTWRITEBYTECODE`` and ``PYTHONPYCACHEPREFIX`` are dropped so that the first
    run leaves the caches a second run uses, as on a developer's machine."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="xueji-bench-")
        base = Path(self._tmp.name)
        self.src = base / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for part in ("engine", "grammar", "policies"):
            shutil.copytree(REPO / part, self.src / part, ignore=ignore)
        (base / "tmp").mkdir()
        (base / "cache").mkdir()
        drop = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONPATH")
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(PYTHONPATH=str(self.src), TMPDIR=str(base / "tmp"), XDG_CACHE_HOME=str(base / "cache"))

    def run(self, cmd: Sequence[str]) -> tuple[float, int, str]:
        return _timed(cmd, self.src, self.env)

    def imports_copy(self) -> bool:
        proc = subprocess.run(
            [sys.executable, "-c", "import engine; print(engine.__file__)"],
            cwd=self.src,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip().startswith(str(self.src))

    def close(self) -> None:
        self._tmp.cleanup()


def cold_start(box: Sandbox, runs: int) -> dict[str, Any]:
    """``python -c "import engine; engine.bundled_policy()"``: the first run, then ``runs`` more."""
    cmd = [sys.executable, "-c", COLD_COMMAND]
    first, rc, err = box.run(cmd)
    if rc != 0:
        return {"error": f"exit {rc}: {err}"}
    cached = [box.run(cmd)[0] for _ in range(runs)]
    return {
        "first_ms": first,
        "second_ms": cached[0],
        "cached_ms": cached,
        "cached_median_ms": statistics.median(cached),
        "imported_from_copy": box.imports_copy(),
    }


def lint_time(box: Sandbox, runs: int) -> dict[str, Any]:
    """Wall time of ``xueji lint`` (the bundled policy set): the first run, then ``runs`` more."""
    script = Path(sys.executable).with_name("xueji")
    cmd = [str(script), "lint"] if script.exists() else [sys.executable, "-m", "engine.faces.cli", "lint"]
    first, rc, err = box.run(cmd)
    times = [box.run(cmd)[0] for _ in range(runs)]
    out: dict[str, Any] = {
        "command": "xueji lint" if script.exists() else "python -m engine.faces.cli lint",
        "exit": rc,
        "first_ms": first,
        "runs_ms": times,
        "median_ms": statistics.median(times),
    }
    if rc != 0:
        out["output"] = err
    return out


def verb_times(box: Sandbox, runs: int) -> dict[str, Any]:
    """Whole-process wall time of ``xueji eval`` (one record) and ``xueji lint``: a first run that
    warms bytecode and the AST cache, then the best of ``runs``."""
    out: dict[str, Any] = {}
    for verb, argv in VERB_ARGS.items():
        cmd = [sys.executable, "-m", "engine", *argv]
        _, rc, err = box.run(cmd)
        times = [box.run(cmd)[0] for _ in range(runs)]
        out[verb] = {"command": "xueji " + " ".join(argv), "exit": rc, "runs_ms": times, "best_ms": min(times)}
        if rc not in (0, 1):
            out[verb]["output"] = err
    return out


# Runs a command and writes its wall time, CPU time, exit status and peak RSS (wait4) to argv[1]. The
# command is started from this small process, not from the benchmark: a child's peak RSS counts the
# resident set of the process it was forked from (Linux keeps the high-water mark across exec), and
# the benchmark itself holds thousands of records and decisions by then.
_MEASURE = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
secs = time.perf_counter() - t0
proc.returncode = os.waitstatus_to_exitcode(status)
rss_kb = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
with open(sys.argv[1], "w") as f:
    json.dump({"secs": secs, "cpu": usage.ru_utime + usage.ru_stime, "exit": proc.returncode, "rss_kb": rss_kb}, f)
"""


def _tree(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, float, int, int, str]:
    """A whole process: wall seconds, CPU seconds, exit status, peak RSS in KB and the tail of its
    stderr. CPU and RSS are what ``wait4`` reports for it: the CPU time of the process and of every
    process it waited for (its workers), summed; the RSS the largest of them — one process's peak, not
    their sum."""
    with tempfile.TemporaryDirectory(prefix="xueji-measure-") as tmp:
        report = Path(tmp) / "measure.json"
        with (Path(tmp) / "stderr").open("w+b") as err:
            wrapper = [sys.executable, "-c", _MEASURE, str(report), *cmd]
            subprocess.run(wrapper, cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=err, check=False)
            err.seek(0)
            tail = err.read()[-400:].decode("utf-8", "replace")
        if not report.exists():
            return 0.0, 0.0, -1, 0, tail
        m = json.loads(report.read_text(encoding="utf-8"))
    return float(m["secs"]), float(m["cpu"]), int(m["exit"]), int(m["rss_kb"]), tail


def write_records(path: Path, n: int, seed: int, on: dt.date) -> None:
    """``n`` generated records as JSON Lines (one at a time: the bench holds none of them)."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(student(seed, i, on), ensure_ascii=False) + "\n")


def batch_times(n: int, full_n: int, seed: int, on: dt.date, jobs: int) -> dict[str, Any]:
    """``xueji eval --batch`` (``python -m engine``) as whole processes on generated records: compact on
    ``n`` and on ``n // 10`` records (is the RSS flat?), ``--full`` on ``full_n``, after a run on 20
    records that warms bytecode and the AST cache."""
    drop = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    runs = [("warm-up", 20, []), ("compact", n, []), ("compact, a tenth", n // 10, []), ("full", full_n, ["--full"])]
    out: dict[str, Any] = {"jobs": jobs, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="xueji-batch-") as tmp:
        records = Path(tmp) / "records.jsonl"
        written = 0
        for name, count, extra in sorted(runs, key=lambda r: r[1]):
            if count < 1:
                continue
            if count > written:  # record i depends only on (seed, i, on): the first k of n are the k records
                write_records(records, count, seed, on)
                written = count
            source = records if count == written else Path(tmp) / f"first-{count}.jsonl"
            if source != records:
                with records.open("rb") as f, source.open("wb") as g:
                    for _, line in zip(range(count), f, strict=False):
                        g.write(line)
            target = Path(tmp) / "out.jsonl"
            cmd = [sys.executable, "-m", "engine", "eval", "--batch", str(source), "--out", str(target)]
            cmd += ["--on", on.isoformat(), "--jobs", str(jobs), *extra]
            secs, cpu, rc, rss_kb, err = _tree(cmd, REPO, env)
            size = target.stat().st_size if target.exists() else 0
            run: dict[str, Any] = {
                "records": count,
                "seconds": secs,
                "records_per_s": count / secs if secs else 0.0,
                "cpu_us_per_record": cpu / count * 1e6,
                "bytes_per_record": size / count,
                "peak_rss_mb": rss_kb / 1024,
                "exit": rc,
            }
            if rc not in (0, 1):
                run["output"] = err
            out["runs"][name] = run
            target.unlink(missing_ok=True)
            if source != records:
                source.unlink()
    out["runs"] = {name: out["runs"][name] for name, _, _ in runs[1:] if name in out["runs"]}
    return out


def report_batch(args: argparse.Namespace, on: dt.date, results: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    full_n = args.batch_n if args.batch_full_n is None else args.batch_full_n
    b = batch_times(args.batch_n, full_n, args.seed, on, args.batch_jobs)
    results["batch"] = b
    print(
        f"xueji eval --batch, whole processes, generated records (seed {args.seed}), --jobs {b['jobs']}; "
        "RSS: the largest process (the parent or a worker)"
    )
    print("".ljust(W) + "  records   records/s   CPU µs/rec   KB/record   peak RSS MB   target")
    compact = b["runs"].get("compact")
    for name, run in b["runs"].items():
        rest = ""
        if name == "compact":
            rps_ok = run["exit"] in (0, 1) and run["records_per_s"] >= TARGET_BATCH_RPS
            kb_ok = run["exit"] in (0, 1) and run["bytes_per_record"] / 1024 <= TARGET_BATCH_KB
            targets.append(_target("batch records/s", run["records_per_s"], f">= {TARGET_BATCH_RPS:g}/s", rps_ok))
            targets.append(
                _target("batch KB/record", run["bytes_per_record"] / 1024, f"<= {TARGET_BATCH_KB:g} KB", kb_ok)
            )
            rest = f"≥ {TARGET_BATCH_RPS:,.0f}/s {_verdict(rps_ok)}, ≤ {TARGET_BATCH_KB:g} KB {_verdict(kb_ok)}"
        elif name == "compact, a tenth" and compact is not None:
            rest = (
                f"RSS flat: {run['peak_rss_mb']:.0f} MB here, {compact['peak_rss_mb']:.0f} MB on {compact['records']}"
            )
        if run["exit"] not in (0, 1):
            rest += f"  (exit {run['exit']}: {run.get('output', '')[-200:]!r})"
        print(
            f"  {name}".ljust(W)
            + f"  {run['records']:7d}   {run['records_per_s']:9,.0f}   {run['cpu_us_per_record']:10.0f}"
            + f"   {run['bytes_per_record'] / 1024:9.2f}"
            + f"   {run['peak_rss_mb']:11.0f}   {rest}".rstrip()
        )


# --------------------------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


W = 42  # label width of the report


def _row(label: str, value: float, rest: str) -> None:
    print(f"  {label}".ljust(W) + f" {value:8.1f}   {rest}".rstrip())


def _target(name: str, value: float | None, target: str, met: bool) -> dict[str, Any]:
    return {"name": name, "value": value, "target": target, "met": met}


def _print_targets(targets: list[dict[str, Any]]) -> None:
    print()
    print("targets")
    for tgt in targets:
        value = "-" if tgt["value"] is None else f"{tgt['value']:.1f}"
        print(f"  {tgt['name']:22} {value:>8}   " + f"({tgt['target']})".ljust(12) + f"  {_verdict(tgt['met'])}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description="Speed, measured (see bench/README.md).")
    ap.add_argument("--n", type=int, default=2000, help="records to generate (default 2000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument(
        "--on", type=dt.date.fromisoformat, default=DEFAULT_ON, help=f"judgement date (default {DEFAULT_ON})"
    )
    ap.add_argument("--repeat", type=int, default=5, help="timed passes per engine, median reported (default 5)")
    ap.add_argument("--peer-n", type=int, default=200, help="records the peers run on (default 200)")
    ap.add_argument("--cold-runs", type=int, default=5, help="cold-start runs after the first (default 5)")
    ap.add_argument("--no-peers", action="store_true", help="skip the peer engines")
    ap.add_argument("--profile", type=int, metavar="TOP", default=0, help="print cProfile's TOP functions of evaluate")
    ap.add_argument("--json", metavar="FILE", help="write every number to FILE as JSON")
    ap.add_argument(
        "--batch-n", type=int, default=20_000, help="records for xueji eval --batch (default 20000; 0 skips it)"
    )
    ap.add_argument("--batch-full-n", type=int, help="records for the --full batch run (default: --batch-n; 0 skips)")
    ap.add_argument(
        "--batch-jobs", type=int, default=os.cpu_count() or 1, help="--jobs of the batch runs (default: all cores)"
    )
    ap.add_argument("--batch-only", action="store_true", help="measure only xueji eval --batch")
    args = ap.parse_args(argv)
    if min(args.n, args.repeat, args.peer_n, args.cold_runs, args.batch_jobs) < 1:
        ap.error("--n, --repeat, --peer-n, --cold-runs and --batch-jobs must be at least 1")

    info = machine()
    on: dt.date = args.on
    if args.batch_only:
        print(f"machine: {info['cpu']}, {info['cores']} cores, {info['implementation']} {info['python']}")
        only: dict[str, Any] = {"machine": info, "params": {"seed": args.seed, "on": on.isoformat()}}
        only_targets: list[dict[str, Any]] = []
        report_batch(args, on, only, only_targets)
        only["targets"] = only_targets
        _print_targets(only_targets)
        if args.json:
            Path(args.json).write_text(json.dumps(only, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return 0
    records = generate(args.n, args.seed, on)
    peer_records = records[: args.peer_n]
    print(f"Xueji speed: {args.n} generated records (seed {args.seed}) judged on {on}, median of {args.repeat} runs")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['implementation']} {info['python']}")
    print()

    # -- agreement first: a ratio over different work would mean nothing --------------------------
    bad, findings, shown = check_baseline(records, on)
    results: dict[str, Any] = {
        "machine": info,
        "params": {"n": args.n, "seed": args.seed, "on": on.isoformat(), "repeat": args.repeat},
        "agreement": {"baseline_records_disagreeing": bad, "records": len(records), "findings": findings},
    }
    targets: list[dict[str, Any]] = []

    # -- per student --------------------------------------------------------------------------------
    run_engine = engine_fn()
    policy = engine.bundled_policy()

    def read_findings(record: Mapping[str, Any], day: dt.date) -> object:
        """evaluate, then read every finding's outcome: what a caller that looks at them all pays."""
        return [f.outcome for f in engine.evaluate(record, on=day, policy=policy).findings]

    ev_times, bl_times, rd_times = interleaved_us(
        [run_engine, baseline.evaluate, read_findings], records, on, args.repeat
    )
    ev, bl, rd = statistics.median(ev_times), statistics.median(bl_times), statistics.median(rd_times)
    per: dict[str, Any] = {
        "evaluate": {"median_us": ev, "runs_us": ev_times, "records": len(records)},
        "baseline": {"median_us": bl, "runs_us": bl_times, "records": len(records)},
    }
    ev_kept = statistics.median(kept_us(run_engine, records, on, max(1, args.repeat // 2)))
    bl_kept = statistics.median(kept_us(baseline.evaluate, records, on, max(1, args.repeat // 2)))
    per["evaluate_keeping_decisions"] = {"median_us": ev_kept, "records": len(records)}
    per["evaluate_reading_findings"] = {"median_us": rd, "records": len(records), "ratio_to_baseline": rd / bl}
    per["baseline_keeping_rows"] = {"median_us": bl_kept, "records": len(records)}
    ratio = ev / bl
    ok = ratio <= TARGET_BASELINE_RATIO
    targets.append(_target("evaluate / baseline", ratio, f"<= {TARGET_BASELINE_RATIO:g}x", ok))
    print(f"per student, µs ({len(records)} records)".ljust(W) + "   median   ratio                      target")
    _row("engine.evaluate (generated code, the default)", ev, f"evaluate/baseline {ev / bl:6.1f}×")
    # the other two evaluators, on the same records: the closures (the exact fallback) and the
    # reference interpreter (slow: on the first --peer-n records)
    closures = load_policy(None, evaluator="closures")
    cl = statistics.median(
        per_student_us(lambda r, d: engine.evaluate(r, on=d, policy=closures), records, on, args.repeat)
    )
    bundled = engine.bundled_policy()
    it = statistics.median(
        per_student_us(lambda r, d: interpret(bundled, r, on=d), peer_records, on, max(1, args.repeat // 2))
    )
    fallbacks = {f"{v.id}:{r}": why for v in bundled.versions for r, why in v.compiled.fallbacks.items()}
    per["evaluate_closures"] = {"median_us": cl, "records": len(records), "ratio_to_baseline": cl / bl}
    per["interpreter"] = {"median_us": it, "records": len(peer_records), "ratio_to_baseline": it / bl}
    per["evaluate"]["ratio_to_baseline"] = ev / bl
    per["generated_fallbacks"] = fallbacks
    _row("engine.evaluate (closures)", cl, f"closures/baseline {cl / bl:6.1f}×")
    _row(f"reference interpreter ({len(peer_records)} records)", it, f"interp./baseline  {it / bl:6.1f}×")
    print("  rules the generator declined (closures judge them): " + (", ".join(fallbacks) or "none"))
    _row(
        "baseline (hand-written Python)",
        bl,
        f"evaluate/baseline {ratio:6.1f}×   ≤ {TARGET_BASELINE_RATIO:g}×   {_verdict(ok)}",
    )
    _row("engine.evaluate, every finding read", rd, f"read/baseline     {rd / bl:6.1f}×   (built when read)")
    _row("engine.evaluate, every decision kept", ev_kept, "(no target: a batch holding its results; see README)")
    _row("baseline, every result kept", bl_kept, "")
    peer_agreement: list[str] = []
    peers: list[Peer] = []
    if not args.no_peers:
        try:
            from .peers import CelPeer, RuleEnginePeer
        except ImportError as ex:
            print(f"  peers skipped: {ex} (install them with: pip install -e '.[bench]')")
        else:
            peers = [RuleEnginePeer(), CelPeer()]
    if peers:
        ev_sub = statistics.median(per_student_us(run_engine, peer_records, on, args.repeat))
        per["evaluate_on_peer_records"] = {"median_us": ev_sub, "records": len(peer_records)}
        print(f"per student, µs (the first {len(peer_records)} records)")
        _row("engine.evaluate", ev_sub, "")
        for peer in peers:
            times = per_student_us(peer.evaluate, peer_records, on, args.repeat)
            t = statistics.median(times)
            ratio = t / ev_sub
            ok = ratio >= TARGET_PEER_RATIO
            agree, total = check_peer(peer, peer_records, on)
            per[peer.name] = {
                "median_us": t,
                "runs_us": times,
                "records": len(peer_records),
                "ratio_to_evaluate": ratio,
                "findings_agreeing": agree,
                "findings": total,
            }
            targets.append(_target(f"{peer.name} / evaluate", ratio, f">= {TARGET_PEER_RATIO:g}x", ok))
            _row(
                f"{peer.name} (peer)", t, f"peer/evaluate     {ratio:6.1f}×   ≥ {TARGET_PEER_RATIO:g}×  {_verdict(ok)}"
            )
            peer_agreement.append(f"{peer.name} agrees on {agree}/{total} findings ({100 * agree / total:.1f}%)")
    results["per_student"] = per
    print()
    if bad:
        print(f"agreement: the baseline DISAGREES with engine.evaluate on {bad} of {len(records)} records:")
        for line in shown:
            print(f"  {line}")
    else:
        print(f"agreement: the baseline gives the engine's outcome and due date for all {findings} findings;")
    if peer_agreement:
        print(f"           on the first {len(peer_records)} records " + ", ".join(peer_agreement))
    print()

    # -- cold start and lint, in fresh subprocesses ---------------------------------------------------
    box = Sandbox()
    try:
        cold = cold_start(box, args.cold_runs)
        lint = lint_time(box, 3)
        verbs = verb_times(box, args.cold_runs)
    finally:
        box.close()
    results["cold_start"] = cold
    results["lint"] = lint
    print(f'cold start: python -c "{COLD_COMMAND}" (fresh copy of the package, fresh caches)')
    if "error" in cold:
        print(f"  failed: {cold['error']}")
        targets.append(_target("cold start, cached", None, f"<= {TARGET_COLD_MS:g} ms", False))
    else:
        ok = cold["cached_median_ms"] <= TARGET_COLD_MS
        targets.append(_target("cold start, cached", cold["cached_median_ms"], f"<= {TARGET_COLD_MS:g} ms", ok))
        _row("first run (no bytecode, no lark cache)", cold["first_ms"], "ms")
        _row("second run (cached)", cold["second_ms"], "ms")
        _row(
            f"cached, median of {len(cold['cached_ms'])} runs",
            cold["cached_median_ms"],
            f"ms   target ≤ {TARGET_COLD_MS:g} ms    {_verdict(ok)}",
        )
        if not cold["imported_from_copy"]:
            print("  warning: the subprocess did not import the fresh copy of engine/")
    ok = lint["exit"] == 0 and lint["median_ms"] <= TARGET_LINT_MS
    targets.append(_target("xueji lint", lint["median_ms"], f"<= {TARGET_LINT_MS:g} ms", ok))
    print(f"{lint['command']} (the bundled policies)")
    _row("first run", lint["first_ms"], "ms")
    _row(
        f"median of {len(lint['runs_ms'])} runs after it",
        lint["median_ms"],
        f"ms   target ≤ {TARGET_LINT_MS:g} ms   {_verdict(ok)}"
        + ("" if lint["exit"] == 0 else f"  (exit {lint['exit']})"),
    )
    print(f"cold verbs, whole processes, best of {args.cold_runs} (bytecode and AST cache warm)")
    for verb, v in verbs.items():
        ok = v["exit"] in (0, 1) and v["best_ms"] <= TARGET_VERB_MS[verb]
        targets.append(_target(f"cold xueji {verb}", v["best_ms"], f"<= {TARGET_VERB_MS[verb]:g} ms", ok))
        _row(f"xueji {verb}", v["best_ms"], f"ms   target ≤ {TARGET_VERB_MS[verb]:g} ms   {_verdict(ok)}")
    results["verbs"] = verbs
    if args.batch_n > 0:
        print()
        report_batch(args, on, results, targets)
    results["targets"] = targets
    _print_targets(targets)

    if args.profile:
        text = profile_evaluate(records, on, args.profile)
        results["profile"] = text
        print()
        print(f"cProfile of engine.evaluate over {len(records)} records (by own time):")
        print(text.rstrip())

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"numbers written to {args.json}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
