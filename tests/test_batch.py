"""`xueji eval --batch`: one output line per input record, in input order, errors included; an
interrupted or killed run leaves complete lines only and `--resume` finishes it."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.faces.cli import main
from engine.sources.yamlsource import load_data
from engine.tools import batch

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures").glob("*.yaml"))


def _records() -> list[dict[str, Any]]:
    out = []
    for f in FIXTURES:
        record, _ = load_data(f.read_bytes(), str(f))
        assert isinstance(record, dict)
        out.append(record)
    return out


def _write_jsonl(path: Path, n: int, bad: dict[int, str] | None = None) -> None:
    records = _records()
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(
                bad[i] + "\n" if bad and i in bad else json.dumps(records[i % len(records)], ensure_ascii=False) + "\n"
            )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


SEVERITY = ["violated", "unknown", "pending", "satisfied", "not_applicable"]  # worst first
BAD = {3: "{not json", 9: "   ", 17: '{"id": 7, "level": "bachelors"}', 30: '{"id": "1", "id": "2"}'}


def _compact_from_full(full: dict[str, Any]) -> dict[str, Any]:
    """What a compact line must say, derived from the full line of the same record."""
    if "error" in full:
        return full
    worst: dict[int, str] = {}
    for f in full["findings"]:
        if f["article"] not in worst or SEVERITY.index(f["outcome"]) < SEVERITY.index(worst[f["article"]]):
            worst[f["article"]] = f["outcome"]
    out: dict[str, Any] = {}
    for key, value in full.items():
        if key == "findings":
            out["outcomes"] = {str(a): worst[a] for a in sorted(worst)}
            value = [f for f in value if f["outcome"] not in ("satisfied", "not_applicable")]
        out[key] = value
    return out


@pytest.mark.parametrize("on", ["2024-11-15", "2021-06-01", "2026-12-31"])
def test_compact_lines_say_what_the_full_lines_say(tmp_path: Path, on: str) -> None:
    """Line by line, byte for byte: a compact line is the full line with ``outcomes`` (each article's
    worst outcome) and only the findings that are neither satisfied nor not applicable."""
    src, compact, full = tmp_path / "in.jsonl", tmp_path / "compact.jsonl", tmp_path / "full.jsonl"
    _write_jsonl(src, 40, BAD)
    base = ["eval", "--batch", str(src), "--on", on, "--jobs", "1"]
    assert main([*base, "--out", str(compact)]) == main([*base, "--out", str(full), "--full"]) == 2
    compact_lines = compact.read_text(encoding="utf-8").splitlines()
    full_lines = full.read_text(encoding="utf-8").splitlines()
    assert len(compact_lines) == len(full_lines) == 39  # the blank line is no record
    for c, f in zip(compact_lines, full_lines, strict=True):
        assert c == json.dumps(_compact_from_full(json.loads(f)), ensure_ascii=False)
    if on == "2024-11-15":  # in force: most findings are settled
        assert len(compact.read_bytes()) < len(full.read_bytes()) / 4


def test_full_lines_are_the_decision_as_before(tmp_path: Path) -> None:
    """--full writes exactly what the batch wrote before compact lines existed: ``{"line": n,
    **decision.to_dict()}`` (json.dumps, ensure_ascii=False) or the error record."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 20, {3: "{not json"})
    main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", "2", "--full"])
    records = _records()
    expected = []
    for i in range(20):
        if i == 3:
            error = {
                "zh": "第 4 行不是有效的 JSON：Expecting property name enclosed in double quotes（第 2 列）",
                "en": "not valid JSON: Expecting property name enclosed in double quotes (column 2)",
            }
            expected.append(json.dumps({"line": 4, "error": error}, ensure_ascii=False))
            continue
        decision = engine.evaluate(records[i % len(records)], on="2024-11-15")
        expected.append(json.dumps({"line": i + 1, **decision.to_dict()}, ensure_ascii=False))
    assert out.read_text(encoding="utf-8") == "".join(line + "\n" for line in expected)


def test_workers_get_raw_lines_in_chunks_and_keep_order(tmp_path: Path) -> None:
    """Many small chunks over two workers: the same bytes as one process, bad lines numbered."""
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 90, BAD)
    outputs = []
    for jobs, chunk in ((1, batch.CHUNK), (2, 7)):
        out = tmp_path / f"out-{jobs}.jsonl"
        with src.open(encoding="utf-8", newline="") as stream, out.open("wb") as f:
            source = batch.open_source(stream, engine.bundled_policy().schema, is_csv=False)
            summary = batch.run_batch(
                source, f.fileno(), on=dt.date(2024, 11, 15), policy_path=None, jobs=jobs, chunk=chunk
            )
        assert (summary.records, summary.errors, summary.last_line) == (89, 3, 90)
        assert summary == batch.summarize(str(out))  # the file says what the run counted
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    lines = [json.loads(line) for line in outputs[0].splitlines()]
    assert [x["line"] for x in lines] == [n for n in range(1, 91) if n != 10]
    assert {x["line"] for x in lines if "error" in x} == {4, 18, 31}


