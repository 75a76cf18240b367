"""The passes are layers (README, "How it is built"): import-linter's contracts hold, and they bite.

The contracts live in ``[tool.importlinter]`` of ``pyproject.toml``; ``.ci/run`` also runs
``lint-imports`` on its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the test extra")


def _lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(where / "pyproject.toml")],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_contracts_are_kept() -> None:
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_an_import_up_the_layers_is_refused(tmp_path: Path) -> None:
    """A copy of the package with one upward import (the language importing the decision) fails."""
    shutil.copytree(ROOT / "engine", tmp_path / "engine", ignore=shutil.ignore_patterns("__pycache__", "_data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    types_py = tmp_path / "engine" / "lang" / "types.py"
    types_py.write_text(types_py.read_text() + "\nfrom engine.run import decision  # noqa: E402\n")
    run = _lint_imports(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "engine.lang is not allowed to import engine.run" in run.stdout
    assert "engine.lang.types -> engine.run.decision" in run.stdout


def test_the_top_level_lists_only_the_public_names() -> None:
    assert sorted(engine.__all__) == sorted(
        [
            "CalendarError",
            "Decision",
            "Diagnostic",
            "FactProblem",
            "FactsError",
            "Finding",
            "Outcome",
            "PolicyError",
            "PolicySet",
            "RecordWarning",
            "Span",
            "XuejiError",
            "__version__",
            "bundled_policy",
            "evaluate",
            "load_policy",
        ]
    )
    from engine.consistency import LAWS, check_policy
    from engine.testing import evaluation_dates, records

    assert callable(check_policy) and LAWS and callable(records) and callable(evaluation_dates)


def test_the_folders_are_the_passes() -> None:
    top = sorted(p.name for p in (ROOT / "engine").iterdir() if not p.name.startswith(("_", ".")) or p.suffix)
    packages = sorted(p.name for p in (ROOT / "engine").iterdir() if (p / "__init__.py").exists())
    assert packages == ["check", "faces", "lang", "run", "sources", "tools"]
    modules = sorted(name for name in top if name.endswith(".py"))
    assert modules == [
        "__init__.py",
        "__main__.py",
        "cache.py",
        "consistency.py",
        "diagnostics.py",
        "resources.py",
        "testing.py",
    ]
