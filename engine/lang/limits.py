"""Leaf: every limit the engine puts on its input, in one place (README, "Trust and limits").

Each limit turns hostile or runaway input into a diagnostic with a position (policies) or a
``FactsError`` with a path (records), never a crash or a hang. Change them here.
"""

from __future__ import annotations

#: Most files one ``files:`` pattern of a policy version may match, and most case files in a tests
#: directory: a real policy set has a file per chapter; a pattern that matches a whole disk is refused.
MAX_POLICY_FILES = 1_000
#: Largest policy file read (bytes). A real chapter is a few kilobytes.
MAX_FILE_BYTES = 2_000_000
#: YAML nodes a file may expand to, aliases included (alias bombs stop here).
MAX_YAML_NODES = 200_000
#: Deepest YAML nesting.
MAX_YAML_DEPTH = 200
#: Longest rule text (characters).
MAX_RULE_CHARS = 100_000
#: Deepest nesting of brackets in a rule. The parser is iterative, but the passes after it walk the
#: tree recursively; the limit keeps every pass far from Python's recursion limit.
MAX_NESTING = 64
#: Deepest syntax tree a rule may produce (chains such as `not not …` or `a + b + …` nest without
#: brackets). Every pass after the parser recurses over the tree, once or twice per level.
MAX_DEPTH = 150
#: Most elements of one collection in a student record. Rules compare elements pairwise (Art. 7's
#: overlapping statuses, Art. 10's next academic year), so the cost grows with its square: a real
#: student has a handful of years, statuses and changes; 200 leaves room and keeps a record under 0.1 s.
MAX_COLLECTION = 200
