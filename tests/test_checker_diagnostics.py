"""Diagnostics conformance: edits of the bundled policy set → what ``xueji lint`` reports, and where.

One thin harness over the cases in ``tests/cases/diagnostics.yaml`` (see the comment at its top). For
each case it copies ``policies/`` into a temporary directory, applies the edit, loads the copy with
``engine.load_policy("policies")`` from the temporary parent (so paths render as
``policies/2021/...``) and

* compares the English and Chinese renderings with ``tests/golden/diagnostics/<name>.txt``
  (regenerate with ``--update-goldens`` and review the diff), and
* checks the expectations: exactly the expected codes and severities, each span on the exact
  offending token of the edited YAML file, the did-you-mean or other hint, both languages filled in.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import engine
from engine.diagnostics import Diagnostic, Severity
from engine.faces.render import diagnostics_text

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
CASES_FILE = Path(__file__).resolve().parent / "cases" / "diagnostics.yaml"
CASE_KEYS = {"name", "file", "replace", "append", "crlf", "bom", "expect", "xfail", "cjk_in_en"}
EXPECT_KEYS = {"code", "severity", "token", "prefix", "hint"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load_cases() -> list[dict[str, Any]]:
    cases = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    assert isinstance(cases, list) and cases, "tests/cases/diagnostics.yaml must be a non-empty list"
    return cases


CASES = _load_cases()


def _params(*, with_xfail: bool) -> Iterator[Any]:
    for case in CASES:
        marks = []
        if with_xfail and case.get("xfail"):
            marks.append(pytest.mark.xfail(reason=case["xfail"], strict=True))
        yield pytest.param(case, id=case["name"], marks=marks)


# ---------------------------------------------------------------------------------------------- harness


def apply_edit(case: dict[str, Any], tmp_path: Path) -> Path:
    """Copy the bundled policies into ``tmp_path/policies`` and apply the case's edit; return the file."""
    shutil.copytree(POLICIES, tmp_path / "policies")
    target = tmp_path / "policies" / case["file"]
    text = target.read_text(encoding="utf-8")
    if "replace" in case:
        old, new = case["replace"]["old"], case["replace"]["new"]
        count = text.count(old)
        assert count == 1, f"case {case['name']}: `old` occurs {count} times in {case['file']}, not once"
        text = text.replace(old, new)
    if "append" in case:
        text += case["append"]
    if case.get("crlf"):
        text = text.replace("\n", "\r\n")
    if case.get("bom"):
        text = "\ufeff" + text
    target.write_bytes(text.encode("utf-8"))
    return target


def lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of the policy set at ``tmp_path/policies``."""
    monkeypatch.chdir(tmp_path)
    try:
        ps = engine.load_policy("policies")
    except engine.PolicyError as ex:
        return list(ex.diagnostics)
    return list(ps.warnings)


def render(diags: list[Diagnostic]) -> str:
    return diagnostics_text(diags, "en") + "\n---\n" + diagnostics_text(diags, "zh")


def span_text(d: Diagnostic, tmp_path: Path) -> str:
    """The text of the YAML file that the diagnostic's span covers (to the line's end if it spans lines)."""
    assert d.span is not None, f"{d.code} has no position"
    path = tmp_path / d.span.file
    assert path.is_file(), f"{d.code} points at {d.span.file}, which does not exist"
    # lines end as YAML (and the renderer) end them: \n, \r\n or \r; a BOM is not part of column 1
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert 1 <= d.span.line <= len(lines), f"{d.code}: line {d.span.line} is outside {d.span.file}"
    line = lines[d.span.line - 1]
    assert 1 <= d.span.col <= len(line), f"{d.code}: column {d.span.col} is outside line {d.span.line}: {line!r}"
    if d.span.end_line == d.span.line:
        assert d.span.end_col > d.span.col, f"{d.code}: empty span {d.span!r}"
        return line[d.span.col - 1 : d.span.end_col - 1]
    assert d.span.end_line > d.span.line, f"{d.code}: span ends before it starts {d.span!r}"
    return line[d.span.col - 1 :]


# ------------------------------------------------------------------------------------------------ tests


def test_cases_file_is_well_formed() -> None:
    names = [c.get("name") for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in CASES:
        assert set(case) <= CASE_KEYS, f"{case.get('name')}: unknown keys {set(case) - CASE_KEYS}"
        assert re.fullmatch(r"[a-z0-9-]+", case["name"]), case["name"]
        assert (POLICIES / case["file"]).is_file(), case["file"]
        assert "replace" in case or "append" in case, f"{case['name']}: no edit"
        assert case.get("expect"), f"{case['name']}: no expectations"
        for e in case["expect"]:
            assert set(e) <= EXPECT_KEYS, f"{case['name']}: unknown expectation keys {set(e) - EXPECT_KEYS}"
            assert ("token" in e) != ("prefix" in e), f"{case['name']}: give exactly one of token/prefix"


def test_bundled_policy_is_clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The baseline: without an edit, the copy lints clean, so each case's diagnostics come from its edit."""
    shutil.copytree(POLICIES, tmp_path / "policies")
    assert lint(tmp_path, monkeypatch) == []


def test_every_golden_has_a_case() -> None:
    directory = Path(__file__).resolve().parent / "golden" / "diagnostics"
    if not directory.is_dir():
        pytest.skip("no goldens yet")
    names = {c["name"] for c in CASES}
    stale = sorted(p.stem for p in directory.glob("*.txt") if p.stem not in names)
    assert not stale, f"golden files without a case (delete them): {stale}"


