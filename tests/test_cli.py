"""The ``xueji`` command line, as policy authors and CI use it.

Most tests run the CLI in-process through ``engine.faces.cli.main(argv)`` and read what it printed with
``capsys``; a few run ``python -m engine.faces.cli`` in a subprocess to prove the real exit codes and that
no traceback ever reaches the user. Text meant for people is compared with golden files under
``tests/golden/cli/`` (refresh with ``pytest --update-goldens``, then review the diff).

Runs whose output is checked pass ``--lang`` and ``--on`` explicitly (and ``LANG=C.UTF-8`` is set for
the rest), so the output depends neither on the locale nor on today's date. Paths in the output are
relative: the tests ``chdir`` to the repository (for the bundled policies and ``fixtures/``) or to a
temporary directory holding a copy of the policies.

Exit codes: 0 ok, 1 findings (violations, lint errors, failing cases, files to reformat), 2 usage or
bad input.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from engine import __version__
from engine.faces.cli import main
from engine.tools.consistency import LAWS

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"
FIXTURES = REPO / "fixtures"
SARIF_SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"

VERBS = ("eval", "lint", "fmt", "deadlines", "test", "coverage", "check", "diff")

# (fixture, the date it is judged on, the exit code of `xueji eval`)
EVAL_FIXTURES = [
    ("cancellation-late", "2024-11-15", 1),  # two violations, one of them a missed deadline
    ("annual-pending", "2025-09-10", 0),  # three pending deadlines, nothing violated
    ("missing-facts", "2025-11-01", 0),  # unknown outcomes naming the missing paths
]


# ------------------------------------------------------------------------------------------ harness


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str


CLI = Callable[..., Run]


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No locale or debug switch from the caller's shell (LANG=C.UTF-8: the default language is then
    Chinese, whatever the process locale); a fixed terminal width for --help."""
    for var in ("LC_ALL", "LC_MESSAGES", "XUEJI_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COLUMNS", "100")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """``cli("eval", "x.yaml", stdin=b"...")`` runs ``main`` and returns its exit code and output."""

    def run(*argv: str, stdin: bytes | None = None) -> Run:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as ex:  # argparse: --help, --version, usage errors
            code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 2)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return Run(code, out, err)

    return run


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory (the current directory for the test)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def python_m(*argv: str, cwd: Path = REPO, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m engine.faces.cli ARGV`` in a subprocess, with a neutral locale."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "XUEJI_DEBUG")}
    env["LANG"] = "C.UTF-8"
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run(
        [sys.executable, "-m", "engine.faces.cli", *argv],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    )


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode("utf-8")
    assert text.count(old) == 1, f"{path}: expected exactly one {old!r}; the policies changed, update this test"
    path.write_bytes(text.replace(old, new).encode("utf-8"))


def copy_policies(dest: Path) -> Path:
    target = dest / "policies"
    shutil.copytree(POLICIES, target)
    return target


# A broken copy of the policies: two errors and a warning, each with the token the diagnostic must
# point at. One error sits in a Chinese message, after full-width characters.
CH3 = "2021/ch3-annual-registration.yaml"
CH4 = "2021/ch4-credential-registration.yaml"
CANCELLATION_DUE = "    let cancellation_due(c: cancellation) = c.decided_on + cancellation_e_registration_window\n"
UNUSED_DEFINITION = (
    CH3,
    CANCELLATION_DUE,
    CANCELLATION_DUE + "    let graduation_due(y: academic_year) = y.term_start + 4 years rounded down\n",
)
BREAKS = [
    (
        CH3,
        "deadline college_report = college_report_due(year)",
        "deadline college_report = college_report_due(yeer)",
    ),
    UNUSED_DEFINITION,
    (CH4, "zh: 学历证书（编号 {diploma.number}）应进行电子注册", "zh: 学历证书（编号 {diploma.numbr}）应进行电子注册"),
]
BROKEN_TOKENS = {"unknown-name": "yeer", "unused-definition": "graduation_due", "unknown-field": "numbr"}


@pytest.fixture
def broken(work: Path) -> Path:
    """``policies/`` in the working directory, with BREAKS applied."""
    root = copy_policies(work)
    for file, old, new in BREAKS:
        replace_once(root / file, old, new)
    return root


def source_line(file: str, line: int) -> str:
    return Path(file).read_text(encoding="utf-8").splitlines()[line - 1]


# ------------------------------------------------------------------------------------ eval: goldens


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("fixture", "on", "code"), EVAL_FIXTURES)
def test_eval_text_golden(cli: CLI, golden, in_repo: Path, fixture: str, on: str, code: int, lang: str) -> None:
    r = cli("eval", f"fixtures/{fixture}.yaml", "--on", on, "--lang", lang)
    assert r.code == code
    assert r.err == ""
    golden.check(f"cli/eval/{fixture}.{lang}.txt", r.out)


@pytest.mark.parametrize(("fixture", "on", "code"), EVAL_FIXTURES)
def test_eval_json_golden(cli: CLI, golden, in_repo: Path, fixture: str, on: str, code: int) -> None:
    r = cli("eval", f"fixtures/{fixture}.yaml", "--on", on, "--format", "json", "--lang", "en")
    assert r.code == code
    (data,) = json.loads(r.out)  # always a list, one entry per record
    assert data["file"] == f"fixtures/{fixture}.yaml"
    assert data["on"] == on
    assert data["version"] == "2021"
    for f in data["findings"]:
        assert {"rule", "article", "subject", "outcome", "due", "message", "missing"} <= f.keys()
        assert set(f["message"]) == {"zh", "en"}
    assert (code == 1) == any(f["outcome"] == "violated" for f in data["findings"])
    golden.check(f"cli/eval/{fixture}.json", r.out)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_eval_explain_golden(cli: CLI, golden, in_repo: Path, lang: str) -> None:
    r = cli("eval", "fixtures/cancellation-late.yaml", "--on", "2024-11-15", "--explain", "--lang", lang)
    assert r.code == 1
    # the article text verbatim, and the rule with its file:line
    assert "学籍注销应在学籍处理后15个工作日内完成。" in r.out
    assert re.search(r"policies/2021/ch3-annual-registration\.yaml:\d+", r.out)
    assert "cancellation.e_registered_on" in r.out
    golden.check(f"cli/eval/cancellation-late.explain.{lang}.txt", r.out)


_OUTCOME_RANK = {"violated": 0, "unknown": 1, "pending": 2, "satisfied": 3, "not applicable": 4}


@pytest.mark.parametrize(("fixture", "on", "code"), EVAL_FIXTURES)
def test_eval_text_groups_by_article_violations_first_with_due_dates(
    cli: CLI, in_repo: Path, fixture: str, on: str, code: int
) -> None:
    text = cli("eval", f"fixtures/{fixture}.yaml", "--on", on, "--lang", "en", "--all").out
    findings = json.loads(cli("eval", f"fixtures/{fixture}.yaml", "--on", on, "--format", "json").out)[0]["findings"]
    blocks = [b for b in text.split("\n\n") if b.startswith("Art. ")]
    assert sorted(int(b.split()[1]) for b in blocks) == sorted({f["article"] for f in findings})
    pattern = re.compile(r"^  (violated|unknown|pending|satisfied|not applicable) +(\S+)  (\S+)(?:  due (\S+))?$")
    ranks = []
    seen = []
    for block in blocks:
        rows = [m for m in map(pattern.match, block.splitlines()) if m]
        assert rows, block
        block_ranks = [_OUTCOME_RANK[m[1]] for m in rows]
        assert block_ranks == sorted(block_ranks), f"findings inside an article are not ordered:\n{block}"
        ranks.append(min(block_ranks))
        seen += [(m[2], m[3], m[1].replace(" ", "_"), m[4]) for m in rows]
    assert ranks == sorted(ranks), "articles with violations must come first"
    expected = [(f["rule"], f["subject"], f["outcome"], f["due"]) for f in findings]
    assert sorted(seen, key=str) == sorted(expected, key=str)


def test_eval_text_zh_columns_line_up(cli: CLI, in_repo: Path) -> None:
    out = cli("eval", "fixtures/cancellation-late.yaml", "--on", "2024-11-15", "--lang", "zh").out
    starts = {
        sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line[: line.index(" art")])
        for line in out.splitlines()
        if re.match(r"^  (违反|未知|待办|符合|不适用) +art", line)
    }
    assert len(starts) == 1, f"rule ids start at display columns {sorted(starts)}"


def test_eval_several_records(cli: CLI, in_repo: Path) -> None:
    files = ["fixtures/annual-pending.yaml", "fixtures/cancellation-late.yaml"]
    r = cli("eval", *files, "--on", "2025-09-10", "--format", "json", "--lang", "en")
    assert r.code == 1  # one violation among them is enough
    data = json.loads(r.out)
    assert [d["file"] for d in data] == files
    text = cli("eval", *files, "--on", "2025-09-10", "--lang", "en").out
    assert text.count(" — on 2025-09-10 — version 2021") == 2


