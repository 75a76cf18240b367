"""Rule-set consistency: the laws of ``engine.consistency`` hold for the bundled policy set, and
``xueji check`` catches real mistakes injected into copies of it.

The example budget follows the hypothesis profile: ``HYPOTHESIS_PROFILE=nightly`` runs many more.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import engine
from engine.faces.cli import main
from engine.resources import bundled_policy_dir
from engine.tools.consistency import LAWS, check_policy

EXAMPLES = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else 100  # as `xueji check`


@pytest.mark.parametrize("law", list(LAWS))
def test_bundled_policy_obeys_law(law: str) -> None:
    """Each law (its statement is the docstring of ``engine.consistency.<law>``) holds for the bundled set."""
    results = dict(check_policy(engine.bundled_policy(), examples=EXAMPLES, laws=[law]))
    failure = results[law]
    assert failure is None, json.dumps(failure.to_dict(), ensure_ascii=False, indent=2) if failure else ""


def _copy_policy(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(bundled_policy_dir(), root, ignore=shutil.ignore_patterns("tests"))
    return root


def _edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


CH2 = "2021/ch2-new-student-registration.yaml"
CH3 = "2021/ch3-annual-registration.yaml"

# Each mistake: (law that must catch it, file, text to replace, replacement).
MISTAKES = {
    "contradicts_art11_deferral": (
        "no_contradictions",
        CH3,
        "      - id: art11.registration_conditions\n",
        """      - id: art11.injected_no_deferral
        rule: |
          for year in academic_years
          forbid year.deferred_on exists
            when annual_registration_applies(year)
        message:
          zh: 不得暂缓注册
          en: no deferred registration
      - id: art11.registration_conditions
""",
    ),
    "deadline_anchored_before_term_start": (
        "due_not_before_anchor",
        CH3,
        "let annual_registration_due(y: academic_year) = y.term_start + annual_registration_window",
        "let annual_registration_due(y: academic_year) = y.term_start - 2 weeks",
    ),
    "duplicate_rule_with_opposite_verdict": (
        "no_contradictions",
        CH2,
        "      - id: art9.student_notified\n",
        """      - id: art9.student_notified_copy
        rule: |
          forbid registration.student_notified_on exists
              and registration.student_notified_on >= registration.registered_on
            when registered
        message:
          zh: 复制的规则
          en: a copied rule
      - id: art9.student_notified
""",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_check_catches_injected_mistake(mistake: str, tmp_path: Path) -> None:
    """A known inconsistency injected into a copy of the policy set is reported by its law."""
    law, file, old, new = MISTAKES[mistake]
    root = _copy_policy(tmp_path)
    _edit(root, file, old, new)
    policy = engine.load_policy(root)
    failure = dict(check_policy(policy, examples=1000, laws=[law]))[law]
    assert failure is not None, f"{law} did not catch {mistake}"
    assert failure.rules, "the failure names the rules involved"
    assert all(":" in at for _, at in failure.rules)
    # the shrunk counterexample is a record the engine accepts
    engine.evaluate(failure.record, on=failure.on, policy=policy)


def test_as_of_on_catches_an_engine_that_does_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine judging the whole record instead of the record as of ``on`` (the cut forgotten in
    ``prepare``) breaks the law ``as_of_on``: a fact dated after ``on`` would count outside ``by``."""
    from engine.sources.schema import Schema

    monkeypatch.setattr(Schema, "as_of", lambda self, facts, on: (facts, []))
    failure = dict(check_policy(engine.bundled_policy(), examples=300, laws=["as_of_on"]))["as_of_on"]
    assert failure is not None and failure.rules
    engine.evaluate(failure.record, on=failure.on)


def test_cli_check_prints_counterexample_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    law, file, old, new = MISTAKES["duplicate_rule_with_opposite_verdict"]
    root = _copy_policy(tmp_path)
    _edit(root, file, old, new)
    code = main(["check", str(root), "--law", law, "--examples", "300", "--lang", "en", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    (result,) = out["laws"]
    assert result["law"] == law and not result["ok"]
    assert {r["rule"] for r in result["failure"]["rules"]} == {"art9.student_notified", "art9.student_notified_copy"}
    assert isinstance(result["failure"]["record"], dict)


def test_cli_check_rejects_unknown_law(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--law", "no_such_law"]) == 2
    assert "unknown law" in capsys.readouterr().err


def test_a_time_budget_draws_fresh_batches(capsys: pytest.CaptureFixture[str]) -> None:
    """--seconds keeps checking with new seeds until the budget is spent (at least one batch)."""
    assert main(["check", "--law", "total", "--examples", "5", "--seconds", "0.5", "--lang", "en"]) == 0
    assert "total" in capsys.readouterr().out
