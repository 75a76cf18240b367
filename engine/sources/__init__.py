"""Pass 2, the sources: policy files and student records as the engine reads them.

Takes a policy directory (``xueji.yaml``, the chapters' YAML files, ``schema.yaml``,
``calendar.yaml``); gives a :class:`~engine.sources.policy.PolicySet`: versions, articles, rules parsed
by :mod:`engine.lang` with every offset mapped back to the file's line and column, the facts
:class:`~engine.sources.schema.Schema` (which checks records, first with code generated from it,
:mod:`~engine.sources.schemagen`) and the working-day calendar. Also YAML with positions
(:mod:`~engine.sources.yamlsource`) and field paths into a record (:mod:`~engine.sources.factpath`).

Nothing here checks types or judges a record: the loader only reads.
"""
