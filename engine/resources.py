"""Leaf: where the package data (the grammar, the bundled policy set) lives.

In a wheel, ``grammar/`` and ``policies/`` are installed inside the package as ``engine/_data/``;
in a source checkout (or an editable install) they sit at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_path(*parts: str) -> Path:
    installed = _PACKAGE.joinpath("_data", *parts)
    if installed.exists():
        return installed
    return _PACKAGE.parent.joinpath(*parts)


def bundled_policy_dir() -> Path:
    return data_path("policies")
