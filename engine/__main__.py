"""``python -m engine`` is the ``xueji`` command."""

from engine.faces.cli import run

run()
