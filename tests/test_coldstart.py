"""Cold start (issue 13, point 6): a verb imports only what it needs.

Each test runs ``python -X importtime -m engine VERB`` in a subprocess, with the caches (the AST, the
compiled generated code, lint's summary of the test cases) warmed by a first run (as on every run but
a user's first), and reads the modules it imported from the ``-X importtime`` lines. They check import
lists, never times: the times are in ``bench/run.py`` and the README's "Speed".
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
    "engine.tools.policytest",  # lint's summary of the test cases is cached
    "tempfile",  # a warm cache is only read
    "pygls",  # the language server's (the lsp extra)
    "lsprotocol",
    "engine.faces.lsp",
    "engine.tools.editor",
    "engine.faces.pages",  # the web pages (xueji doc, the service)
    "html",
    "selenium",  # the browser tests' (the test extra)
    "starlette",  # the decision service's (the serve extra)
    "uvicorn",
    "anyio",
    "engine.faces.serve",
    "engine.faces.serve_openapi",
    "engine.sources.recordschema",  # the JSON Schemas: xueji schema and the service only
    "engine.run.decisionschema",
}
# and what `eval` (one record, text) does not need either
NOT_FOR_EVAL = NEVER | {
    "engine.tools",
    "engine.tools.casefiles",
    "engine.faces.render_machine",  # the SARIF, GitHub and iCalendar writers
    "engine.run.explain",  # with it the reference interpreter: only --explain
    "engine.run.interpreter",
    "difflib",
}
# and what `lint` does not need: it checks the policy set, it judges no record
NOT_FOR_LINT = NEVER | {
    "engine.run.compiler",
    "engine.run.codegen",
    "engine.run.evaluate",
    "engine.run.prepare",
    "engine.run.explain",
    "engine.run.interpreter",
    "engine.faces.render_machine",
}


def imported(tmp_path: Path, *argv: str, warm: bool = True, no_cache: bool = False) -> set[str]:
    """The modules ``python -m engine ARGV`` imports, its caches in ``tmp_path`` warmed by a first run
    (unless not ``warm``)."""
    return imports_of(tmp_path, ["-m", "engine", *argv], warm=warm, no_cache=no_cache)


def imports_of(tmp_path: Path, args: list[str], *, warm: bool = True, no_cache: bool = False) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XUEJI_NO_CACHE", "XUEJI_DEBUG")}
    env.update(XUEJI_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO), LANG="C.UTF-8")
    if no_cache:
        env["XUEJI_NO_CACHE"] = "1"
    cmd = [sys.executable, "-X", "importtime", *args]
    for _ in range(2 if warm else 1):  # the first run fills the caches; the second is the one we read
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "engine" in names, proc.stderr[-2000:]  # the lines were read
    return names


def test_eval_imports_only_what_it_needs(tmp_path: Path) -> None:
    names = imported(tmp_path, "eval", FIXTURE, "--on", "2024-11-15", "--lang", "en")
    assert {"engine.run.evaluate", "engine.faces.render"} <= names
    assert sorted(names & NOT_FOR_EVAL) == []


def test_lint_imports_no_hypothesis_no_evaluator_and_no_other_verbs_tools(tmp_path: Path) -> None:
    names = imported(tmp_path, "lint", "--lang", "en")
    assert {"engine.check.checker", "engine.tools.casefiles", "engine.faces.render"} <= names
    assert sorted(names & NOT_FOR_LINT) == []


def test_import_engine_imports_nothing_else() -> None:
    """The public names are imported on first use (PEP 562): ``import engine`` alone loads no pass."""
    code = "import sys, engine; print(sorted(m for m in sys.modules if m.startswith('engine')))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True
    )
    assert out.stdout.decode().strip() == "['engine']", out.stderr.decode()[-2000:]


def test_the_public_names_are_there_when_used() -> None:
    code = (
        "import engine\n"
        "from engine import evaluate, FactsError, PolicySet\n"
        "names = [getattr(engine, n) for n in engine.__all__]\n"
        "assert set(engine.__all__) <= set(dir(engine))\n"
        "from engine.run.evaluate import evaluate as e\n"
        "assert evaluate is e and engine.evaluate is e\n"
        "try:\n"
        "    engine.nothing\n"
        "except AttributeError as ex:\n"
        "    print('AttributeError', ex)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert out.stdout.decode().strip() == "AttributeError module 'engine' has no attribute 'nothing'"


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (("lint", "--format", "sarif"), "engine.faces.render_machine"),
        (("eval", FIXTURE, "--on", "2024-11-15", "--explain"), "engine.run.interpreter"),
        (("test", "--lang", "en"), "engine.tools.policytest"),
        (("compile", "--show"), "engine.run.codegen"),
        (("schema", "record"), "engine.sources.recordschema"),
    ],
)
def test_a_deferred_import_still_happens_when_needed(tmp_path: Path, argv: tuple[str, ...], module: str) -> None:
    assert module in imported(tmp_path, *argv)


@pytest.mark.parametrize("no_cache", [False, True])
def test_lint_reads_the_test_cases_when_their_summary_is_not_cached(tmp_path: Path, no_cache: bool) -> None:
    """A first run (or no cache at all) reads the cases: the policy tests' reader is imported."""
    assert "engine.tools.policytest" in imported(tmp_path, "lint", warm=False, no_cache=no_cache)
