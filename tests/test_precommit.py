"""The hooks of ``.pre-commit-hooks.yaml``, run by pre-commit the way another repository runs them.

Each test builds a throw-away git repository holding a copy of ``policies/`` and ``fixtures/`` and runs
``pre-commit try-repo <this repository> <hook> --all-files`` inside it. ``try-repo`` installs the
package from this repository's working tree (uncommitted changes included) into pre-commit's own
virtualenv, so this needs network access to PyPI (or a warm pip cache) and takes a few seconds per
run. The hooks must pass on the good copy and fail, pointing at file:line:col, once a rule is broken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install 'xueji[test]')")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CH3 = "policies/2021/ch3-annual-registration.yaml"

if shutil.which("git") is None:  # pragma: no cover - depends on the machine
    pytest.skip("git is not installed", allow_module_level=True)
if not (REPO / ".git").exists():  # pragma: no cover - e.g. tests run from an sdist
    pytest.skip(f"{REPO} is not a git repository: pre-commit try-repo needs one", allow_module_level=True)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "XUEJI_DEBUG"}
    env.update(PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never", LANG="C.UTF-8")
    return env


def _git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def project(tmp_path: Path, home: Path) -> Path:
    """A git repository that keeps a policy set and uses this repository's hooks."""
    root = tmp_path / "policy-repo"
    root.mkdir()
    shutil.copytree(REPO / "policies", root / "policies")
    shutil.copytree(REPO / "fixtures", root / "fixtures")  # the policy test cases refer to them
    env = _env(home)
    head = _git("rev-parse", "HEAD", cwd=REPO, env=env).strip()  # read-only
    # What a real user writes; `try-repo` below runs the same hooks from the working tree instead.
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {head}\n    hooks:\n      - id: xueji-lint\n      - id: xueji-test\n",
        encoding="utf-8",
    )
    _git("init", "-q", "-b", "main", ".", cwd=root, env=env)
    _git("add", "-A", cwd=root, env=env)
    return root


def try_repo(project: Path, home: Path, hook: str) -> subprocess.CompletedProcess[str]:
    _git("add", "-A", cwd=project, env=_env(home))  # --all-files runs over the files git knows
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--all-files", "--color", "never"],
        cwd=project,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: expected exactly one {old!r}; the policies changed, update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_manifest_and_config_are_valid(project: Path, home: Path) -> None:
    for args in (
        ["validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
        ["validate-config", str(project / ".pre-commit-config.yaml")],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "pre_commit", *args], env=_env(home), capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_xueji_lint_hook(project: Path, home: Path) -> None:
    good = try_repo(project, home, "xueji-lint")
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"xueji lint .*\.+Passed", good.stdout), good.stdout

    replace_once(
        project / CH3,
        "deadline college_report = college_report_due(year)",
        "deadline college_report = college_report_due(yeer)",
    )
    bad = try_repo(project, home, "xueji-lint")
    assert bad.returncode != 0
    assert re.search(r"xueji lint .*\.+Failed", bad.stdout), bad.stdout
    assert "- exit code: 1" in bad.stdout
    m = re.search(rf"^{re.escape(CH3)}:(\d+):(\d+): error\[unknown-name\]: unknown name yeer$", bad.stdout, re.M)
    assert m, bad.stdout
    line = (project / CH3).read_text(encoding="utf-8").splitlines()[int(m[1]) - 1]
    assert line[int(m[2]) - 1 :].startswith("yeer")
    assert "Traceback" not in bad.stdout + bad.stderr


def test_xueji_test_hook(project: Path, home: Path) -> None:
    good = try_repo(project, home, "xueji-test")
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"xueji test .*\.+Passed", good.stdout), good.stdout

    # a rule that still loads but judges wrongly: the cases that pin its due date fail at file:line
    replace_once(
        project / CH3,
        "let annual_registration_due(y: academic_year) = y.term_start + annual_registration_window",
        "let annual_registration_due(y: academic_year) = y.term_start + 3 weeks",
    )
    wrong = try_repo(project, home, "xueji-test")
    assert wrong.returncode != 0
    assert re.search(r"xueji test .*\.+Failed", wrong.stdout), wrong.stdout
    assert re.search(r"^policies/tests/\S+\.yaml:\d+: FAILED: ", wrong.stdout, re.M), wrong.stdout
    assert re.search(r"^\s+expected: .*\n\s+actual: ", wrong.stdout, re.M)

    # a rule that does not load: the policy error points at file:line:col
    replace_once(
        project / CH3,
        "deadline college_report = college_report_due(year)",
        "deadline college_report = college_report_due(yeer)",
    )
    broken = try_repo(project, home, "xueji-test")
    assert broken.returncode != 0
    assert re.search(rf"^{re.escape(CH3)}:\d+:\d+: error\[unknown-name\]", broken.stdout, re.M), broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr


def test_xueji_fmt_hook(project: Path, home: Path) -> None:
    good = try_repo(project, home, "xueji-fmt")
    assert good.returncode == 0, good.stdout + good.stderr

    replace_once(
        project / CH3,
        "    let annual_registration_due(y: academic_year) = y.term_start + annual_registration_window\n",
        "    let annual_registration_due( y : academic_year )=y.term_start+annual_registration_window\n",
    )
    bad = try_repo(project, home, "xueji-fmt")
    assert bad.returncode != 0
    assert f"--- {CH3}\n" in bad.stdout
    # the xueji-fmt hook, unlike the other two, does not pass --lang en: the locale decides
    assert re.search(r"1 (file\(s\) would be reformatted|个文件需要格式化)", bad.stdout), bad.stdout
