"""Benchmarks of ``engine.evaluate``: a hand-written baseline, peer engines, cold start and lint time.

Run ``python -m bench.run`` (see ``bench/README.md``). Not part of the installed package.
"""
