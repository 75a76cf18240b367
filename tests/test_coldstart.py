"""Cold start (issue 13, point 6): a verb imports only what it needs.

Each test runs ``python -X importtime -m engine VERB`` in a subprocess, with the AST cache warmed by a
first run (as on every run but a user's first), and reads the modules it imported from the
``-X importtime`` lines. They check import lists, never times: the times are in ``bench/run.py`` and
the README's "Speed".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = "fixtures/graduate-complete.yaml"

# what neither `eval` nor `lint` may import: the test extra, the tools and writers of other verbs
NEVER = {
    "hypothesis",
    "engine.tools.consistency",
    "engine.tools.testing",
    "engine.tools.diff",
    "engine.tools.batch",
    "engine.tools.fmt",
    "engine.faces.render_diff",
    "engine.faces.render_policytest",  # the JUnit writer
    "xml",
    "xml.etree.ElementTree",
    "csv",
    "concurrent.futures",
    "multiprocessing",
    "lark",  # the AST cache is warm
    "pygls",  # the language server's (the lsp extra)
    "lsprotocol",
    "engine.faces.lsp",
    "engine.tools.editor",
}
# and what `eval` (one record, text) does not need either
NOT_FOR_EVAL = NEVER | {
    "engine.tools",
    "engine.tools.policytest",
    "engine.faces.render_machine",  # the SARIF, GitHub and iCalendar writers
    "engine.run.explain",  # with it the reference interpreter: only --explain
    "engine.run.interpreter",
    "difflib",
}


def imported(tmp_path: Path, *argv: str) -> set[str]:
    """The modules ``python -m engine ARGV`` imports, its AST cache in ``tmp_path`` warmed by a first run."""
    env = {k: v for k, v in os.environ.items() if k not in ("XUEJI_NO_CACHE", "XUEJI_DEBUG")}
    env.update(XUEJI_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO), LANG="C.UTF-8")
    cmd = [sys.executable, "-X", "importtime", "-m", "engine", *argv]
    for _ in range(2):  # the first run fills the AST cache; the second is the one we read
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "engine.faces.cli" in names, proc.stderr[-2000:]  # the lines were read
    return names


def test_eval_imports_only_what_it_needs(tmp_path: Path) -> None:
    names = imported(tmp_path, "eval", FIXTURE, "--on", "2024-11-15", "--lang", "en")
    assert {"engine.run.evaluate", "engine.faces.render"} <= names
    assert sorted(names & NOT_FOR_EVAL) == []


def test_lint_imports_no_hypothesis_and_no_other_verbs_tools(tmp_path: Path) -> None:
    names = imported(tmp_path, "lint", "--lang", "en")
    assert "engine.tools.policytest" in names  # lint reports the untested rules
    assert sorted(names & NEVER) == []


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (("lint", "--format", "sarif"), "engine.faces.render_machine"),
        (("eval", FIXTURE, "--on", "2024-11-15", "--explain"), "engine.run.interpreter"),
    ],
)
def test_a_deferred_import_still_happens_when_needed(tmp_path: Path, argv: tuple[str, ...], module: str) -> None:
    assert module in imported(tmp_path, *argv)
