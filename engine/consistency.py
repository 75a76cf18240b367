"""Public path of the consistency laws: :mod:`engine.tools.consistency` (``xueji check``).

Requires ``hypothesis`` (the ``test`` extra).
"""

from engine.tools.consistency import *  # noqa: F403  (the public names, listed in its __all__)
from engine.tools.consistency import __all__ as __all__
