"""Pass 4, the run: a checked policy and a student record → a :class:`~engine.run.decision.Decision`.

Takes a checked policy version; :mod:`~engine.run.compiler` turns it into closures (no ``eval`` or
``exec``), :mod:`~engine.run.pipeline` runs load → check → compile for a directory, and
:mod:`~engine.run.evaluate` judges ``record`` on ``on`` with them: one finding per rule and subject,
citing its article. :mod:`~engine.run.interpreter` is the reference interpreter (a slow, plain AST walk)
that every fixture is also run through; :mod:`~engine.run.explain` shows how a finding came about;
:mod:`~engine.run.runtime` holds the values and primitives both evaluators share.

The compiled path never imports the interpreter, nor the interpreter the compiler (an import-linter
contract): the differential test between them is only worth something while they stay apart.
"""
