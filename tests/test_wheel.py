"""The built wheel works on its own: outside the checkout, in a fresh virtual environment.

Builds the wheel with ``pip wheel --no-deps``, creates a venv in a temporary directory, installs the
wheel there (its dependencies come from the package index), and from a temporary working directory
(so nothing of the checkout can be imported by accident) evaluates a fixture record with the installed
``engine`` and runs the installed ``xueji lint`` on the bundled policy set.

Slow (tens of seconds, needs the package index): marked ``slow``, but runs by default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

EVALUATE = r"""
import json, pathlib, sys
import engine
record = json.loads(sys.argv[1])
decision = engine.evaluate(record, on=sys.argv[2])
data = decision.to_dict()
json.dumps(data, ensure_ascii=False)
cancellation = [f for f in data["findings"] if f["rule"] == "art12.cancellation_e_registration"]
print(json.dumps({
    "engine_file": engine.__file__,
    "version": data["version"],
    "cancellation": cancellation,
    "violations": len(decision.violations),
    "policy_root": str(engine.bundled_policy().root),
}))
"""


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _clean_env() -> dict[str, str]:
    """The environment without anything that could point Python back at the checkout (a venv never
    sees the user's site-packages, so HOME, and with it pip's configuration and cache, can stay)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env["PYTHONIOENCODING"] = "utf-8"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh venv (outside the checkout) with the freshly built wheel installed."""
    base = tmp_path_factory.mktemp("wheel")
    assert ROOT not in base.parents, "the venv must live outside the checkout"
    env = _clean_env()
    dist = base / "dist"
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        cwd=base,
        env=env,
    )
    assert build.returncode == 0, f"pip wheel failed:\n{build.stdout}\n{build.stderr}"
    wheels = list(dist.glob("xueji-*.whl"))
    assert len(wheels) == 1, wheels

    venv_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    bindir = venv_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    install = _run([str(python), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=base, env=env)
    assert install.returncode == 0, f"pip install failed:\n{install.stdout}\n{install.stderr}"

    workdir = base / "work"  # an empty directory: no policies/, no engine/ to pick up
    workdir.mkdir()
    return {"python": python, "bindir": bindir, "workdir": workdir, "env": env, "venv": venv_dir}


def _fixture(name: str) -> tuple[dict[str, Any], str]:
    text = (ROOT / "fixtures" / name).read_text(encoding="utf-8")
    on = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("# on:"))
    return yaml.safe_load(text), on


def test_installed_engine_evaluates_a_fixture(installed: dict[str, Any]) -> None:
    record, on = _fixture("cancellation-national-day-2024.yaml")
    result = _run(
        [str(installed["python"]), "-c", EVALUATE, json.dumps(record, ensure_ascii=False, default=str), on],
        cwd=installed["workdir"],
        env=installed["env"],
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    engine_file = Path(out["engine_file"]).resolve()
    assert installed["venv"].resolve() in engine_file.parents, f"imported {engine_file}, not the installed copy"
    assert ROOT not in engine_file.parents
    assert ROOT not in Path(out["policy_root"]).resolve().parents, "the bundled policies must ship in the wheel"
    assert out["version"] == "2021"
    (cancellation,) = out["cancellation"]
    assert cancellation["outcome"] == "satisfied"
    assert cancellation["due"] == "2024-10-23"
    assert out["violations"] == 0


def test_installed_xueji_lint(installed: dict[str, Any]) -> None:
    xueji = installed["bindir"] / ("xueji.exe" if os.name == "nt" else "xueji")
    assert xueji.exists()
    result = _run([str(xueji), "lint"], cwd=installed["workdir"], env=installed["env"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr


def test_installed_xueji_test_finds_the_bundled_cases_and_fixtures(installed: dict[str, Any]) -> None:
    """The policy test cases and the fixtures they name ship in the wheel: `xueji test` passes anywhere."""
    xueji = installed["bindir"] / ("xueji.exe" if os.name == "nt" else "xueji")
    result = _run([str(xueji), "test", "--lang", "en"], cwd=installed["workdir"], env=installed["env"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert " 0 failed, 0 errors" in result.stdout


def test_installed_xueji_eval_json(installed: dict[str, Any]) -> None:
    record, on = _fixture("cancellation-late.yaml")
    path = installed["workdir"] / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False, default=str), encoding="utf-8")
    xueji = installed["bindir"] / ("xueji.exe" if os.name == "nt" else "xueji")
    result = _run(
        [str(xueji), "eval", str(path), "--on", on, "--format", "json"],
        cwd=installed["workdir"],
        env=installed["env"],
    )
    assert result.returncode == 1, (
        f"violations exit 1:\n{result.stdout}\n{result.stderr}"
    )  # expulsion e-registered late
    (data,) = json.loads(result.stdout)
    outcomes = {f["rule"]: f["outcome"] for f in data["findings"] if f["subject"] == "student"}
    assert outcomes["art12.cancellation_e_registration"] == "violated"


def test_installed_xueji_doc_writes_the_pages_with_their_inline_assets(installed: dict[str, Any]) -> None:
    """The pages' CSS and scripts (engine/faces/static/) ship in the wheel."""
    xueji = installed["bindir"] / ("xueji.exe" if os.name == "nt" else "xueji")
    out = installed["workdir"] / "site"
    result = _run([str(xueji), "doc", "--out", str(out)], cwd=installed["workdir"], env=installed["env"])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="art-11"' in page and "article.art{" in page
    python = str(installed["python"])
    code = "import engine.faces.pages as p; assert 'function decisionView' in p._asset('common.js')"
    check = _run([python, "-c", code], cwd=installed["workdir"], env=installed["env"])
    assert check.returncode == 0, check.stderr


def test_installed_xueji_has_the_shipped_mappings(installed: dict[str, Any]) -> None:
    """`--map zh` and `--map chsi` name mappings shipped in the wheel (engine/_data/mappings)."""
    xueji = installed["bindir"] / ("xueji.exe" if os.name == "nt" else "xueji")
    for name, first in (("zh", "学号"), ("chsi", "XH")):
        result = _run([str(xueji), "template", "csv", "--map", name], cwd=installed["workdir"], env=installed["env"])
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert result.stdout.splitlines()[0].split(",")[0] == first
    (installed["workdir"] / "xj.csv").write_text("XH,XM,XZ\n1,李明,2.5\n", encoding="utf-8")
    result = _run(
        [str(xueji), "eval", "--batch", "xj.csv", "--map", "chsi", "--out", "out.jsonl", "--on", "2024-11-15"],
        cwd=installed["workdir"],
        env=installed["env"],
    )
    assert result.returncode in (0, 1), f"{result.stdout}\n{result.stderr}"
    (line,) = (installed["workdir"] / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["id"] == "1"