def test_summary_reads_both_output_modes(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 25, BAD)
    summaries = []
    for mode in ([], ["--full"]):
        out = tmp_path / f"out{len(mode)}.jsonl"
        main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", "1", *mode])
        summaries.append(batch.summarize(str(out)))
    assert summaries[0] == summaries[1]
    assert summaries[0].records == 24 and summaries[0].errors == 2
    # per article, every judged record once: by its worst outcome there
    judged = summaries[0].records - summaries[0].errors
    for article in {a for a, _ in summaries[0].counts}:
        assert sum(c for (a, _), c in summaries[0].counts.items() if a == article) <= judged


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_malformed_lines_keep_count_and_order(tmp_path: Path, jobs: str) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bad = {3: "{not json", 40: '{"id": 7, "level": "bachelors"}', 41: "[1, 2]", 99: '"a string"'}
    _write_jsonl(src, 150, bad)
    code = main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", jobs])
    lines = _lines(out)
    assert code == 2  # some input lines were bad
    assert [x["line"] for x in lines] == list(range(1, 151))
    errors = {x["line"] for x in lines if "error" in x}
    assert errors == {4, 41, 42, 100}
    problem_paths = {p["path"] for p in lines[40]["error"]["problems"]}
    assert "level" in problem_paths  # a schema problem names its field path
    assert all("findings" in x for x in lines if "error" not in x)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_csv_rows_go_to_the_workers_whole(tmp_path: Path, jobs: str) -> None:
    """A quoted cell may hold a newline: a row is numbered by the line where it ends, as before."""
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text(
        'id,name,academic_education,admission.year\n7,"李\n明",true,2022\n\n8,王芳,true,2023,extra\n9,x,true,2024\n',
        encoding="utf-8",
    )
    assert main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", jobs]) == 2
    first, second, third = _lines(out)
    assert (first["line"], first["id"]) == (3, "7") and "outcomes" in first
    assert second["line"] == 5 and "more cells" in second["error"]["en"]
    assert (third["line"], third["id"]) == (6, "9")