@pytest.mark.parametrize("case", list(_params(with_xfail=False)))
def test_diagnostics_golden(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, golden: Any) -> None:
    apply_edit(case, tmp_path)
    diags = lint(tmp_path, monkeypatch)
    assert diags, f"case {case['name']}: the edit gave no diagnostic"
    golden.check(f"diagnostics/{case['name']}.txt", render(diags))


@pytest.mark.parametrize("case", list(_params(with_xfail=True)))
def test_diagnostics_expectations(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_edit(case, tmp_path)
    diags = lint(tmp_path, monkeypatch)
    expected = case["expect"]
    got = [(d.code, d.severity.value) for d in diags]
    want = [(e["code"], e.get("severity", "error")) for e in expected]
    assert sorted(got) == sorted(want), f"diagnostics {got}, expected {want}:\n{render(diags)}"
    remaining = list(diags)
    for e in expected:
        # match each expectation with a diagnostic of its code at the expected token
        candidates = [d for d in remaining if d.code == e["code"]]
        assert candidates, e
        texts = [span_text(d, tmp_path) for d in candidates]
        if "token" in e:
            matches = [d for d, t in zip(candidates, texts, strict=True) if t == e["token"]]
        else:
            matches = [d for d, t in zip(candidates, texts, strict=True) if t.startswith(e["prefix"])]
        assert matches, f"{e['code']} does not point at {e.get('token') or e.get('prefix')!r}; it covers {texts}"
        d = matches[0]
        remaining.remove(d)
        assert d.span is not None and d.span.file == f"policies/{case['file']}"
        if "hint" in e:
            assert d.hint is not None, f"{d.code} has no hint"
            assert e["hint"] in d.hint.en, f"hint {d.hint.en!r} lacks {e['hint']!r}"
            assert d.hint.zh
    for d in diags:
        assert d.message.en and d.message.zh
        assert CJK.search(d.message.zh), f"the Chinese message is not Chinese: {d.message.zh!r}"
        if not case.get("cjk_in_en"):
            assert not CJK.search(d.message.en), f"the English message contains Chinese: {d.message.en!r}"
            if d.hint is not None:
                assert not CJK.search(d.hint.en), f"the English hint contains Chinese: {d.hint.en!r}"
        assert d.severity in (Severity.ERROR, Severity.WARNING)


def test_diagnostics_are_sorted_by_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several problems in one file come back together, sorted by line and column."""
    case = {
        "name": "several",
        "file": "2021/ch3-annual-registration.yaml",
        "replace": {
            "old": "deadline college_report = college_report_due(year)",
            "new": "deadline college_report = colege_report_due(year)",
        },
        "append": "",
    }
    target = apply_edit(case, tmp_path)
    text = target.read_text(encoding="utf-8")
    text = text.replace("require year.registered_on by", "require year.registerd_on by")
    text = text.replace("let college_report_due(y: academic_year)", "let college_report_due(y: academic_yaer)")
    target.write_text(text, encoding="utf-8")
    diags = lint(tmp_path, monkeypatch)
    codes = [d.code for d in diags]
    assert {"unknown-function", "unknown-field", "unknown-type"} <= set(codes)
    keys = [(d.span.file, d.span.line, d.span.col) for d in diags if d.span is not None]
    assert keys == sorted(keys)


def test_deeply_nested_rule_is_a_diagnostic_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = {
        "name": "deep",
        "file": "2021/ch2-new-student-registration.yaml",
        "replace": {
            "old": "require admission.recheck = passed",
            "new": "require admission.recheck = passed and " + "not " * 3000 + "false",
        },
    }
    apply_edit(case, tmp_path)
    diags = lint(tmp_path, monkeypatch)
    assert [d.code for d in diags] == ["syntax-error"]


@pytest.mark.parametrize("case", list(_params(with_xfail=False)))
def test_every_diagnostic_has_a_hint(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every diagnostic says how to fix it, in both languages."""
    apply_edit(case, tmp_path)
    for d in lint(tmp_path, monkeypatch):
        assert d.hint is not None and d.hint.zh and d.hint.en, d.render("en")


def test_a_syntax_error_in_one_rule_does_not_hide_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, golden: Any
) -> None:
    """No cascade from one rule to another: after a syntax error in one rule, the other rules of the
    same file and of other files are still checked, and the broken rule causes nothing else (no unknown
    name, no unused definition)."""
    case = {
        "name": "several-rules",
        "file": "2021/ch3-annual-registration.yaml",
        "replace": {
            "old": "deadline college_report = college_report_due(year)",
            "new": "deadline college_report = college_report_due(year) + 3 weks",
        },
    }
    target = apply_edit(case, tmp_path)
    text = target.read_text(encoding="utf-8")
    # a mistake in the next rule of the same file
    text = text.replace(
        "require year.e_registered_on by e_registration", "require year.e_registerd_on by e_registration"
    )
    target.write_text(text, encoding="utf-8")
    # and one in another file
    other = tmp_path / "policies" / "2021" / "ch2-new-student-registration.yaml"
    other.write_text(
        other.read_text(encoding="utf-8").replace(
            "require admission.recheck = passed", "require admission.recheck = pased"
        ),
        encoding="utf-8",
    )
    diags = lint(tmp_path, monkeypatch)
    got = [(d.code, d.span.file if d.span else None, span_text(d, tmp_path)) for d in diags]
    assert sorted(got) == sorted(
        [
            ("syntax-error", "policies/2021/ch3-annual-registration.yaml", "weks"),
            ("unknown-field", "policies/2021/ch3-annual-registration.yaml", "e_registerd_on"),
            ("unknown-enum-literal", "policies/2021/ch2-new-student-registration.yaml", "pased"),
        ]
    ), render(diags)
    golden.check("diagnostics/no-cascade/syntax-error-and-other-rules.txt", render(diags))
