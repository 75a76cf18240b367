"""Batch and the engine under faults (issue 16, point 3): a run killed with SIGKILL, a full disk, a
worker killed by the system, eight threads judging with one policy, processes sharing one cache.

Each test is bounded: small inputs, and every wait has a deadline (a process that hangs fails the
test instead of hanging the suite). None asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from bench.records import generate
from engine import cache
from engine.run.pipeline import EVALUATORS, load_policy
from engine.sources.yamlsource import load_data

REPO = Path(__file__).resolve().parent.parent
FIXTURES = sorted((REPO / "fixtures").glob("*.yaml"))
ON = "2024-11-15"
#: the longest any process of these tests may take before the test fails (a hang, not a slow machine)
BOUND = 120.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sets rlimits")


def _fixtures() -> list[dict[str, Any]]:
    out = []
    for f in FIXTURES:
        record, _ = load_data(f.read_bytes(), str(f))
        assert isinstance(record, dict)
        out.append(record)
    return out


def _write_jsonl(path: Path, n: int) -> None:
    records = _fixtures()
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(records[i % len(records)], ensure_ascii=False) + "\n")


def _xueji(*argv: str) -> list[str]:
    return [sys.executable, "-m", "engine.faces.cli", *argv]


def _batch(src: Path, out: Path, *more: str) -> list[str]:
    return _xueji("eval", "--batch", str(src), "--out", str(out), "--on", ON, *more)


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=BOUND, check=False, **kw)


def _reference(src: Path, tmp_path: Path, *mode: str) -> bytes:
    """The output of a run that was never stopped."""
    out = tmp_path / "reference.jsonl"
    done = _run(_batch(src, out, "--jobs", "1", *mode))
    assert done.returncode in (0, 1), done.stderr
    return out.read_bytes()


def _has_a_line(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return b"\n" in f.read(1 << 20)
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(p.name))
    return out


@contextlib.contextmanager
def _session(cmd: list[str], **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, and whatever is left of that session killed at the end."""
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, **kw)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=BOUND)


