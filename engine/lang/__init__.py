"""Pass 1, the language: rule text → a checked-free syntax tree, and the values it speaks of.

Takes the text of one rule (a string, with no idea where it came from); gives a frozen
:class:`~engine.lang.syntax.Program` whose nodes carry offsets into that text. Also the language's own
vocabulary that every later pass shares: types (:mod:`~engine.lang.types`), working days and dates
(:mod:`~engine.lang.calendar`), the limits on input (:mod:`~engine.lang.limits`), and the printer that
turns a tree back into canonical text (:mod:`~engine.lang.printer`).

Knows nothing of YAML files, of the policy set or of students. Imports only :mod:`engine.diagnostics`
and :mod:`engine.resources` from the engine.
"""
