"""Public path of the hypothesis strategies for student records: :mod:`engine.tools.testing`.

Embedders write ``from engine.testing import records, evaluation_dates`` (README, "Property tests of
your own"); the strategies live with the other tools. Requires ``hypothesis`` (the ``test`` extra).
"""

from engine.tools.testing import *  # noqa: F403  (the public names, listed in its __all__)
from engine.tools.testing import __all__ as __all__
