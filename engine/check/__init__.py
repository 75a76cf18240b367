"""Pass 3, the check: a loaded policy version → a type for every node, or diagnostics.

Takes a :class:`~engine.sources.policy.PolicyVersion` and the facts schema; gives
:class:`~engine.check.checker.TypeInfo` (the type of every expression, the resolution of every name and
enum literal) or :class:`~engine.diagnostics.Diagnostic` values with codes, hints and positions. Every
evaluator after it trusts what it checked.
"""