def test_csv_columns_are_field_paths(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text(
        "id,name,academic_education,admission.year,academic_years[0].year,academic_years[0].term_start\n"
        "2022010203,李明,true,2022,2023,2023-09-04\n"
        "2022010204,王芳,false,x,,\n",
        encoding="utf-8",
    )
    main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", "1"])
    first, second = _lines(out)
    assert first["line"] == 2 and first["id"] == "2022010203" and first["findings"]
    assert second["line"] == 3 and "error" in second  # admission.year "x" is not an integer
    assert any(p["path"] == "admission.year" for p in second["error"]["problems"])


@pytest.mark.parametrize("mode", [[], ["--full"]], ids=["compact", "full"])
def test_resume_continues_after_last_complete_line(tmp_path: Path, mode: list[str]) -> None:
    src, full, part = tmp_path / "in.jsonl", tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    _write_jsonl(src, 300, {5: "{torn", 150: "[]"})
    main(["eval", "--batch", str(src), "--out", str(full), "--on", "2024-11-15", "--jobs", "1", *mode])
    whole = full.read_bytes().splitlines(keepends=True)
    # a killed run: FILE.part with 137 complete lines and half of the 138th, and what it was judging
    (tmp_path / "part.jsonl.part").write_bytes(b"".join(whole[:137]) + whole[137][: len(whole[137]) // 2])
    identity = {
        "input": str(src.resolve()),
        "on": "2024-11-15",
        "policy": None,
        "output": "full" if mode else "compact",
    }
    (tmp_path / "part.jsonl.part.run.json").write_text(json.dumps(identity), encoding="utf-8")
    cmd = ["eval", "--batch", str(src), "--out", str(part), "--on", "2024-11-15", "--jobs", "2", "--resume", *mode]
    assert main(cmd) == 2  # the whole output's exit code: two lines are in error
    assert part.read_bytes() == full.read_bytes()


@pytest.mark.parametrize("mode", [[], ["--full"]], ids=["compact", "full"])
def test_resume_refuses_another_output_mode(
    tmp_path: Path, mode: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 12)
    base = ["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", "1"]
    main([*base, *mode])
    written = out.read_bytes()
    other = [] if mode else ["--full"]
    # a finished run (no run file any more: the output's own lines say how it was written) ...
    assert main([*base, "--resume", *other]) == 2
    assert "--full" in capsys.readouterr().err
    # ... and a killed one (its run file says it)
    part = tmp_path / "out.jsonl.part"
    part.write_bytes(written[: len(written) // 2])
    identity = {
        "input": str(src.resolve()),
        "on": "2024-11-15",
        "policy": None,
        "output": "full" if mode else "compact",
    }
    (tmp_path / "out.jsonl.part.run.json").write_text(json.dumps(identity), encoding="utf-8")
    assert main([*base, "--resume", *other]) == 2
    err = capsys.readouterr().err
    assert "another run (output was " in err and "--full" in err
    assert main([*base, "--resume", *mode]) == 1
    assert out.read_bytes() == written


def test_killed_run_leaves_complete_lines_and_resume_finishes(tmp_path: Path) -> None:
    src, out, full = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "full.jsonl"
    _write_jsonl(src, 6000)
    cmd = [sys.executable, "-m", "engine.faces.cli", "eval", "--batch", str(src), "--on", "2024-11-15", "--jobs", "2"]
    proc = subprocess.Popen([*cmd, "--out", str(out)], stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    part_file = out.with_name(out.name + ".part")
    while time.monotonic() < deadline and (not part_file.exists() or part_file.stat().st_size < 50_000):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the output file is never half-written: the run wrote FILE.part, renamed only when a run ends
    part = out.with_name(out.name + ".part")
    assert not out.exists() and part.exists()
    written = part.read_bytes()
    complete = written[: written.rfind(b"\n") + 1].decode("utf-8")
    done = [json.loads(line)["line"] for line in complete.splitlines()]
    assert done == list(range(1, len(done) + 1))
    assert len(done) < 6000, "the run was killed before it finished"
    subprocess.run([*cmd, "--out", str(out), "--resume"], check=False, stderr=subprocess.DEVNULL)
    subprocess.run([*cmd, "--out", str(full), "--jobs", "1"], check=False, stderr=subprocess.DEVNULL)
    assert out.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")


def test_batch_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--batch", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert main(["eval", "--batch", "x.jsonl"]) == 2
    assert "--out" in capsys.readouterr().err


def test_csv_header_with_a_huge_index_is_refused_before_any_output(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text("id,academic_years[99999999].year\n1,2023\n", encoding="utf-8")
    assert main(["eval", "--batch", str(src), "--out", str(out), "--jobs", "1"]) == 2
    assert not out.exists() and not (tmp_path / "out.jsonl.part").exists()


def test_a_bad_input_name_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "keep.jsonl"
    out.write_text('{"line": 1}\n', encoding="utf-8")
    assert main(["eval", "--batch", str(tmp_path / "typo.jsonl"), "--out", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == '{"line": 1}\n'


def test_out_to_a_device_or_through_a_symlink_is_never_replaced(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, 5)
    fifo_free_device = Path("/dev/null")
    main(["eval", "--batch", str(src), "--out", str(fifo_free_device), "--on", "2024-11-15", "--jobs", "1"])
    assert fifo_free_device.is_char_device()
    real, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    link.symlink_to(real)
    main(["eval", "--batch", str(src), "--out", str(link), "--on", "2024-11-15", "--jobs", "1"])
    assert link.is_symlink() and len(_lines(real)) == 5


def test_a_repeated_key_in_a_jsonl_record_is_an_error_line(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"id": "1", "id": "2"}\n', encoding="utf-8")
    assert main(["eval", "--batch", str(src), "--out", str(out), "--jobs", "1"]) == 2
    (line,) = _lines(out)
    assert line["line"] == 1 and "appears twice" in line["error"]["en"]


def test_csv_can_say_an_empty_list(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text("id,academic_education,diplomas,certificates\n7,true,[],[]\n", encoding="utf-8")
    main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", "1", "--full"])
    (line,) = _lines(out)
    art14 = [f for f in line["findings"] if f["rule"] == "art14.one_credential"]
    assert art14 and art14[0]["outcome"] == "not_applicable"  # no credential: known, not unknown


def test_resume_refuses_to_continue_another_run(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 10)
    part = tmp_path / "out.jsonl.part"
    # a run that was killed: its .part and what it was judging
    main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--jobs", "1"])
    out.rename(part)
    (tmp_path / "out.jsonl.part.run.json").write_text(
        json.dumps({"input": str(src.resolve()), "on": "2024-11-15", "policy": None, "output": "compact"}),
        encoding="utf-8",
    )
    code = main(["eval", "--batch", str(src), "--out", str(out), "--on", "2025-01-01", "--resume", "--jobs", "1"])
    assert code == 2 and part.exists() and not out.exists()
    assert main(["eval", "--batch", str(src), "--out", str(out), "--on", "2024-11-15", "--resume", "--jobs", "1"]) == 1
    assert len(_lines(out)) == 10 and not (tmp_path / "out.jsonl.part.run.json").exists()


@pytest.mark.parametrize(
    "header", ["admission,admission.year", "academic_years[0].year,academic_years.x", "id,name,id"]
)
def test_csv_header_whose_columns_conflict_is_refused(tmp_path: Path, header: str) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text(header + "\n" + ",".join("1" for _ in header.split(",")) + "\n", encoding="utf-8")
    assert main(["eval", "--batch", str(src), "--out", str(out), "--jobs", "1"]) == 2
    assert not out.exists()


def test_workers_leave_when_the_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL skips every clean-up: the kernel ends the workers with their parent (Linux:
    PR_SET_PDEATHSIG), and a worker that notices it was re-parented exits too. The records come
    through a pipe that stays open, so the parent is mid-run, its workers alive, when it is killed."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, 1000)
    lines = src.read_bytes().splitlines(keepends=True)
    cmd = [sys.executable, "-m", "engine.faces.cli", "eval", "--batch", "-", "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen([*cmd, "--on", "2024-11-15"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    part = tmp_path / "out.jsonl.part"
    deadline = time.monotonic() + 60
    fed = 0
    os.set_blocking(proc.stdin.fileno(), False)  # a parent that stops reading fails the test, never blocks it
    try:
        while not part.exists() or part.stat().st_size == 0:  # workers judged a chunk
            assert time.monotonic() < deadline and fed < len(lines) and proc.poll() is None
            with contextlib.suppress(BlockingIOError):  # a line is under PIPE_BUF: written whole or not at all
                os.write(proc.stdin.fileno(), lines[fed])
                fed += 1
            time.sleep(0.001)
        children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == proc.pid]
        assert children, "the run has worker processes"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        Path(f"/proc/{c}").exists() and _ppid(Path(f"/proc/{c}")) != 0 for c in children
    ):
        time.sleep(0.1)
    assert not [c for c in children if Path(f"/proc/{c}").exists() and _state(Path(f"/proc/{c}")) != "Z"]


def _ppid(proc_dir: Path) -> int:
    try:
        fields = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[1])


def _state(proc_dir: Path) -> str:
    try:
        return (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
