"""Where a policy set is: the nearest manifest (``xueji.yaml``) at or above a place.

Shared by the language server (the set an opened file belongs to) and every verb of the CLI (its set,
from the current directory, when ``--policy`` is not given): walk up from the place to the nearest
directory holding ``xueji.yaml``; ``None`` when there is none (the caller then takes the bundled set).
"""

from __future__ import annotations

from pathlib import Path

from engine.sources.loader import MANIFEST


def find_policy(start: Path) -> Path | None:
    """The policy directory ``start`` (a file or a directory) belongs to: the nearest directory at or
    above it that holds ``xueji.yaml``, or ``None``."""
    here = start.resolve()
    if here.is_file() or not here.exists():  # a file, or a buffer not yet saved
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / MANIFEST).is_file():
            return folder
    return None
