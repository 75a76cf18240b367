"""Pass 5, the tools: what a policy author and CI do with a policy set and many records.

Takes a loaded policy set (and records, test files); gives results that a face renders: policy tests
and coverage (:mod:`~engine.tools.policytest`), the consistency laws checked with hypothesis
(:mod:`~engine.tools.consistency`, strategies in :mod:`~engine.tools.testing`), batch evaluation
(:mod:`~engine.tools.batch`; exports as student systems write them — null cells, mappings, XLSX, templates —
in :mod:`~engine.tools.exports`), the formatter of policy files (:mod:`~engine.tools.fmt`) and the impact
of a revision, the same records judged under two policy sets (:mod:`~engine.tools.diff`).

The tools decide (which case failed, which law broke); they never print.
"""
