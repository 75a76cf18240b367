"""Issue 16, points 7 and 9: `xueji eval --fail-on`, and small things found on the way.

``--fail-on violated|unknown|pending`` (default ``violated``) sets exit 1 when any finding has that
outcome or a worse one, in the order violated > unknown > pending (an article's outcome in a batch
line, worst first); 0 otherwise; 2 stays bad input. A batch run's exit code comes from its summary,
counted from the output lines (the whole output after ``--resume``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.faces.cli import FAIL_ON, fails, main
from engine.sources.yamlsource import load_data

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ON = "2024-11-15"
# on 2024-11-15: the worst outcome of each fixture's findings
WORST = {
    "graduate-complete": "satisfied",
    "annual-pending": "pending",
    "missing-facts": "unknown",
    "cancellation-late": "violated",
}
SEVERITY = ["violated", "unknown", "pending", "satisfied", "not_applicable"]


def expected_code(worst: str, fail_on: str) -> int:
    return 1 if SEVERITY.index(worst) <= SEVERITY.index(fail_on) else 0


def test_the_order_of_fail_on() -> None:
    assert FAIL_ON == ("violated", "unknown", "pending")
    assert fails(["violated"], "violated") and fails(["violated"], "pending")
    assert not fails(["unknown", "pending"], "violated")
    assert fails(["unknown"], "unknown") and not fails(["pending", "satisfied"], "unknown")
    assert fails(["pending"], "pending") and not fails(["satisfied", "not_applicable"], "pending")


@pytest.mark.parametrize("name", sorted(WORST))
def test_fixtures_have_the_worst_outcome_the_table_says(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["eval", str(FIXTURES / f"{name}.yaml"), "--on", ON, "--format", "json"])
    (decision,) = json.loads(capsys.readouterr().out)
    outcomes = {f["outcome"] for f in decision["findings"]}
    assert min(outcomes, key=SEVERITY.index) == WORST[name]


@pytest.mark.parametrize("fail_on", [None, *FAIL_ON])
@pytest.mark.parametrize("name", sorted(WORST))
def test_eval_exit_code_follows_fail_on(name: str, fail_on: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", str(FIXTURES / f"{name}.yaml"), "--on", ON]
    code = main(argv if fail_on is None else [*argv, "--fail-on", fail_on])
    assert code == expected_code(WORST[name], fail_on or "violated")


def test_eval_bad_input_stays_2_whatever_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "1", "academic_years": "x"}', encoding="utf-8")
    for fail_on in FAIL_ON:
        assert main(["eval", str(FIXTURES / "missing-facts.yaml"), str(bad), "--on", ON, "--fail-on", fail_on]) == 2
    with pytest.raises(SystemExit) as info:
        main(["eval", str(bad), "--fail-on", "sometimes"])
    assert info.value.code == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err


def _jsonl(path: Path, names: list[str], bad: bool = False) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for name in names:
            record, _ = load_data((FIXTURES / f"{name}.yaml").read_bytes(), name)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        if bad:
            f.write("{not json\n")
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize(
    "names", [["graduate-complete"], ["graduate-complete", "annual-pending"], ["annual-pending", "missing-facts"]]
)
def test_batch_exit_code_follows_fail_on(
    tmp_path: Path, names: list[str], jobs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _jsonl(tmp_path / "in.jsonl", names)
    worst = min((WORST[n] for n in names), key=SEVERITY.index)
    for full in ([], ["--full"]) if jobs == "1" else ([],):
        for fail_on in FAIL_ON:
            out = tmp_path / f"out-{fail_on}.jsonl"
            argv = ["eval", "--batch", str(src), "--out", str(out), "--on", ON, "--jobs", jobs, "--fail-on", fail_on]
            assert main(argv + full) == expected_code(worst, fail_on), (fail_on, full)
    assert main(["eval", "--batch", str(src), "--out", str(tmp_path / "d.jsonl"), "--on", ON, "--jobs", jobs]) == (
        expected_code(worst, "violated")
    )


def test_batch_with_an_error_line_is_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _jsonl(tmp_path / "in.jsonl", ["graduate-complete"], bad=True)
    for fail_on in FAIL_ON:
        out = tmp_path / "out.jsonl"
        assert (
            main(["eval", "--batch", str(src), "--out", str(out), "--on", ON, "--fail-on", fail_on, "--jobs", "1"]) == 2
        )


def test_resumed_batch_exit_code_covers_the_whole_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Resuming a finished run judges nothing new: its exit code still comes from every line written."""
    src = _jsonl(tmp_path / "in.jsonl", ["missing-facts", "graduate-complete"])
    out = tmp_path / "out.jsonl"
    base = ["eval", "--batch", str(src), "--out", str(out), "--on", ON, "--jobs", "1"]
    assert main([*base, "--fail-on", "unknown"]) == 1
    written = out.read_bytes()
    assert main([*base, "--fail-on", "unknown", "--resume"]) == 1
    assert main([*base, "--fail-on", "violated", "--resume"]) == 0
    assert out.read_bytes() == written


# ------------------------------------------------------------------------------ point 9: small things


@pytest.mark.parametrize("name", ["students.csv", "students.jsonl", "STUDENTS.CSV", "s.ndjson", "s.xlsx"])
def test_a_file_of_many_records_without_batch_says_to_use_batch(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_text('{"id": "1"}\n{"id": "2"}\n', encoding="utf-8")
    assert main(["eval", str(path), "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert err == f"xueji: {path}: a file of many records: judge it with --batch {path} --out decisions.jsonl\n"
    assert main(["eval", str(path), "--lang", "zh"]) == 2
    assert f"请用 --batch {path}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("r.json", b'{"id": "1", "name": x}', "error[yaml-json-syntax]: JSON syntax error"),
        ("r.json", b'{"id": "1",\x01 "name": "x"}', "control character U+0001, which a JSON record may not hold"),
        ("-", b'{"id": "1",\n "name": ]}', "error[yaml-json-syntax]: JSON syntax error"),
        ("-", b'{"id": "1",\x01 "name": "x"}', "control character U+0001, which a JSON record may not hold"),
        ("r.yaml", b'id: "1"\nname: \x01\n', "control character U+0001, which YAML does not allow"),
        ("r.yaml", b"id: [1\n", "error[yaml-syntax]: YAML syntax error"),
    ],
)
def test_an_error_in_a_json_record_is_labelled_json(
    tmp_path: Path, name: str, text: bytes, says: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    if name == "-":
        import io
        import sys

        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
        arg = "-"
    else:
        (tmp_path / name).write_bytes(text)
        arg = str(tmp_path / name)
    assert main(["eval", arg, "--on", ON, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert ("YAML" in err) == name.endswith(".yaml")


def test_json_lines_on_stdin_or_in_a_json_file_point_to_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    import io
    import sys

    two = b'{"id": "1"}\n{"id": "2"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(two)))
    assert main(["eval", "-", "--on", ON, "--lang", "en"]) == 2
    assert "xueji: -: more than one JSON value, as in JSON Lines: judge one record a line with --batch -" in (
        capsys.readouterr().err
    )
    (tmp_path / "two.json").write_bytes(two)
    assert main(["eval", str(tmp_path / "two.json"), "--on", ON, "--lang", "zh"]) == 2
    assert f"请用 --batch {tmp_path / 'two.json'}" in capsys.readouterr().err