def _write(fd: int, data: bytes, deadline: float) -> None:
    """All of ``data`` to the non-blocking pipe ``fd``; a process that stops reading fails the test
    at ``deadline`` instead of blocking it."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            assert time.monotonic() < deadline, "the process stopped reading its input"
            time.sleep(0.005)


def _feed(proc: subprocess.Popen[bytes], lines: list[bytes], until: Callable[[], bool]) -> int:
    """Write ``lines`` to ``proc``'s input 64 at a time, giving the process a moment after each, until
    ``until()`` holds (then 64 more, so the process is busy when the test acts) or the lines run
    out; how many were written. The input stays open: the run cannot have finished."""
    assert proc.stdin is not None
    fd = proc.stdin.fileno()
    os.set_blocking(fd, False)
    deadline = time.monotonic() + BOUND
    fed = 0
    while fed < len(lines):
        assert proc.poll() is None, "the process ended"
        _write(fd, b"".join(lines[fed : fed + 64]), deadline)
        fed = min(fed + 64, len(lines))
        moment = time.monotonic() + 0.25
        while time.monotonic() < moment and not until():
            time.sleep(0.005)
        if until():
            _write(fd, b"".join(lines[fed : fed + 64]), deadline)
            return min(fed + 64, len(lines))
        assert time.monotonic() < deadline, f"nothing came of {fed} lines within {BOUND} s"
    return fed


def _complete_prefix(part: Path, whole: bytes) -> bytes:
    """What ``part`` holds: complete lines only, the start of the output of an uninterrupted run."""
    written = part.read_bytes()
    assert written.endswith(b"\n") or written == b"", "a torn last line was left"
    assert whole.startswith(written)
    return written


# ------------------------------------------------------------------------------------ kill -9, then --resume


@pytest.mark.parametrize(("mode", "n"), [((), 1000), (("--full",), 600)], ids=["compact", "full"])
def test_kill_9_mid_run_then_resume_gives_the_same_bytes(tmp_path: Path, mode: tuple[str, ...], n: int) -> None:
    """The records come through a pipe, fed a chunk at a time, so the kill lands mid-run (the input
    is not over) however fast or loaded the machine is."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    part = tmp_path / "out.jsonl.part"
    _write_jsonl(src, n)
    lines = src.read_bytes().splitlines(keepends=True)
    cmd = _xueji("eval", "--batch", "-", "--out", str(out), "--on", ON, *mode)
    with _session([*cmd, "--jobs", "2"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        fed = _feed(proc, lines, lambda: _has_a_line(part))
        assert fed < len(lines)
        proc.send_signal(signal.SIGKILL)  # the xueji process alone, as `kill -9 PID` does
        proc.wait(timeout=BOUND)
    assert not out.exists() and (tmp_path / "out.jsonl.part.run.json").exists()
    whole = _reference(src, tmp_path, *mode)
    written = part.read_bytes()
    assert written.count(b"\n") >= 1 and whole.startswith(written[: written.rfind(b"\n") + 1])
    with src.open("rb") as stdin:
        resumed = subprocess.run(
            [*cmd, "--jobs", "2", "--resume"], cwd=REPO, stdin=stdin, capture_output=True, timeout=BOUND, check=False
        )
    assert resumed.returncode in (0, 1), resumed.stderr
    assert out.read_bytes() == whole
    assert not part.exists() and not (tmp_path / "out.jsonl.part.run.json").exists()


# ----------------------------------------------------------------------------------------------- full disk


def _file_size_limit(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        # Python ignores SIGXFSZ (so does the child, once its interpreter starts): a write past the
        # limit fails with EFBIG instead of killing the process, as a write to a full disk fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk_is_a_clear_error_keeps_complete_lines_and_resumes(tmp_path: Path, jobs: str) -> None:
    assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN  # what the child's interpreter does too
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    part = tmp_path / "out.jsonl.part"
    _write_jsonl(src, 400)
    whole = _reference(src, tmp_path)
    limit = len(whole) // 3
    assert limit > 64 * 1024  # more than a chunk's output: the run wrote some chunks whole
    env = {**os.environ, "XUEJI_NO_CACHE": "1"}  # the cache is not the file that fills the disk here
    full = _run(_batch(src, out, "--jobs", jobs), preexec_fn=_file_size_limit(limit), env=env)
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr and "internal error" not in full.stderr
    assert str(part) in full.stderr and "File too large" in full.stderr and "--resume" in full.stderr
    assert not out.exists()  # a run that failed is not passed off as a finished one
    written = _complete_prefix(part, whole)
    assert written.count(b"\n") >= 128
    last = json.loads(written.splitlines()[-1])["line"]
    assert f"input line {last}" in full.stderr
    resumed = _run(_batch(src, out, "--jobs", jobs, "--resume"))
    assert resumed.returncode in (0, 1), resumed.stderr
    assert out.read_bytes() == whole


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="no /dev/full")
@pytest.mark.parametrize("out", ["/dev/full", "-"])
def test_a_device_or_stdout_that_is_full_is_a_clear_error(tmp_path: Path, out: str) -> None:
    """Written directly (no FILE.part to keep): the error names what could not be written."""
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 300)
    with open("/dev/full", "wb") as stdout:
        full = subprocess.run(
            _xueji("eval", "--batch", str(src), "--out", out, "--on", ON, "--jobs", "2"),
            cwd=REPO,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=BOUND,
            check=False,
        )
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr and "internal error" not in full.stderr
    named = "/dev/full" if out != "-" else "standard output"
    assert f"cannot write {named}: No space left on device" in full.stderr


# -------------------------------------------------------------------------------------- a worker killed


def test_a_worker_killed_by_the_system_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    part, err = tmp_path / "out.jsonl.part", tmp_path / "stderr.txt"
    _write_jsonl(src, 1000)
    lines = src.read_bytes().splitlines(keepends=True)
    cmd = _xueji("eval", "--batch", "-", "--out", str(out), "--on", ON, "--jobs", "2")
    with err.open("wb") as stderr, _session(cmd, stdin=subprocess.PIPE, stderr=stderr) as proc:
        fed = _feed(proc, lines, lambda: _has_a_line(part))
        assert fed < len(lines)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
        assert proc.stdin is not None
        proc.stdin.close()  # the input ends: the parent waits for the chunks in flight, one of them lost
        proc.wait(timeout=BOUND)  # never a hang: a TimeoutExpired fails the test
    message = err.read_text(encoding="utf-8")
    assert proc.returncode == 2, message
    assert "Traceback" not in message and "internal error" not in message
    assert "worker process ended abruptly" in message and str(part) in message and "--resume" in message
    assert not out.exists()
    whole = _reference(src, tmp_path)
    _complete_prefix(part, whole)
    with src.open("rb") as stdin:
        resumed = subprocess.run(
            [*cmd, "--resume"], cwd=REPO, stdin=stdin, capture_output=True, timeout=BOUND, check=False
        )
    assert resumed.returncode in (0, 1), resumed.stderr
    assert out.read_bytes() == whole


# ----------------------------------------------------------------------------------------------- threads


@pytest.mark.parametrize("evaluator", EVALUATORS)
def test_eight_threads_judge_as_one_thread_does(evaluator: str) -> None:
    records = generate(60, seed=16) + _fixtures()
    policy = load_policy(None, evaluator=evaluator)  # fresh: anything built lazily is built under threads
    start = threading.Barrier(8)
    got: dict[int, list[dict[str, Any]]] = {}
    failed: list[BaseException] = []

    def judge(k: int) -> None:
        try:
            start.wait(timeout=BOUND)
            order = records[k:] + records[:k]  # each thread in its own order
            decided = [engine.evaluate(r, on=ON, policy=policy).to_dict() for r in order]
            got[k] = decided[len(records) - k :] + decided[: len(records) - k]
        except BaseException as ex:  # reported by the test below
            failed.append(ex)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=judge, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=BOUND)
    finally:
        sys.setswitchinterval(interval)
    assert not failed, failed
    assert not any(t.is_alive() for t in threads)
    alone = load_policy(None, evaluator=evaluator)
    expected = [engine.evaluate(r, on=ON, policy=alone).to_dict() for r in records]
    for k in range(8):
        assert got[k] == expected, f"thread {k}"


