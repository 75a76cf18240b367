"""Issue 16, point 4: hostile policy directories, and what a message quotes of an input value.

A symlink loop, a rule file linked from outside the policy directory, a ``files:`` pattern that climbs
out with ``..`` (or names an absolute path), a ``schema:`` outside, a ``fixture:`` that is a path, a
file name that is not UTF-8, 10,000 files: each is a clear diagnostic naming the place (file:line:col)
and the path, or a bounded refusal, in ``xueji lint``, ``xueji eval`` and ``xueji test`` — never a
hang or a traceback. Every case runs in well under a few seconds (the 10,000 files are empty files
made with ``os.open``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import engine
from engine.diagnostics import EXCERPT_CHARS, excerpt, path_text
from engine.faces.cli import main
from engine.lang.limits import MAX_POLICY_FILES
from engine.resources import bundled_policy_dir

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "fixtures" / "annual-pending.yaml"
SECRET = "hunter2-" * 20  # what must never be echoed in full
MANIFEST_FILES = "      - 2021/*.yaml\n"


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the bundled policy set as ``p/`` under a working directory of its own (its tests
    included), with a file next to it, outside, holding a secret."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "p"
    shutil.copytree(bundled_policy_dir(), root)
    (tmp_path / "outside.yaml").write_text(f"password: {SECRET}\n", encoding="utf-8")
    yield root


def manifest_files(root: Path, *patterns: str) -> None:
    """Add ``files:`` patterns to the manifest's version."""
    manifest = root / "xueji.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert MANIFEST_FILES in text
    extra = "".join(f"      - {json.dumps(p)}\n" for p in patterns)
    manifest.write_text(text.replace(MANIFEST_FILES, MANIFEST_FILES + extra), encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str, secret_in_source: bool = False) -> tuple[int, str]:
    """One verb in process, bounded in time; its exit code and everything it wrote (which never holds
    the secret, unless it is in a policy file: the source line under a diagnostic shows the author's
    own file as it is)."""
    began = time.monotonic()
    code = main([*argv, "--lang", "en"])
    assert time.monotonic() - began < 20
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text and (secret_in_source or SECRET not in text)
    return code, text


VERBS: list[tuple[str, ...]] = [
    ("lint", "--policy", "p"),
    ("eval", str(RECORD), "--policy", "p"),
    ("test", "--policy", "p"),
]


def every_verb(capsys: pytest.CaptureFixture[str], says: Callable[[str], bool], lint_code: int = 1) -> None:
    """lint reports it (exit 1), eval and test refuse the policy set (exit 2), each saying ``says``."""
    for argv in VERBS:
        code, text = run(capsys, *argv)
        assert says(text), (argv, text)
        assert code == (lint_code if argv[0] == "lint" else 2), (argv, code, text)


