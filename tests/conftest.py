"""Shared test configuration: Hypothesis profiles, the ``slow`` marker and golden files.

Hypothesis profiles (choose with the environment variable ``HYPOTHESIS_PROFILE``; default ``ci``):

* ``ci`` — about 50 examples per property, no deadline (CI machines are noisy);
* ``nightly`` — 2000 examples per property, for a long scheduled run.

Golden files: a test that renders text for people (lint output, explanations) takes the ``golden``
fixture and calls ``golden.check("diagnostics/some-case.txt", text)``. The expected text lives in
``tests/golden/<name>``. To create or refresh goldens after an intended change, run::

    .venv/bin/pytest tests/ --update-goldens

which rewrites every golden a test checks (and passes), then review the result as a diff
(``git diff tests/golden``) before committing it. Without the flag a missing or different golden
fails the test with a unified diff.

Markers: ``slow`` marks tests that take many seconds (building a wheel, a fresh venv). They run by
default; deselect them with ``-m "not slow"``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

settings.register_profile("ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/golden/* with the text the tests produce (review the diff afterwards)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test that takes many seconds (runs by default)")


class Golden:
    """Compares text with ``tests/golden/<name>``; rewrites the file when ``--update-goldens`` is given."""

    def __init__(self, update: bool, directory: Path = GOLDEN_DIR) -> None:
        self.update = update
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / name

    def check(self, name: str, text: str) -> None:
        path = self.path(name)
        if not text.endswith("\n"):
            text += "\n"
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8", newline="\n")
            return
        if not path.is_file():
            pytest.fail(f"golden file {path} does not exist; run pytest with --update-goldens to create it")
        expected = path.read_text(encoding="utf-8")
        if expected != text:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"golden/{name}",
                    tofile="actual",
                )
            )
            pytest.fail(f"output differs from golden/{name} (rerun with --update-goldens if intended):\n{diff}")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-goldens")))