# ------------------------------------------------------------------------------------------ shared cache


def test_processes_sharing_one_cache_directory_never_corrupt_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in ("XUEJI_NO_CACHE", "XUEJI_DEBUG")}
    env["XUEJI_CACHE_DIR"] = str(where)
    verbs = {
        "lint": _xueji("lint", "--format", "json"),
        "eval": _xueji("eval", *map(str, FIXTURES), "--on", ON, "--format", "json"),
    }
    alone = {verb: _run(cmd, env={**env, "XUEJI_NO_CACHE": "1"}) for verb, cmd in verbs.items()}
    # two processes at once, five times; every round but the last on a cold cache (the key kept
    # after the first), so both processes of a round write entries, often the same ones
    rounds = [("eval", "eval"), ("lint", "lint"), ("lint", "eval"), ("eval", "eval"), ("lint", "eval")]
    for k, pair in enumerate(rounds):
        if k < len(rounds) - 1 and where.exists():
            for entry in where.iterdir():
                if entry.name != "key":
                    entry.unlink()
        procs = [
            (
                verb,
                subprocess.Popen(
                    verbs[verb], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                ),
            )
            for verb in pair
        ]
        for verb, p in procs:
            stdout, stderr = p.communicate(timeout=BOUND)
            assert (p.returncode, stdout) == (alone[verb].returncode, alone[verb].stdout), f"round {k}, {verb}"
            assert "warning: cache" not in stderr, stderr
    monkeypatch.delenv("XUEJI_NO_CACHE", raising=False)
    monkeypatch.setenv("XUEJI_CACHE_DIR", str(where))
    monkeypatch.setattr(cache, "_state", {})
    names = sorted(p.name for p in where.iterdir())
    assert "key" in names and (where / "key").stat().st_size == 32
    assert not [n for n in names if n.endswith(".tmp")], names  # no temporary file left behind
    entries = [n for n in names if n != "key"]
    assert {n.split("-", 1)[0] for n in entries} >= {"ast", "code", "cases"}, entries
    for name in entries:
        assert cache.load(name) is not None, f"{name} does not verify"