def test_a_rule_file_linked_from_outside_is_not_read(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (policy / "2021" / "zz-evil.yaml").symlink_to(Path("..") / ".." / "outside.yaml")
    with pytest.raises(engine.PolicyError) as info:
        engine.load_policy(policy)
    (d,) = [d for d in info.value.diagnostics if d.code == "outside-policy"]
    assert d.span is not None and (d.span.file, d.span.line, d.span.col) == ("p/xueji.yaml", 42, 9)
    assert "p/2021/zz-evil.yaml (it leads to outside.yaml) lies outside the policy directory p" in d.message.en
    every_verb(capsys, lambda t: "p/xueji.yaml:42:9: error[outside-policy]: files: p/2021/zz-evil.yaml" in t)


def test_a_symlink_loop_is_a_diagnostic(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (policy / "2021" / "loop.yaml").symlink_to("loop.yaml")
    (policy / "2021" / "a.yaml").symlink_to("b.yaml")
    (policy / "2021" / "b.yaml").symlink_to("a.yaml")
    every_verb(
        capsys,
        lambda t: (
            "p/xueji.yaml:42:9: error[io-error]: files: p/2021/loop.yaml is a symbolic link loop" in t
            and "p/2021/a.yaml is a symbolic link loop" in t
        ),
    )


def test_a_directory_loop_under_a_recursive_pattern_is_bounded(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (policy / "2021" / "sub").mkdir()
    (policy / "2021" / "sub" / "up").symlink_to("..")
    (policy / "2021" / "sub" / "out").symlink_to(policy.parent)
    manifest = policy / "xueji.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(MANIFEST_FILES, "      - 2021/**/*.yaml\n"), encoding="utf-8"
    )
    (policy / "2021" / "sub" / "self").symlink_to("self")
    # a recursive pattern does not descend into a linked directory (pathlib), so neither the loop nor
    # the way out is walked; a matched link to a file outside would be refused as above
    code, text = run(capsys, "lint", "--policy", "p")
    assert code == 0, text
    (policy / "2021" / "sub" / "evil.yaml").symlink_to(policy.parent / "outside.yaml")
    code, text = run(capsys, "lint", "--policy", "p")
    assert code == 1 and "files: p/2021/sub/evil.yaml (it leads to outside.yaml) lies outside" in text


@pytest.mark.parametrize("pattern", ["../*.yaml", "2021/../../*.yaml", "/etc/*.conf", "..\\*.yaml", "C:/x/*.yaml", ""])
def test_a_files_pattern_that_climbs_out_is_refused(
    policy: Path, pattern: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_files(policy, pattern)
    every_verb(
        capsys,
        lambda t: (
            f"p/xueji.yaml:43:9: error[outside-policy]: files: the pattern {excerpt(pattern)} reaches outside "
            "the policy directory" in t
        ),
    )


def test_a_schema_outside_the_policy_directory_is_refused(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = policy / "xueji.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("schema: schema.yaml", "schema: ../outside.yaml"), encoding="utf-8")
    every_verb(capsys, lambda t: "error[outside-policy]: schema: outside.yaml lies outside the policy directory" in t)


def _empty_files(directory: Path, n: int, suffix: str = ".yaml") -> None:
    directory.mkdir(exist_ok=True)
    for i in range(n):
        os.close(os.open(directory / f"f{i:05d}{suffix}", os.O_CREAT | os.O_WRONLY, 0o644))


def test_ten_thousand_files_under_a_pattern_are_refused(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _empty_files(policy / "many", 10_000)
    manifest_files(policy, "many/*.yaml")
    began = time.monotonic()
    every_verb(
        capsys,
        lambda t: (
            f"p/xueji.yaml:43:9: error[too-many-files]: files: the pattern 'many/*.yaml' matches more than "
            f"{MAX_POLICY_FILES} files: not read" in t
        ),
    )
    assert time.monotonic() - began < 10


def test_ten_thousand_case_files_are_refused(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _empty_files(policy / "tests", 10_000)
    for argv in (("lint", "--policy", "p"), ("test", "--policy", "p"), ("coverage", "--policy", "p")):
        code, text = run(capsys, *argv)
        assert code == 2
        assert f"xueji: p/tests: more than {MAX_POLICY_FILES} case files: not read" in text
    code, _ = run(capsys, "eval", str(RECORD), "--policy", "p", "--on", "2024-11-15")  # eval reads no case
    assert code == 0


def test_a_fixture_that_is_a_path_is_refused(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (policy / "tests" / "zz.yaml").write_text(
        "cases:\n"
        "  - name: climbing\n"
        "    fixture: ../../outside\n"
        "    on: 2024-11-15\n"
        "    expect:\n"
        "      - {rule: art9.student_notified, outcome: satisfied}\n",
        encoding="utf-8",
    )
    code, text = run(capsys, "test", "--policy", "p")
    assert code == 1
    assert "p/tests/zz.yaml:3:14: fixture: names a fixture (a file in fixtures/), not a path: '../../outside'" in text
    code, text = run(capsys, "lint", "--policy", "p")
    assert "test-case-invalid" in text and "p/tests/zz.yaml:2:" in text


def test_a_file_name_that_is_not_utf8_is_shown_escaped(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"\xff\xfe.yaml")
    (policy / "2021" / name).write_text("chapter: x\narticles: 3\n", encoding="utf-8")
    (policy / "tests" / name).write_text("cases: 3\n", encoding="utf-8")
    for argv in VERBS:
        code, text = run(capsys, *argv)
        assert code in (1, 2)
        assert "p/2021/\\xff\\xfe.yaml:2:11: error[policy-shape]: articles: must be a list" in text
    code, text = run(capsys, "lint", "--policy", "p", "--format", "json")
    assert "p/2021/\\\\xff\\\\xfe.yaml" in text  # JSON escapes the backslash: valid UTF-8 all the same
    json.loads(text[: text.rindex("}") + 1] if text.lstrip().startswith("{") else "{}")


def test_path_text() -> None:
    assert path_text("p/2021/ch1.yaml") == "p/2021/ch1.yaml"
    assert path_text(os.fsdecode(b"p/\xff.yaml")) == "p/\\xff.yaml"
    assert path_text("p/\ud800.yaml") == "p/\\ud800.yaml"
    assert path_text("p/学籍.yaml") == "p/学籍.yaml"


# -------------------------------------------------------------------------------- quoting input values


def test_excerpt_caps_and_escapes() -> None:
    assert excerpt("2024-11-31") == "'2024-11-31'"
    assert excerpt("x" * 100) == "'" + "x" * EXCERPT_CHARS + "…'"
    assert excerpt("a\x1b[2Jb") == "'a\\x1b[2Jb'"
    assert excerpt("a\u202eb") == "'a\\u202eb'"  # a right-to-left override is shown, not obeyed
    assert excerpt(12) == "12" and excerpt(None) == "None"
    assert excerpt("学籍") == "'学籍'"
    assert excerpt("key", quoted=False) == "key" and excerpt("k\ney", quoted=False) == "k\\ney"
    assert excerpt("y" * 50, quoted=False) == "y" * EXCERPT_CHARS + "…"


@pytest.mark.parametrize(
    "record",
    [
        {"id": "1", "admission": {"year": SECRET}},
        {"id": "1", "academic_years": [{"term_start": SECRET}]},
        {"id": "1", "level": SECRET},
        {"id": "1", SECRET: 1},
        {"id": "1", "academic_years": [{"term_start": "2024-09-0\x1b[2J"}]},
    ],
    ids=["integer", "date", "enum", "unknown-field", "terminal-escape"],
)
def test_a_record_problem_quotes_a_short_escaped_excerpt(record: dict[str, object]) -> None:
    try:
        decision = engine.evaluate(record, on="2024-11-15")
    except engine.FactsError as ex:
        texts = [p.message.en + p.message.zh + p.path for p in ex.problems] + [str(ex)]
    else:
        texts = [w.message.en + w.message.zh + w.path for w in decision.warnings]
    assert texts
    for text in texts:
        assert SECRET not in text and "\x1b" not in text
    assert any("hunter2-hunter2" in t or "\\x1b" in t for t in texts)


def test_a_policy_problem_quotes_a_short_excerpt(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calendar = policy / "calendar.yaml"
    calendar.write_text(calendar.read_text(encoding="utf-8") + f"\n# appended\nother_{SECRET}: 1\n", encoding="utf-8")
    manifest = policy / "xueji.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("name: ", f"{SECRET}: 1\nname: ", 1), encoding="utf-8"
    )
    code, text = run(capsys, "lint", "--policy", "p", secret_in_source=True)
    assert code == 1
    messages = [line for line in text.splitlines() if "error[" in line]
    assert len(messages) == 2 and all("hunter2-hunter2" in m and SECRET not in m for m in messages)
    assert "unknown top-level key 'other_hunter2-hunter2-hunter2-hunter2-hu…'" in messages[0]
