"""Leaf: field paths of a student record as people write them (``academic_years[1].term_start``).

``parse`` splits a path into keys and list indexes, ``show`` joins them back, ``get`` follows one
through plain data (``None`` where it leads nowhere). Used wherever a path is read from a person or a
file: policy test patches, CSV headers, the consistency checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Segment = str | int

_SEGMENT = re.compile(r"([^.\[\]\s]+)|\[(\d+)\]")


def parse(path: str) -> list[Segment]:
    return [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _SEGMENT.finditer(path)]


def show(parts: Sequence[Segment]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def get(data: Any, parts: Sequence[Segment]) -> Any:
    for p in parts:
        if isinstance(p, int):
            if not isinstance(data, list) or p >= len(data):
                return None
            data = data[p]
        elif isinstance(data, dict):
            data = data.get(p)
        else:
            return None
    return data