def test_eval_default_language_follows_the_locale(cli: CLI, in_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert " — on 2025-09-10 — " in cli(*args).out
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert " — 评估日期 2025-09-10 — " in cli(*args).out
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")  # LC_ALL wins over LANG
    assert " — on 2025-09-10 — " in cli(*args).out


# ------------------------------------------------------------------------------------------ eval: stdin


def test_eval_stdin_json(cli: CLI, in_repo: Path) -> None:
    record = yaml.safe_load((FIXTURES / "cancellation-late.yaml").read_text(encoding="utf-8"))
    data = json.dumps(record, ensure_ascii=False).encode("utf-8")
    from_file = cli("eval", "fixtures/cancellation-late.yaml", "--on", "2024-11-15", "--lang", "en")
    from_stdin = cli("eval", "-", "--on", "2024-11-15", "--lang", "en", stdin=data)
    assert from_stdin.code == from_file.code == 1
    assert from_stdin.out == from_file.out
    (as_json,) = json.loads(cli("eval", "-", "--on", "2024-11-15", "--format", "json", stdin=data).out)
    assert as_json["file"] == "-"
    assert as_json["id"] == "2022020117"


def test_eval_stdin_yaml(cli: CLI, in_repo: Path) -> None:
    data = (FIXTURES / "annual-pending.yaml").read_bytes()
    from_file = cli("eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10", "--lang", "zh")
    from_stdin = cli("eval", "-", "--on", "2025-09-10", "--lang", "zh", stdin=data)
    assert from_stdin.code == from_file.code == 0
    assert from_stdin.out == from_file.out
    assert "待办" in from_stdin.out


def test_eval_stdin_invalid_record_names_stdin_line_and_column(cli: CLI) -> None:
    # stdin has no file name to tell JSON from YAML: what starts with { or [ is tried as JSON, then as
    # YAML (a superset of JSON); when neither reads it, the error is JSON's, labelled JSON
    r = cli("eval", "-", "--on", "2024-11-15", "--lang", "en", stdin=b'{"id": "1",\n "name": ]}\n')
    assert r.code == 2
    assert r.err.startswith("<stdin>:2:10: error[yaml-json-syntax]: JSON syntax error: Expecting value")
    r = cli("eval", "-", "--on", "2024-11-15", "--lang", "en", stdin=b"id: [1\n")
    assert r.code == 2
    assert r.err.startswith("<stdin>:2:1: error[yaml-syntax]")


# ------------------------------------------------------------------------------------- eval: bad input


def test_eval_missing_record_file(cli: CLI, work: Path) -> None:
    r = cli("eval", "nope.json", "--on", "2024-11-15", "--lang", "en")
    assert r.code == 2
    assert r.err.splitlines() == ["xueji: nope.json: no such file / 文件不存在"]


def test_eval_invalid_json_says_where(cli: CLI, work: Path) -> None:
    (work / "bad.json").write_text('{"id": "1",\n "name": x}\n', encoding="utf-8")
    r = cli("eval", "bad.json", "--on", "2024-11-15", "--lang", "en")
    assert r.code == 2
    assert r.out.strip() == ""
    lines = r.err.splitlines()
    assert lines[0] == "bad.json:2:10: error[yaml-json-syntax]: JSON syntax error: Expecting value"
    assert lines[1] == '   2 |  "name": x}'
    assert lines[2] == "     |          ^"  # under the x
    assert lines[3].startswith("  hint: ")


def test_eval_invalid_yaml_says_where(cli: CLI, work: Path) -> None:
    (work / "bad.yaml").write_text('id: "1"\nname: [a\n  b: c\n', encoding="utf-8")
    r = cli("eval", "bad.yaml", "--on", "2024-11-15", "--lang", "en")
    assert r.code == 2
    m = re.match(r"bad\.yaml:(\d+):(\d+): error\[yaml-syntax\]: YAML syntax error", r.err)
    assert m, r.err
    assert (int(m[1]), int(m[2])) == (3, 4)
    assert "Traceback" not in r.err


def test_eval_record_failing_the_schema_lists_every_problem_with_its_path(cli: CLI, work: Path) -> None:
    record = yaml.safe_load((FIXTURES / "graduate-complete.yaml").read_text(encoding="utf-8"))
    record["level"] = "phd"
    record["admission"]["year"] = "2019x"
    record["academic_years"][1]["term_start"] = "2020-02-30"
    record["diplomas"][0]["lost"] = "no"
    (work / "r.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    r = cli("eval", "r.json", "--on", "2023-12-01", "--lang", "en")
    assert r.code == 2
    assert r.err.splitlines() == [
        "r.json: level: 'phd' is not a level (one of: preparatory, junior_college, bachelor, junior_to_bachelor, "
        "second_bachelor, master, doctor)",
        "r.json: admission.year: expected an integer, got '2019x'",
        "r.json: academic_years[1].term_start: the date '2020-02-30' does not exist",
        "r.json: diplomas[0].lost: expected a boolean (true/false), got 'no'",
    ]
    (data,) = json.loads(cli("eval", "r.json", "--on", "2023-12-01", "--format", "json").out)
    assert [p["path"] for p in data["error"]] == [
        "level",
        "admission.year",
        "academic_years[1].term_start",
        "diplomas[0].lost",
    ]


def test_eval_record_that_is_not_a_mapping(cli: CLI, work: Path) -> None:
    (work / "list.json").write_text("[1, 2]", encoding="utf-8")
    r = cli("eval", "list.json", "--on", "2024-11-15", "--lang", "en")
    assert r.code == 2
    assert r.err.splitlines() == ["list.json: <record>: a student record must be an object (mapping), not list"]


def test_eval_one_bad_record_among_good_ones_is_exit_2_and_the_rest_are_judged(cli: CLI, in_repo: Path) -> None:
    r = cli("eval", "fixtures/annual-pending.yaml", "no-such.json", "--on", "2025-09-10", "--lang", "en")
    assert r.code == 2
    assert "no-such.json" in r.err


def test_eval_mixed_good_and_invalid_record_json(cli: CLI, in_repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    r = cli("eval", "fixtures/annual-pending.yaml", str(bad), "--on", "2025-09-10", "--format", "json")
    assert r.code == 2
    first, second = json.loads(r.out)
    assert first["findings"]
    assert second["file"] == str(bad)
    assert second["error"][0]["code"] == "yaml-json-syntax"


@pytest.mark.parametrize(
    ("on", "en", "zh"),
    [
        ("2024-13-01", "'2024-13-01' is not a date: there is no month 13", "'2024-13-01' 不是日期：没有 13 月"),
        (
            "2024-02-30",
            "'2024-02-30' is not a date: 2024-02 has 29 days",
            "'2024-02-30' 不是日期：2024 年 2 月只有 29 天",
        ),
        (
            "2024-11-31",
            "'2024-11-31' is not a date: 2024-11 has 30 days",
            "'2024-11-31' 不是日期：2024 年 11 月只有 30 天",
        ),
        ("tomorrow", "'tomorrow' is not a date written YYYY-MM-DD", "'tomorrow' 不是写成 YYYY-MM-DD 的日期"),
        ("", "'' is not a date written YYYY-MM-DD", "'' 不是写成 YYYY-MM-DD 的日期"),
        ("2024-1-5", "'2024-1-5' is not a date written YYYY-MM-DD", "'2024-1-5' 不是写成 YYYY-MM-DD 的日期"),
        ("x" * 100, f"'{'x' * 40}…' is not a date written YYYY-MM-DD", f"'{'x' * 40}…' 不是写成 YYYY-MM-DD 的日期"),
        ("2024\x1b[2J", "'2024\\x1b[2J' is not a date written YYYY-MM-DD", "'2024\\x1b[2J' 不是写成 YYYY-MM-DD 的日期"),
    ],
)
def test_eval_bad_on_date(cli: CLI, in_repo: Path, on: str, en: str, zh: str) -> None:
    """A bad --on names the value (a short, escaped excerpt) and the format, or the day the calendar
    lacks, once, in the user's language."""
    for lang, want in (("en", en), ("zh", zh)):
        r = cli("eval", "fixtures/annual-pending.yaml", "--on", on, "--lang", lang)
        assert r.code == 2
        assert r.err.splitlines() == [f"xueji: --on: {want}"]
        assert r.out == ""


def test_eval_nonexistent_policy(cli: CLI, in_repo: Path) -> None:
    r = cli("eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10", "--policy", "/nonexistent")
    assert r.code == 2
    assert r.err.splitlines() == ["xueji: --policy: /nonexistent: no such directory / 目录不存在"]


def test_eval_policy_dir_without_manifest(cli: CLI, work: Path) -> None:
    (work / "empty").mkdir()
    record = str(FIXTURES / "annual-pending.yaml")
    r = cli("eval", record, "--on", "2025-09-10", "--policy", "empty", "--lang", "en")
    assert r.code == 2
    assert r.err == "xueji: --policy: empty: not a policy directory (no xueji.yaml) / 不是策略目录\n"


def test_eval_without_records(cli: CLI) -> None:
    r = cli("eval", "--on", "2024-11-15")
    assert r.code == 2
    assert r.err == "xueji: give one or more RECORD files (or - for stdin), or --batch FILE\n"


@pytest.mark.parametrize("verb", VERBS)
def test_unknown_option(cli: CLI, verb: str) -> None:
    r = cli(verb, *(["record.json"] if verb == "deadlines" else []), "--bogus")
    assert r.code == 2
    # argparse reports it with the top-level usage line, not the verb's
    assert r.err.startswith("usage: xueji ")
    assert r.err.rstrip().endswith("error: unrecognized arguments: --bogus")


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["eval", "x.json", "--format", "xml"], "--format"),
        (["lint", "--format", "junit"], "--format"),
        (["deadlines", "x.json", "--format", "xml"], "--format"),
        (["eval", "x.json", "--lang", "fr"], "--lang"),
        (["check", "--examples", "many"], "--examples"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments(cli: CLI, argv: list[str], word: str) -> None:
    r = cli(*argv)
    assert r.code == 2
    assert r.err.startswith("usage: xueji")
    assert word in r.err.splitlines()[-1]  # the last line says what is wrong


def test_no_verb_at_all(cli: CLI) -> None:
    r = cli()
    assert r.code == 2
    assert "COMMAND" in r.out
    for verb in VERBS:
        assert f"\n    {verb} " in r.out


def test_version(cli: CLI) -> None:
    r = cli("--version")
    assert r.code == 0
    assert r.out == f"xueji {__version__}\n"


# -------------------------------------------------------------------------------------------- --help


@pytest.mark.parametrize("verb", [None, *VERBS])
def test_help_golden(cli: CLI, golden, verb: str | None) -> None:
    r = cli(*([verb] if verb else []), "--help")
    assert r.code == 0
    assert r.err == ""
    assert "examples:\n" in r.out
    assert re.search(rf"\n  xueji {verb or ''}", r.out), "the examples show the verb in use"
    for option in ("--policy", "--lang"):
        assert option in r.out
    golden.check(f"cli/help/{verb or 'xueji'}.txt", r.out)


# ------------------------------------------------------------------------------------------------- lint


def test_lint_bundled_policies_is_clean(cli: CLI, work: Path) -> None:
    for argv in (["lint"], ["lint", "--policy", str(POLICIES)], ["lint", "--strict"]):
        r = cli(*argv, "--lang", "en")
        assert r.code == 0, r.out
        assert r.out == ""
        assert r.err == "0 error(s), 0 warning(s)\n"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lint_text_golden(cli: CLI, golden, broken: Path, lang: str) -> None:
    r = cli("lint", "--policy", "policies", "--lang", lang)
    assert r.code == 1
    assert r.err == ("2 error(s), 1 warning(s)\n" if lang == "en" else "2 个错误，1 个警告\n")
    golden.check(f"cli/lint/broken.{lang}.txt", r.out)


def test_lint_text_points_at_each_token(cli: CLI, broken: Path) -> None:
    out = cli("lint", "--policy", "policies", "--lang", "en").out
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == 3
    for block in blocks:
        head, src, caret, hint = block.split("\n")
        m = re.fullmatch(r"(policies/\S+):(\d+):(\d+): (error|warning)\[([a-z-]+)\]: .+", head)
        assert m, head
        file, line, col, _, code = m[1], int(m[2]), int(m[3]), m[4], m[5]
        token = BROKEN_TOKENS[code]
        text = source_line(file, line)
        assert text[col - 1 : col - 1 + len(token)] == token
        gutter = f"{line:>4} | "
        assert src == gutter + text
        # the caret sits under the token, counting full-width characters as two columns
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text[: col - 1])
        assert caret == " " * (len(gutter) - 2) + "| " + " " * width + "^" * len(token)
        assert hint.startswith("  hint: ")


def test_lint_json(cli: CLI, golden, broken: Path) -> None:
    r = cli("lint", "--policy", "policies", "--format", "json", "--lang", "en")
    assert r.code == 1
    assert r.err == ""
    diags = json.loads(r.out)["diagnostics"]
    assert sorted(d["code"] for d in diags) == sorted(BROKEN_TOKENS)
    for d in diags:
        line = source_line(d["file"], d["line"])
        assert d["end_line"] == d["line"]
        assert line[d["col"] - 1 : d["end_col"] - 1] == BROKEN_TOKENS[d["code"]]
        assert set(d["message"]) == set(d["hint"]) == {"zh", "en"}
        assert d["severity"] == ("warning" if d["code"] == "unused-definition" else "error")
    golden.check("cli/lint/broken.json", r.out)


def _sarif_validator():  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_lint_sarif_validates_and_points_at_the_broken_tokens(cli: CLI, golden, broken: Path) -> None:
    r = cli("lint", "--policy", "policies", "--format", "sarif", "--lang", "en")
    assert r.code == 1
    assert r.err == ""
    log = json.loads(r.out)
    errors = sorted(_sarif_validator().iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "xueji"
    assert run["tool"]["driver"]["version"] == __version__
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == 3
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == ("warning" if result["ruleId"] == "unused-definition" else "error")
        (loc,) = result["locations"]
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        region = loc["physicalLocation"]["region"]
        assert (broken.parent / uri).is_file()
        assert region["endLine"] == region["startLine"]
        line = source_line(uri, region["startLine"])
        assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == BROKEN_TOKENS[result["ruleId"]]
    golden.check("cli/lint/broken.sarif.json", r.out)


def test_lint_sarif_of_clean_policies_validates(cli: CLI, work: Path) -> None:
    r = cli("lint", "--format", "sarif")
    assert r.code == 0
    log = json.loads(r.out)
    assert not list(_sarif_validator().iter_errors(log))
    assert log["runs"][0]["results"] == []


def test_lint_github(cli: CLI, golden, broken: Path) -> None:
    r = cli("lint", "--policy", "policies", "--format", "github", "--lang", "en")
    assert r.code == 1
    assert r.err == ""
    lines = r.out.splitlines()
    assert len(lines) == 3
    pattern = re.compile(
        r"::(error|warning) file=([^,:]+),line=(\d+),col=(\d+),endLine=(\d+),endColumn=(\d+),"
        r"title=xueji ([a-z-]+)::(.+)"
    )
    for text in lines:
        m = pattern.fullmatch(text)
        assert m, text
        kind, file, line, col, _, end_col, code, message = m.groups()
        assert kind == ("warning" if code == "unused-definition" else "error")
        assert source_line(file, int(line))[int(col) - 1 : int(end_col) - 1] == BROKEN_TOKENS[code]
        assert " — " in message  # message — hint
    golden.check("cli/lint/broken.github.txt", r.out)


def test_lint_github_clean_prints_nothing(cli: CLI, work: Path) -> None:
    r = cli("lint", "--format", "github")
    assert (r.code, r.out, r.err) == (0, "", "")


def test_lint_warnings_fail_only_with_strict(cli: CLI, work: Path) -> None:
    root = copy_policies(work)
    replace_once(root / UNUSED_DEFINITION[0], UNUSED_DEFINITION[1], UNUSED_DEFINITION[2])
    r = cli("lint", "--policy", "policies", "--lang", "en")
    assert r.code == 0
    assert "warning[unused-definition]" in r.out
    assert r.err == "0 error(s), 1 warning(s)\n"
    for fmt in ("text", "json", "sarif", "github"):
        assert cli("lint", "--policy", "policies", "--strict", "--format", fmt).code == 1, fmt
        assert cli("lint", "--policy", "policies", "--format", fmt).code == 0, fmt


def test_lint_several_paths(cli: CLI, broken: Path) -> None:
    r = cli("lint", str(POLICIES), "policies", "--format", "json")
    assert r.code == 1
    assert len(json.loads(r.out)["diagnostics"]) == 3


def test_lint_missing_path(cli: CLI, work: Path) -> None:
    r = cli("lint", "nowhere", "--lang", "en")
    assert r.code == 2
    assert r.err == "xueji: nowhere: no such file or directory / 文件或目录不存在\n"
    assert r.out == ""


def test_lint_directory_without_policies_is_a_usage_error(cli: CLI, work: Path) -> None:
    (work / "empty").mkdir()
    r = cli("lint", "empty", "--lang", "en")
    assert "empty: not a policy directory (no xueji.yaml)" in r.err
    assert r.code == 2


# -------------------------------------------------------------------------------------------------- fmt

# Mis-formattings of canonical rule text (the bundled policies are canonical): formatting the
# mis-formatted copy must give the original back.
MISFORMAT = [
    (
        CH3,
        "          for year in academic_years\n"
        "          arises year.term_start\n"
        "          deadline annual_registration = annual_registration_due(year)\n"
        "          require year.registered_on by annual_registration or year.deferred_on exists\n"
        "            when annual_registration_applies(year)\n",
        "          for   year  in academic_years\n"
        "          arises   year.term_start\n"
        "          deadline annual_registration=annual_registration_due( year )\n"
        "\n"
        "          require year.registered_on by annual_registration or year.deferred_on exists "
        "when annual_registration_applies(year)\n",
    ),
    (
        CH3,
        "    let annual_registration_due(y: academic_year) = y.term_start + annual_registration_window\n",
        "    let annual_registration_due( y : academic_year )=y.term_start+annual_registration_window\n",
    ),
    (
        CH3,
        "          require year.supplementary_registered_on by annual_registration\n"
        "              or year.supplementary_registered_on exists\n"
        "            when annual_registration_applies(year)\n"
        "                and not year.registered_on exists\n"
        "                and year.deferred_on exists\n"
        "                and year.tuition_paid\n"
        "                and year.conditions_met\n",
        "          require (year.supplementary_registered_on by annual_registration or "
        "year.supplementary_registered_on exists)\n"
        "            when annual_registration_applies(year) and not year.registered_on exists and "
        "year.deferred_on exists and year.tuition_paid and year.conditions_met\n",
    ),
    (
        CH4,
        "          forbid count(d in diplomas) > 1\n            when count(d in diplomas) > 0\n",
        "          forbid count( d in diplomas )>1   when count(d in diplomas)>0\n",
    ),
]


def misformatted_copy(dest: Path) -> Path:
    root = copy_policies(dest)
    for file, old, new in MISFORMAT:
        replace_once(root / file, old, new)
    return root


_RULE_OPENER = re.compile(r"^( *)(?:(?:- )?rule: |- )\|[-+0-9]*\s*$")


def non_rule_lines(text: str) -> list[str]:
    """The lines of a policy file outside rule text (`rule: |` blocks, `- |` definitions), with their
    line endings: what `xueji fmt` must keep byte for byte."""
    keep: list[str] = []
    block: int | None = None  # the indentation of the line that opened the current rule block
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        if block is not None:
            if not line.strip() or indent > block:
                continue
            block = None
        keep.append(line)
        m = _RULE_OPENER.match(line)
        if m:
            block = len(m[1])
    return keep


def test_fmt_bundled_policies_are_canonical(cli: CLI, work: Path) -> None:
    for argv in (["fmt", "--check"], ["fmt", "--check", str(POLICIES / "2021")]):
        r = cli(*argv, "--lang", "en")
        assert r.code == 0, r.out
        assert r.out == ""


def test_fmt_bundled_policies_is_quiet(cli: CLI, work: Path) -> None:
    r = cli("fmt", "--check", "--lang", "en")
    assert r.code == 0
    assert r.err == ""


def test_fmt_check_golden(cli: CLI, golden, work: Path) -> None:
    root = misformatted_copy(work)
    before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    r = cli("fmt", "--check", "policies/2021", "--lang", "en")
    assert r.code == 1
    assert r.err == "2 file(s) would be reformatted\n"
    assert re.findall(r"^--- (.+)$", r.out, re.M) == [f"policies/{CH3}", f"policies/{CH4}"]
    assert {p: p.read_bytes() for p in root.rglob("*.yaml")} == before, "--check must change nothing"
    golden.check("cli/fmt/check.diff", r.out)
    zh = cli("fmt", "--check", "policies/2021", "--lang", "zh")
    assert (zh.code, zh.out, zh.err) == (1, r.out, "2 个文件需要格式化\n")


def test_fmt_restores_canonical_text_and_keeps_every_other_line(cli: CLI, work: Path) -> None:
    root = misformatted_copy(work)
    messy = {f: (root / f).read_bytes().decode("utf-8") for f in (CH3, CH4)}
    r = cli("fmt", "policies/2021", "--lang", "en")
    assert r.code == 0
    assert r.out.splitlines() == [f"formatted policies/{CH3}", f"formatted policies/{CH4}"]
    for f, text in messy.items():
        new = (root / f).read_bytes().decode("utf-8")
        assert non_rule_lines(new) == non_rule_lines(text), f"{f}: a line outside the rules changed"
        assert new == (POLICIES / f).read_bytes().decode("utf-8"), f"{f}: not the canonical text"
    # idempotent: once formatted, nothing to do
    again = cli("fmt", "--check", "policies", "--lang", "en")
    assert (again.code, again.out) == (0, "")
    assert cli("fmt", "policies/2021", "--lang", "en").out == ""


def test_fmt_keeps_comments_and_crlf(cli: CLI, work: Path) -> None:
    root = misformatted_copy(work)
    path = root / CH4
    text = path.read_bytes().decode("utf-8")
    text = text.replace(
        "forbid count( d in diplomas )>1",
        "# 只能一份 only one\n          forbid count( d in diplomas )>1",
    ).replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-8"))
    assert cli("fmt", "--check", str(path)).code == 1
    assert cli("fmt", str(path), "--lang", "en").code == 0
    new = path.read_bytes().decode("utf-8")
    assert "\n" not in new.replace("\r\n", "")
    assert non_rule_lines(new) == non_rule_lines(text)
    assert "          # 只能一份 only one\r\n          forbid count(d in diplomas) > 1\r\n" in new
    assert cli("fmt", "--check", str(path)).code == 0


def test_fmt_leaves_unparsable_rules_alone_and_says_so(cli: CLI, work: Path) -> None:
    root = copy_policies(work)
    replace_once(root / CH3, "deadline college_report = college_report_due(year)", "deadline college_report = =")
    before = (root / CH3).read_bytes()
    r = cli("fmt", "policies/2021", "--lang", "en")
    assert r.code == 0
    assert (root / CH3).read_bytes() == before
    assert re.match(rf"policies/{CH3}:\d+:\d+: left unformatted: ", r.err)


def test_fmt_keeps_a_trailing_comment_on_its_line(cli: CLI, work: Path, golden) -> None:
    """Issue 14: a `# comment` after a rule line, or after a YAML value, stays on its line."""
    root = copy_policies(work)
    replace_once(
        root / CH3,
        "      - id: art12.college_report\n        rule: |\n          for year in academic_years\n"
        "          arises year.term_start\n          deadline college_report = college_report_due(year)\n"
        "          require year.college_reported_on by college_report\n"
        "            when annual_registration_applies(year)\n",
        "      - id: art12.college_report  # the college's report\n        rule: |  # Art. 12, first sentence\n"
        "          for year in academic_years   # one finding per year\n"
        "          arises year.term_start\n          deadline college_report = college_report_due( year )  # week 3\n"
        "          require year.college_reported_on by college_report # inclusive\n"
        "            when annual_registration_applies(year)    # only applicable years\n",
    )
    r = cli("fmt", "--check", "policies/2021", "--lang", "en")
    assert r.code == 1
    golden.check("cli/fmt/trailing-comments.diff", r.out)
    assert cli("fmt", "policies/2021", "--lang", "en").code == 0
    text = (root / CH3).read_text(encoding="utf-8")
    assert (
        "      - id: art12.college_report  # the college's report\n        rule: |  # Art. 12, first sentence\n"
        "          for year in academic_years  # one finding per year\n"
        "          arises year.term_start\n          deadline college_report = college_report_due(year)  # week 3\n"
        "          require year.college_reported_on by college_report  # inclusive\n"
        "            when annual_registration_applies(year)  # only applicable years\n"
    ) in text
    assert cli("fmt", "--check", "policies/2021").code == 0


def test_fmt_usage_errors(cli: CLI, work: Path) -> None:
    r = cli("fmt", "--check", "nowhere")
    assert r.code == 2
    assert r.err == "xueji: nowhere: no such file or directory / 文件或目录不存在\n"
    (work / "latin1.yaml").write_bytes("rule: café".encode("latin-1"))
    r = cli("fmt", "--check", "latin1.yaml")
    assert r.code == 2
    assert r.err.startswith("xueji: latin1.yaml: ")


# -------------------------------------------------------------------------------------------- deadlines

# (fixture, on): pending annual deadlines; a missed one; one whose due date needs 2027, which the
# working-day calendar does not cover (shown by its bound: "not before 2027-01-12")
DEADLINE_FIXTURES = [
    ("annual-pending", "2025-09-10"),
    ("cancellation-late", "2024-11-15"),
    ("cancellation-uncovered-year", "2027-01-08"),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("fixture", "on"), DEADLINE_FIXTURES)
def test_deadlines_table_golden(cli: CLI, golden, in_repo: Path, fixture: str, on: str, lang: str) -> None:
    r = cli("deadlines", f"fixtures/{fixture}.yaml", "--on", on, "--lang", lang)
    assert r.code == 0
    assert r.err == ""
    golden.check(f"cli/deadlines/{fixture}.{lang}.txt", r.out)


@pytest.mark.parametrize(("fixture", "on"), [("annual-pending", "2025-09-10"), ("cancellation-late", "2024-11-15")])
def test_deadlines_agree_with_eval(cli: CLI, in_repo: Path, fixture: str, on: str) -> None:
    findings = json.loads(cli("eval", f"fixtures/{fixture}.yaml", "--on", on, "--format", "json").out)[0]["findings"]
    due = sorted(
        (f["due"], f["rule"], f["subject"], f["outcome"])
        for f in findings
        if f["due"] and f["outcome"] in ("violated", "pending")
    )
    rows = json.loads(cli("deadlines", f"fixtures/{fixture}.yaml", "--on", on, "--format", "json").out)
    assert [(r["due"], r["rule"], r["subject"], r["outcome"]) for r in rows] == due
    table = cli("deadlines", f"fixtures/{fixture}.yaml", "--on", on, "--lang", "en").out.splitlines()
    assert table[0].split() == ["due", "days", "left", "status", "article", "rule", "subject"]
    assert [line.split()[0] for line in table[1:]] == [d[0] for d in due]


def test_deadlines_not_before(cli: CLI, golden, in_repo: Path) -> None:
    """A due date the working-day calendar cannot give yet is listed by its bound, not left out."""
    record = "fixtures/cancellation-uncovered-year.yaml"
    r = cli("deadlines", record, "--on", "2027-01-08", "--format", "json")
    assert r.code == 0
    (row,) = json.loads(r.out)
    assert (row["due"], row["due_not_before"], row["outcome"]) == (None, "2027-01-12", "pending")
    golden.check("cli/deadlines/cancellation-uncovered-year.json", r.out)
    table = cli("deadlines", record, "--on", "2027-01-08", "--lang", "en").out.splitlines()
    assert table[1].split()[:4] == ["not", "before", "2027-01-12", "≥4"]
    assert cli("deadlines", record, "--on", "2027-01-08").out.splitlines()[1].startswith("不早于 2027-01-12  ≥4")
    # past the bound the outcome is unknown (the calendar lacks 2027); still listed, days left unknown
    later = cli("deadlines", record, "--on", "2027-01-13", "--lang", "en").out.splitlines()
    assert later[1].split()[:5] == ["not", "before", "2027-01-12", "?", "unknown"]
    ics = unfold_ics(cli("deadlines", record, "--on", "2027-01-08", "--format", "ics", "--lang", "en").out)
    assert "DTSTART;VALUE=DATE:20270112" in ics
    assert any(line.startswith("SUMMARY:") and "Art. 12 (not before 2027-01-12)" in line for line in ics)
    text = cli("eval", record, "--on", "2027-01-08", "--lang", "en").out
    assert "art12.cancellation_e_registration  student  due not before 2027-01-12" in text
    explained = cli("eval", record, "--on", "2027-01-13", "--lang", "zh", "--explain").out
    assert "期限 不早于 2027-01-12" in explained and "2027" in explained


def test_deadlines_none(cli: CLI, in_repo: Path) -> None:
    r = cli("deadlines", "fixtures/graduate-complete.yaml", "--on", "2023-12-01", "--lang", "en")
    assert (r.code, r.out) == (0, "no overdue or upcoming deadlines\n")
    assert cli("deadlines", "fixtures/graduate-complete.yaml", "--on", "2023-12-01", "--format", "json").out == "[]\n"


def unfold_ics(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("fixture", "on"), DEADLINE_FIXTURES)
def test_deadlines_ics(cli: CLI, golden, in_repo: Path, fixture: str, on: str, lang: str) -> None:
    r = cli("deadlines", f"fixtures/{fixture}.yaml", "--on", on, "--format", "ics", "--lang", lang)
    assert r.code == 0
    text = r.out
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", ""), "every line ends with CRLF"
    lines = text[:-2].split("\r\n")
    for line in lines:
        assert len(line.encode("utf-8")) <= 75, f"line longer than 75 octets: {line!r}"
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert any(line.startswith(" ") for line in lines), "long lines are folded"
    unfolded = unfold_ics(text)
    assert "VERSION:2.0" in unfolded
    rows = json.loads(cli("deadlines", f"fixtures/{fixture}.yaml", "--on", on, "--format", "json").out)
    assert unfolded.count("BEGIN:VEVENT") == unfolded.count("END:VEVENT") == len(rows)
    for row in rows:
        day = row["due"] or row["due_not_before"]  # a due date known only by its bound sits on the bound
        assert f"DTSTART;VALUE=DATE:{day.replace('-', '')}" in unfolded
        summary = row["message"][lang].replace(",", "\\,").replace(";", "\\;")
        assert any(line.startswith("SUMMARY:") and line.endswith(summary) for line in unfolded), summary
    golden.check(f"cli/deadlines/{fixture}.{lang}.ics", text.replace("\r\n", "\n"))


def test_deadlines_bad_input(cli: CLI, work: Path) -> None:
    record = str(FIXTURES / "annual-pending.yaml")
    r = cli("deadlines", "nope.yaml", "--on", "2025-09-10")
    assert (r.code, r.err) == (2, "xueji: nope.yaml: no such file / 文件不存在\n")
    r = cli("deadlines", record, "--on", "2025-02-29")
    assert r.code == 2
    assert "2025-02-29" in r.err
    (work / "bad.json").write_text('{"id": "1",\n "name": x}\n', encoding="utf-8")
    r = cli("deadlines", "bad.json", "--on", "2025-09-10", "--lang", "en")
    assert r.code == 2
    assert "bad.json:2:10: error[yaml-json-syntax]" in r.err
    (work / "schema.json").write_text(
        '{"academic_years": [{"year": "x", "term_start": "2004-02-30"}]}', encoding="utf-8"
    )
    r = cli("deadlines", "schema.json", "--on", "2025-09-10", "--lang", "en")
    assert r.code == 2
    assert "schema.json: academic_years[0].year: expected an integer, got 'x'" in r.err
    assert "schema.json: academic_years[0].term_start: the date '2004-02-30' does not exist" in r.err
    assert cli("deadlines", record, "--on", "2025-09-10", "--policy", "/nonexistent").code == 2


# ------------------------------------------------------------------------------------------------- test

CASES = """\
# a small case file: one case passes, one fails, one cannot run
cases:
  - name: passes — annual registration pending
    fixture: annual-pending
    on: 2025-09-10
    expect:
      - {rule: art11.annual_registration, subject: "academic_years[2]", outcome: pending, due: 2025-09-15}

  - name: fails — wrong outcome and due date
    fixture: annual-pending
    on: 2025-09-10
    expect:
      - {rule: art12.college_report, subject: "academic_years[2]", outcome: pending, due: 2025-09-21}
      - {rule: art11.annual_registration, subject: "academic_years[2]", outcome: violated, due: 2025-09-14}

  - name: error — unknown rule id
    fixture: annual-pending
    on: 2025-09-10
    expect:
      - {rule: art11.no_such_rule, outcome: satisfied}
"""

PASSING_CASES = CASES.split("\n\n")[0] + "\n"


@pytest.fixture
def cases(work: Path) -> Path:
    (work / "cases.yaml").write_text(CASES, encoding="utf-8")
    (work / "passing.yaml").write_text(PASSING_CASES, encoding="utf-8")
    return work / "cases.yaml"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_test_text_golden(cli: CLI, golden, cases: Path, lang: str) -> None:
    r = cli("test", "cases.yaml", "--lang", lang)
    assert r.code == 1
    assert r.err == ""
    golden.check(f"cli/test/cases.{lang}.txt", r.out)


def test_test_failure_shows_expected_actual_and_file_line(cli: CLI, cases: Path) -> None:
    out = cli("test", "cases.yaml", "--lang", "en").out
    lines = CASES.splitlines()

    def line_no(fragment: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if fragment in line)

    assert f"cases.yaml:{line_no('name: fails')}: FAILED: fails — wrong outcome and due date" in out
    expect_at = line_no("outcome: violated")
    assert f"  art11.annual_registration @ academic_years[2]  (cases.yaml:{expect_at})" in out
    assert "    expected: violated, due 2025-09-14\n    actual:   pending, due 2025-09-15" in out
    assert "art12.college_report" not in out, "a met expectation is not reported"
    assert f"cases.yaml:{line_no('name: error')}: ERROR: error — unknown rule id" in out
    assert re.search(rf"cases\.yaml:{line_no('no_such_rule')}:\d+: the policy has no rule art11\.no_such_rule", out)
    assert out.rstrip().endswith("3 cases: 1 passed, 1 failed, 1 errors, 0 skipped")
    assert "passes — annual registration pending" not in out
    verbose = cli("test", "cases.yaml", "--lang", "en", "--verbose").out
    assert "passes — annual registration pending" in verbose


def test_test_junit(cli: CLI, golden, cases: Path) -> None:
    r = cli("test", "cases.yaml", "--junit", "report.xml", "--lang", "en")
    assert r.code == 1
    xml_text = (cases.parent / "report.xml").read_text(encoding="utf-8")
    root = ET.fromstring(xml_text)
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "3",
        "failures": "1",
        "errors": "1",
        "skipped": "0",
    }
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "cases.yaml"
    by_name = {tc.get("name"): tc for tc in suite.findall("testcase")}
    assert set(by_name) == {
        "passes — annual registration pending",
        "fails — wrong outcome and due date",
        "error — unknown rule id",
    }
    assert all(tc.get("file") == "cases.yaml" and tc.get("line", "").isdigit() for tc in by_name.values())
    assert list(by_name["passes — annual registration pending"]) == []
    failure = by_name["fails — wrong outcome and due date"].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 expectation(s) not met"
    assert "expected: violated, due 2025-09-14" in (failure.text or "")
    assert "actual:   pending, due 2025-09-15" in (failure.text or "")
    error = by_name["error — unknown rule id"].find("error")
    assert error is not None
    assert "art11.no_such_rule" in (error.get("message") or "")
    golden.check("cli/test/cases.junit.xml", re.sub(r'time="[0-9.]+"', 'time="0"', xml_text))


def test_test_json(cli: CLI, cases: Path) -> None:
    r = cli("test", "cases.yaml", "--format", "json")
    assert r.code == 1
    report = json.loads(r.out)
    assert report["ok"] is False
    assert report["counts"] == {"passed": 1, "failed": 1, "error": 1, "skipped": 0}
    assert [c["status"] for c in report["cases"]] == ["passed", "failed", "error"]


def test_test_json_shape(cli: CLI, cases: Path) -> None:
    """The documented shape (engine/faces/render_policytest.py, README)."""
    report = json.loads(cli("test", "cases.yaml", "--format", "json").out)
    assert set(report) == {"ok", "counts", "cases"}
    case_keys = {"name", "file", "line", "col", "status", "skip", "would_pass", "seconds", "version", "versions"}
    for case in report["cases"]:
        assert set(case) == case_keys | {"mismatches", "errors"}
        assert case["file"] == "cases.yaml" and case["col"] == 5
    failed = report["cases"][1]
    assert set(failed["mismatches"][0]) == {"target", "line", "expected", "actual"}
    assert set(report["cases"][2]["errors"][0]) == {"zh", "en"}


def test_test_format_github(cli: CLI, golden, cases: Path) -> None:
    """One ::error annotation per failing or broken case, at its `name:`; a ::notice with the summary."""
    r = cli("test", "cases.yaml", "--format", "github", "--lang", "en")
    assert r.code == 1
    lines = r.out.splitlines()
    names = [n for n, line in enumerate(CASES.splitlines(), 1) if "- name:" in line]
    assert [line.split("::")[1] for line in lines] == [
        f"error file=cases.yaml,line={names[1]},col=5,endLine={names[1]},endColumn=6,title=xueji test%3A FAILED",
        f"error file=cases.yaml,line={names[2]},col=5,endLine={names[2]},endColumn=6,title=xueji test%3A ERROR",
        "notice title=xueji test",
    ]
    assert "expected: violated, due 2025-09-14%0A" in lines[0]
    assert "art11.no_such_rule" in lines[1]
    golden.check("cli/test/cases.github.txt", r.out)
    ok = cli("test", "passing.yaml", "--format", "github", "--lang", "en")
    assert (ok.code, ok.out) == (0, "::notice title=xueji test::1 cases: 1 passed, 0 failed, 0 errors, 0 skipped\n")


def test_test_format_junit_is_the_junit_report_on_stdout(cli: CLI, cases: Path) -> None:
    r = cli("test", "cases.yaml", "--format", "junit", "--lang", "en", "--junit", "report.xml")
    assert r.code == 1
    file_text = (cases.parent / "report.xml").read_text(encoding="utf-8")
    assert re.sub(r'time="[0-9.]+"', "", r.out) == re.sub(r'time="[0-9.]+"', "", file_text)
    root = ET.fromstring(r.out)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")


def test_test_exit_codes(cli: CLI, cases: Path) -> None:
    assert cli("test", "passing.yaml").code == 0
    assert cli("test", "passing.yaml", "--junit", "ok.xml").code == 0
    assert ET.parse(cases.parent / "ok.xml").getroot().get("failures") == "0"
    assert cli("test", "--lang", "en").code == 0  # the bundled cases
    r = cli("test", "nowhere.yaml")
    assert (r.code, r.err) == (2, "xueji: nowhere.yaml: no such file or directory / 文件或目录不存在\n")
    r = cli("test", "cases.yaml", "--junit", "no/such/dir/report.xml")
    assert r.code == 2
    assert r.err.startswith("xueji: --junit no/such/dir/report.xml: ")
    assert cli("test", "--policy", "/nonexistent").code == 2
    (cases.parent / "empty").mkdir()
    r = cli("test", "--policy", "empty", "--lang", "en")
    assert r.code == 2
    assert "not a policy directory (no xueji.yaml)" in r.err
    r = cli("test", "empty", "--lang", "en")  # a directory with no cases: CI must not pass silently
    assert r.code == 2
    assert "no test cases found" in r.err


def test_test_broken_case_file_is_a_failing_case(cli: CLI, work: Path) -> None:
    (work / "broken.yaml").write_text("cases:\n  - name: [x\n", encoding="utf-8")
    r = cli("test", "broken.yaml", "--lang", "en")
    assert r.code == 1
    assert re.search(r"broken\.yaml:\d+:\d+: YAML syntax error", r.out)


def test_test_with_a_broken_policy_is_a_usage_error_that_points_at_the_rule(cli: CLI, broken: Path) -> None:
    r = cli("test", "--policy", "policies", "--lang", "en")
    assert r.code == 2
    assert re.search(r"policies/2021/ch3-annual-registration\.yaml:\d+:\d+: error\[unknown-name\]", r.err)


# --------------------------------------------------------------------------------------------- coverage


def test_coverage_golden(cli: CLI, golden, cases: Path) -> None:
    r = cli("coverage", "passing.yaml", "--lang", "en")
    assert r.code == 1  # one case cannot cover every rule
    assert r.err == ""
    assert "art11.annual_registration" in r.out
    golden.check("cli/coverage/passing.en.txt", r.out)


def test_coverage_bundled_and_json(cli: CLI, cases: Path, work: Path) -> None:
    r = cli("coverage", "--lang", "en")
    assert r.code == 0, r.out[-2000:]
    assert r.out.rstrip().splitlines()[-1].startswith("problems: none")
    data = json.loads(cli("coverage", "--format", "json").out)
    assert data["problems"] == []
    rules = {r["id"]: r for v in data["versions"] for a in v["articles"] for r in a["rules"]}
    assert rules["art11.annual_registration"]["cases"]["violated"]
    small = cli("coverage", str(work / "passing.yaml"), "--format", "json")
    assert small.code == 1
    assert json.loads(small.out)["problems"]


def test_coverage_format_github(cli: CLI, cases: Path) -> None:
    """One ::error annotation per coverage problem, at the rule's `id:` (or the article's number)."""
    problems = json.loads(cli("coverage", "passing.yaml", "--format", "json").out)["problems"]
    r = cli("coverage", "passing.yaml", "--format", "github", "--lang", "en")
    assert r.code == 1
    lines = r.out.splitlines()
    assert len(lines) == len(problems) > 0
    for line, p in zip(lines, problems, strict=True):
        m = re.match(
            r"::error file=([^,]+),line=(\d+),col=(\d+),endLine=\d+,endColumn=\d+,title=xueji coverage (\S+)::(.*)$",
            line,
        )
        assert m is not None, line
        assert m.group(1).endswith(Path(p["file"]).as_posix().split("policies/", 1)[-1])
        assert (int(m.group(2)), m.group(4), m.group(5)) == (p["line"], p["code"], p["en"])
    assert all(p["file"] and p["line"] for p in problems)
    bundled = cli("coverage", "--format", "github")
    assert (bundled.code, bundled.out) == (0, "")


def test_coverage_format_junit(cli: CLI, cases: Path) -> None:
    """Per version, a testcase per rule and per normative article without rules; a failure per problem."""
    data = json.loads(cli("coverage", "passing.yaml", "--format", "json").out)
    r = cli("coverage", "passing.yaml", "--format", "junit", "--lang", "en")
    assert r.code == 1
    root = ET.fromstring(r.out)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "version 2021"
    rules = [r for v in data["versions"] for a in v["articles"] for r in a["rules"]]
    testcases = suite.findall("testcase")
    assert [tc.get("name") for tc in testcases if not tc.get("name", "").startswith("article ")] == [
        r["id"] for r in rules
    ]
    failing = {tc.get("name") for tc in testcases if tc.find("failure") is not None}
    assert failing == {p["rule"] or f"article {p['article']}" for p in data["problems"]}
    assert all(tc.get("line", "").isdigit() for tc in testcases)
    assert root.get("failures") == str(len(failing))
    bundled = ET.fromstring(cli("coverage", "--format", "junit").out)
    assert bundled.get("failures") == "0" and int(bundled.get("tests", "0")) > 20


def test_coverage_usage_errors(cli: CLI, work: Path) -> None:
    assert cli("coverage", "nowhere.yaml").code == 2
    assert cli("coverage", "--policy", "/nonexistent").code == 2


# ------------------------------------------------------------------------------------------------ check


def test_check_bundled(cli: CLI, work: Path) -> None:
    r = cli("check", "--examples", "5", "--lang", "en")
    assert r.code == 0, r.out
    lines = r.out.splitlines()
    assert len(lines) == len(LAWS)  # one line per law
    assert all(line.split()[-1] == "ok" for line in lines)


def test_check_failing_law(cli: CLI, work: Path) -> None:
    root = copy_policies(work)
    replace_once(
        root / CH3,
        "let college_report_due(y: academic_year) = y.term_start + college_report_window",
        "let college_report_due(y: academic_year) = y.term_start + 10 days",
    )
    r = cli("check", "policies", "--examples", "20", "--law", "invariants_hold", "--lang", "en")
    assert r.code == 1
    assert r.out.startswith("invariants_hold            FAILED\n")
    assert re.search(r"art12\.deadlines_in_order  policies/2021/ch3-annual-registration\.yaml:\d+", r.out)
    assert "counterexample (shrunk), on " in r.out
    data = json.loads(
        cli("check", "--policy", "policies", "--examples", "20", "--law", "invariants_hold", "--format", "json").out
    )
    assert data["laws"][0]["ok"] is False


def test_check_usage_errors(cli: CLI, work: Path) -> None:
    assert cli("check", "--examples", "0").code == 2
    r = cli("check", "--law", "nope")
    assert r.code == 2
    assert "unknown law 'nope'" in r.err
    assert cli("check", "nowhere").code == 2


# ---------------------------------------------------------------------------------- exit-code matrix


@pytest.fixture
def matrix(work: Path) -> Path:
    """A working directory with every input the exit-code matrix needs."""
    shutil.copytree(FIXTURES, work / "fixtures")
    good = copy_policies(work)
    shutil.copytree(good, work / "broken")
    for file, old, new in BREAKS:
        replace_once(work / "broken" / file, old, new)
    shutil.copytree(good, work / "warn")
    replace_once(work / "warn" / UNUSED_DEFINITION[0], UNUSED_DEFINITION[1], UNUSED_DEFINITION[2])
    shutil.copytree(good, work / "messy")
    for file, old, new in MISFORMAT:
        replace_once(work / "messy" / file, old, new)
    shutil.copytree(good, work / "contradict")
    replace_once(
        work / "contradict" / CH3,
        "let college_report_due(y: academic_year) = y.term_start + college_report_window",
        "let college_report_due(y: academic_year) = y.term_start + 10 days",
    )
    (work / "empty").mkdir()
    (work / "bad.json").write_text("{,}", encoding="utf-8")
    (work / "cases.yaml").write_text(CASES, encoding="utf-8")
    (work / "passing.yaml").write_text(PASSING_CASES, encoding="utf-8")
    late = yaml.safe_load((FIXTURES / "annual-late-deferred.yaml").read_text(encoding="utf-8"))
    (work / "students.jsonl").write_text(json.dumps(late, ensure_ascii=False) + "\n", encoding="utf-8")
    return work


EXIT_MATRIX = [
    # eval
    (0, ["eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10"]),
    (0, ["eval", "fixtures/graduate-complete.yaml", "--on", "2023-12-01", "--format", "json"]),
    (1, ["eval", "fixtures/cancellation-late.yaml", "--on", "2024-11-15"]),
    (1, ["eval", "fixtures/annual-pending.yaml", "fixtures/cancellation-late.yaml", "--on", "2024-11-15"]),
    (2, ["eval", "nope.json", "--on", "2024-11-15"]),
    (2, ["eval", "bad.json", "--on", "2024-11-15"]),
    (2, ["eval", "fixtures/annual-pending.yaml", "--on", "2024-13-01"]),
    (2, ["eval", "fixtures/annual-pending.yaml", "--policy", "empty"]),
    (2, ["eval"]),
    # lint
    (0, ["lint"]),
    (0, ["lint", "policies", "--strict"]),
    (0, ["lint", "warn"]),
    (1, ["lint", "warn", "--strict"]),
    (1, ["lint", "broken", "--format", "sarif"]),
    (2, ["lint", "nowhere"]),
    (2, ["lint", "--format", "xml"]),
    # fmt
    (0, ["fmt", "--check", "policies/2021"]),
    (1, ["fmt", "--check", "messy/2021"]),
    (0, ["fmt", "messy/2021"]),
    (2, ["fmt", "nowhere"]),
    # deadlines: no 1 path (overdue deadlines are listed, not a failure)
    (0, ["deadlines", "fixtures/cancellation-late.yaml", "--on", "2024-11-15"]),
    (0, ["deadlines", "fixtures/annual-pending.yaml", "--on", "2025-09-10", "--format", "ics"]),
    (2, ["deadlines", "bad.json", "--on", "2025-09-10"]),
    (2, ["deadlines", "fixtures/annual-pending.yaml", "--on", "2025-9-31"]),
    # test
    (0, ["test", "passing.yaml"]),
    (0, ["test", "--policy", "policies"]),
    (1, ["test", "cases.yaml"]),
    (2, ["test", "nowhere.yaml"]),
    (2, ["test", "--policy", "broken"]),
    # coverage
    (0, ["coverage", "--policy", "policies"]),
    (1, ["coverage", "passing.yaml"]),
    (2, ["coverage", "--policy", "empty"]),
    # check
    (0, ["check", "policies", "--examples", "3", "--law", "total"]),
    (1, ["check", "contradict", "--examples", "20", "--law", "invariants_hold"]),
    (2, ["check", "--examples", "0"]),
    # diff: the college report window is 10 days in contradict/, 20 in policies/
    (0, ["diff", "policies", "policies", "--records", "students.jsonl", "--on", "2025-11-01"]),
    (1, ["diff", "policies", "contradict", "--records", "students.jsonl", "--on", "2025-11-01"]),
    (2, ["diff", "policies", "broken", "--records", "students.jsonl", "--on", "2025-11-01"]),
    (2, ["diff", "policies", "contradict"]),
    # no verb, --help, --version
    (2, []),
    (0, ["--help"]),
    (0, ["--version"]),
]


@pytest.mark.parametrize(("code", "argv"), EXIT_MATRIX, ids=[" ".join(a) or "(no verb)" for _, a in EXIT_MATRIX])
def test_exit_code_matrix(cli: CLI, matrix: Path, code: int, argv: list[str]) -> None:
    r = cli(*argv, *(["--lang", "en"] if argv and not argv[0].startswith("--") else []))
    assert r.code == code, f"stdout:\n{r.out[-3000:]}\nstderr:\n{r.err[-3000:]}"
    if code == 2 and argv:
        assert r.err.strip(), "a usage error says what is wrong"


def test_every_verb_is_in_the_matrix() -> None:
    verbs = {argv[0] for _, argv in EXIT_MATRIX if argv}
    assert set(VERBS) <= verbs
    for verb in VERBS:
        codes = {code for code, argv in EXIT_MATRIX if argv and argv[0] == verb}
        assert codes == ({0, 2} if verb == "deadlines" else {0, 1, 2}), verb


# ----------------------------------------------------------------------- global options before the verb


def test_lang_before_the_verb_is_honoured(cli: CLI, in_repo: Path) -> None:
    r = cli("--lang", "en", "eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10")
    assert " — 评估日期 2025-09-10 — " not in r.out
    assert " — on 2025-09-10 — " in r.out


def test_policy_before_the_verb_is_honoured(cli: CLI, in_repo: Path) -> None:
    r = cli("--policy", "/nonexistent", "eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10")
    assert r.code == 2


# -------------------------------------------------------------------------------------- real processes


def test_subprocess_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"id": "1",\n "name": x}\n', encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("id: [1\n", encoding="utf-8")
    runs = {
        "violation": (1, ["eval", "fixtures/cancellation-late.yaml", "--on", "2024-11-15", "--lang", "en"]),
        "clean": (0, ["eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10", "--lang", "en"]),
        "bad json": (2, ["eval", str(tmp_path / "bad.json"), "--on", "2024-11-15", "--lang", "en"]),
        "bad yaml": (2, ["eval", str(tmp_path / "bad.yaml"), "--on", "2024-11-15", "--lang", "en"]),
        "missing": (2, ["eval", "nope.json", "--on", "2024-11-15"]),
        "bad date": (2, ["deadlines", "fixtures/annual-pending.yaml", "--on", "2024-13-01"]),
        "bad policy": (2, ["lint", "/nonexistent"]),
        "unknown option": (2, ["lint", "--bogus"]),
        "no verb": (2, []),
        "version": (0, ["--version"]),
    }
    for name, (code, argv) in runs.items():
        proc = python_m(*argv)
        assert proc.returncode == code, f"{name}: {proc.stderr}"
        assert "Traceback" not in proc.stdout + proc.stderr, name
        if code == 2 and argv:
            assert proc.stderr.strip(), name
    bad = python_m("eval", str(tmp_path / "bad.json"), "--on", "2024-11-15", "--lang", "en")
    assert f"{tmp_path / 'bad.json'}:2:10: error[yaml-json-syntax]" in bad.stderr


def test_subprocess_stdin(tmp_path: Path) -> None:
    data = (FIXTURES / "cancellation-late.yaml").read_bytes()
    proc = python_m("eval", "-", "--on", "2024-11-15", "--format", "json", stdin=data)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)[0]["id"] == "2022020117"
    proc = python_m("eval", "-", "--on", "2024-11-15", "--lang", "en", stdin=b"{not json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert re.match(r"<stdin>:\d+:\d+: error\[yaml-json-syntax\]: JSON syntax error", proc.stderr)


def test_subprocess_lint_and_fmt(tmp_path: Path) -> None:
    root = copy_policies(tmp_path)
    for file, old, new in BREAKS:
        replace_once(root / file, old, new)
    proc = python_m("lint", "policies", "--format", "github", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("::")
    shutil.rmtree(root)
    misformatted_copy(tmp_path)
    proc = python_m("fmt", "--check", "policies/2021", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"--- policies/{CH3}\n")


def test_subprocess_directory_as_record(tmp_path: Path) -> None:
    proc = python_m("eval", str(tmp_path), "--on", "2024-11-15")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------- helpers


def test_non_rule_lines_helper() -> None:
    text = "a: 1\nrule: |\n  require x\n\n  and y\nb: |\n  text\n"
    assert non_rule_lines(text) == ["a: 1\n", "rule: |\n", "b: |\n", "  text\n"]
    defs = "definitions:\n  - |\n    let x = 1\n  - |\n    let y = 2\nrules:\n"
    assert non_rule_lines(defs) == ["definitions:\n", "  - |\n", "  - |\n", "rules:\n"]


def test_explain_marks_the_pending_operand_and_an_unknown_clause(cli: CLI, in_repo: Path) -> None:
    """--explain marks what settled each finding: a pending `by`, or the clause that was unknown."""
    r = cli("eval", "fixtures/annual-pending.yaml", "--on", "2025-09-10", "--format", "json", "--explain")
    (data,) = json.loads(r.out)
    (f,) = [
        f for f in data["findings"] if f["rule"] == "art11.annual_registration" and f["subject"] == "academic_years[2]"
    ]
    decided = [step for step in f["explanation"] if step["decided"]]
    assert f["outcome"] == "pending"
    assert [(s["label"], s["value"]) for s in decided] == [("require", "pending")]
    r = cli("eval", "fixtures/missing-facts.yaml", "--on", "2025-11-01", "--format", "json", "--explain")
    (data,) = json.loads(r.out)
    unknown = [f for f in data["findings"] if f["outcome"] == "unknown" and f["explanation"]]
    assert unknown
    for f in unknown:
        (last,) = [s for s in f["explanation"] if s["decided"]]
        assert last["value"].startswith("unknown"), f


def test_explain_shows_the_record_as_of_on(cli: CLI, in_repo: Path) -> None:
    """--explain judges the record cut back to ``on``, like evaluate: a notification dated after ``on``
    has not happened yet (Art. 9 violated, its `exists` operand decided), and the comparison it guards
    is shown as not evaluated instead of failing; the decision warns what was cut."""
    r = cli("eval", "fixtures/first-year-2025.yaml", "--on", "2025-09-20", "--format", "json", "--explain")
    (data,) = json.loads(r.out)
    (warning,) = [w for w in data["warnings"] if w["code"] == "dated-after-on"]
    assert "registration.student_notified_on" in warning["en"]
    (f,) = [f for f in data["findings"] if f["rule"] == "art9.student_notified"]
    assert f["outcome"] == "violated"
    steps = [(s["label"], s["value"], s["decided"]) for s in f["explanation"]]
    assert ("require", "false", True) in steps
    assert ("  and", "not evaluated (an earlier operand guards it)", False) in steps


def test_lint_warns_about_a_rule_no_test_case_exercises(cli: CLI, work: Path) -> None:
    import shutil

    from engine.resources import bundled_policy_dir

    root = work / "untested"
    shutil.copytree(bundled_policy_dir(), root)
    ch4 = root / "2021" / "ch4-credential-registration.yaml"
    text = ch4.read_text(encoding="utf-8")
    text = text.replace(
        "      - id: art17.lost_credential_certified\n",
        """      - id: art17.new_rule_without_cases
        rule: |
          for diploma in diplomas
          require diploma.loss_annotated
            when diploma.lost
        message:
          zh: 新规则
          en: a new rule
      - id: art17.lost_credential_certified
""",
    )
    ch4.write_text(text, encoding="utf-8")
    cases = root / "tests"
    for f in cases.glob("*.yaml"):  # keep only cases that never mention Art. 17
        if "art17" in f.read_text(encoding="utf-8") or "article: 17" in f.read_text(encoding="utf-8"):
            f.unlink()
    r = cli("lint", str(root), "--lang", "en", "--format", "json")
    codes = [(d["code"], d["message"]["en"]) for d in json.loads(r.out)["diagnostics"]]
    assert ("rule-untested", "no test case exercises the rule art17.new_rule_without_cases") in codes
    assert cli("lint", str(root), "--strict").code == 1


def test_eval_text_counts_articles_that_do_not_apply_in_one_line(cli: CLI, in_repo: Path) -> None:
    text = cli("eval", "fixtures/first-year-2025.yaml", "--on", "2025-10-15", "--lang", "en").out
    assert "not applicable to this student (every rule): Art. 5, 6, 8, 11, 12, 14 (--all shows them)" in text
    assert "\nArt. 11 " not in text
    assert (
        "\nArt. 11 " in cli("eval", "fixtures/first-year-2025.yaml", "--on", "2025-10-15", "--lang", "en", "--all").out
    )


def test_fmt_check_fails_on_a_file_that_is_not_valid_yaml(cli: CLI, work: Path) -> None:
    root = copy_policies(work)
    path = root / CH3
    path.write_text(path.read_text(encoding="utf-8") + "\tbroken: tab\n", encoding="utf-8")
    r = cli("fmt", "--check", str(root), "--lang", "en")
    assert r.code == 1
    assert "error[yaml-" in r.err


def test_lint_reports_a_test_case_that_cannot_run(cli: CLI, work: Path) -> None:
    root = copy_policies(work)
    cases = root / "tests" / "ch3.yaml"
    text = cases.read_text(encoding="utf-8")
    first_on = text.index("    on: 20")
    cases.write_text(text[:first_on] + "    on: 2024-02-30" + text[text.index("\n", first_on) :], encoding="utf-8")
    r = cli("lint", str(root), "--lang", "en", "--format", "json")
    codes = [d["code"] for d in json.loads(r.out)["diagnostics"]]
    assert codes == ["test-case-invalid"] and r.code == 1
    report = cli("test", "--policy", str(root), "--lang", "en").out
    # one case, not the whole file: every other case still runs (and passes)
    counts = re.search(r"(\d+) cases: (\d+) passed, 0 failed, 1 errors?,", report)
    assert counts is not None, report
    assert int(counts[2]) == int(counts[1]) - 1


def test_a_yaml_error_in_one_file_does_not_hide_rule_errors_in_another(cli: CLI, work: Path) -> None:
    root = copy_policies(work)
    with (root / CH4).open("a", encoding="utf-8") as f:
        f.write("\tbad: tab\n")
    replace_once(
        root / CH3,
        "deadline college_report = college_report_due(year)",
        "deadline college_report = college_report_due(yeer)",
    )
    codes = {d["code"] for d in json.loads(cli("lint", str(root), "--format", "json").out)["diagnostics"]}
    assert {"yaml-tab-indent", "unknown-name"} <= codes or {"yaml-tab-indent"} <= codes


# ----------------------------------------------------------------------------- one way to name a set


def _broken_copy(tmp_path: Path) -> Path:
    """A copy of the bundled policy set with a misspelt fact in one rule."""
    policy = tmp_path / "my-policies"
    shutil.copytree(POLICIES, policy)
    rules = policy / "2021" / "ch3-annual-registration.yaml"
    text = rules.read_text(encoding="utf-8")
    assert "year.registered_on" in text
    rules.write_text(text.replace("year.registered_on", "year.registerd_on", 1), encoding="utf-8")
    return policy


def test_the_policy_set_is_found_above_the_current_directory(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --policy: the nearest xueji.yaml at or above the current directory (as the language server
    finds it), else the bundled set."""
    policy = _broken_copy(tmp_path)
    monkeypatch.chdir(policy / "2021")
    r = cli("lint", "--lang", "en")
    assert r.code == 1 and "registerd_on" in r.out
    monkeypatch.chdir(tmp_path)  # no xueji.yaml above: the bundled set, which is clean
    assert cli("lint", "--lang", "en").code == 0


def test_policy_names_a_directory_or_its_manifest(cli: CLI, tmp_path: Path) -> None:
    policy = _broken_copy(tmp_path)
    by_dir = cli("lint", "--policy", str(policy), "--lang", "en", "--format", "json")
    by_manifest = cli("lint", "--policy", str(policy / "xueji.yaml"), "--lang", "en", "--format", "json")
    assert by_dir.code == by_manifest.code == 1 and by_dir.out == by_manifest.out
    r = cli("eval", "--policy", str(policy / "schema.yaml"), str(REPO / "fixtures" / "annual-pending.yaml"))
    assert r.code == 2 and "xueji.yaml" in r.err


def test_a_directory_as_a_positional_argument_is_deprecated_but_works(cli: CLI, tmp_path: Path) -> None:
    policy = _broken_copy(tmp_path)
    old = cli("lint", str(policy), "--lang", "en")
    new = cli("lint", "--policy", str(policy), "--lang", "en")
    assert old.code == new.code == 1 and old.out == new.out
    assert "deprecated: xueji lint DIR" in old.err and "--policy DIR" in old.err
    assert "deprecated" not in new.err
    zh = cli("lint", str(policy), "--lang", "zh")
    assert "已弃用" in zh.err
    one_file = cli("lint", str(policy / "2021" / "ch3-annual-registration.yaml"), "--lang", "en")
    assert one_file.code == 1 and "deprecated" not in one_file.err  # a file is the verb's input


# ------------------------------------------------------------------------------------- xueji doc


def test_doc_help_golden(cli: CLI, golden) -> None:
    r = cli("doc", "--help")
    assert r.code == 0 and r.err == ""
    assert "\n  xueji doc --out site/" in r.out
    golden.check("cli/help/doc.txt", r.out)


def test_doc_writes_both_languages_with_relative_links(cli: CLI, in_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    r = cli("doc", "--out", str(out), "--lang", "en")
    assert r.code == 0, r.err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")) == [
        "check.html",
        "index.html",
        "playground.html",
        "zh/check.html",
        "zh/index.html",
        "zh/playground.html",
    ]
    top, zh = (out / "index.html").read_text(encoding="utf-8"), (out / "zh" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in top and 'href="zh/index.html"' in top  # --lang: the language at the top
    assert '<html lang="zh-CN">' in zh and 'href="../index.html"' in zh
    assert 'href="check.html"' in zh and "xueji serve" in (out / "zh" / "check.html").read_text(encoding="utf-8")


def test_doc_out_must_be_a_directory(cli: CLI, work: Path) -> None:
    (work / "file").write_text("x", encoding="utf-8")
    r = cli("doc", "--out", "file", "--lang", "en")
    assert r.code == 2
    assert r.err == "xueji: --out: file: not a directory / 不是目录\n"


def test_doc_needs_out_and_refuses_unknown_options(cli: CLI, work: Path) -> None:
    assert cli("doc").code == 2
    r = cli("doc", "--out", "site", "--bogus")
    assert r.code == 2 and r.err.rstrip().endswith("error: unrecognized arguments: --bogus")
    assert not (work / "site").exists()


def test_doc_unwritable_out_is_one_message(cli: CLI, work: Path) -> None:
    (work / "ro").mkdir()
    (work / "ro" / "index.html").mkdir()  # a directory where the page should go
    r = cli("doc", "--out", "ro", "--lang", "en")
    assert r.code == 2
    assert r.err.startswith("xueji: --out: ro: ")
