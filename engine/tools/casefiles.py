"""What ``xueji lint`` reads of a policy set's test cases, from the cache when the files are unchanged.

``xueji lint`` reports the test cases that cannot run and the rules no case names, a static reading of
the case files (:func:`untested_rules`). Reading them — YAML, then every case — costs as much as the
rest of lint, so their :class:`CaseSummary` (each broken case's place and problems, the rule ids and
articles the cases name) is kept in the engine's cache (:mod:`engine.cache`, ``cases-<hash>.json``,
plain JSON) under a hash of the engine's source (and Python's and PyYAML's versions) and of the name
and bytes of every case file: a file edited, added or removed, or another engine, finds no entry.
:mod:`~engine.tools.policytest` reads the cases on a miss (imported only then) and runs them; this
module also says where a policy set keeps them (:func:`default_case_paths`, :func:`case_files`).
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from engine import cache
from engine.diagnostics import Msg, Span, XuejiError, path_text
from engine.lang.limits import MAX_POLICY_FILES
from engine.sources.policy import PolicySet, Rule

if TYPE_CHECKING:
    from engine.tools.policytest import Case

_FORMAT = "xueji-cases-1"


@attrs.frozen
class CaseSummary:
    """What lint needs of the cases: the broken ones (where, and why they cannot run), and what the
    others name."""

    broken: tuple[tuple[Span, tuple[Msg, ...]], ...] = ()
    rules: frozenset[str] = frozenset()
    articles: frozenset[int] = frozenset()
    judged_all: bool = False  # a case expects that no rule is judged: it names every rule


def default_case_paths(policy: PolicySet) -> list[Path]:
    """Where a policy set keeps its cases: ``<policy root>/tests``, after those of the sets it extends
    (a revision must keep every earlier case passing)."""
    return [root / "tests" for root in (*policy.bases, policy.root) if (root / "tests").is_dir()] or [
        policy.root / "tests"
    ]


def case_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The case files of ``paths``: a directory's ``*.yaml``/``*.yml`` files by name, a file itself."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            names = (q for q in path.iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
            found = list(itertools.islice(names, MAX_POLICY_FILES + 1))
            if len(found) > MAX_POLICY_FILES:
                raise XuejiError(
                    f"{shown(path)}: more than {MAX_POLICY_FILES} case files: not read / "
                    f"用例文件超过 {MAX_POLICY_FILES} 个，不予读取"
                )
            yield from sorted(found)
        else:
            yield path


def shown(path: Path) -> str:
    """A case file's name as diagnostics show it: relative to the working directory when inside it."""
    try:
        return path_text(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside the working directory; a symlink loop
        return path_text(path)


def summarize(cases: Sequence[Case]) -> CaseSummary:
    return CaseSummary(
        broken=tuple((c.span, c.problems) for c in cases if c.problems),
        rules=frozenset(e.rule for c in cases for e in c.expect if e.rule is not None),
        articles=frozenset(e.article for c in cases for e in c.expect if e.article is not None),
        judged_all=any(c.expect_none_judged for c in cases),
    )


def untested_rules(policy: PolicySet, summary: CaseSummary) -> list[Rule]:
    """Judged rules that no case expects anything of, by its id or its article."""
    if summary.judged_all:
        return []
    # a rule a later version carries over is written once: named once
    written = {(r.id, r.span): r for v in policy.versions for r in v.rules}
    return [
        r
        for r in written.values()
        if r.kind != "invariant" and r.id not in summary.rules and r.article not in summary.articles
    ]


def summary(paths: Sequence[str | Path]) -> CaseSummary:
    """The summary of the cases in ``paths`` (as :func:`~engine.tools.policytest.load_cases` reads
    them), from the cache when an entry for exactly these files exists."""
    files = list(case_files(paths))
    try:
        import yaml  # already imported by the loader: its version reads the YAML

        parts: list[bytes | str] = [_FORMAT, cache.engine_digest(), sys.version, yaml.__version__]
        for f in files:
            parts += [shown(f), f.read_bytes()]
    except OSError:  # a file that cannot be read is reported by load_cases; nothing to key by
        name = None
    else:
        name = f"cases-{cache.digest(*parts)}.json"
        raw = cache.load(name)
        found = _decode(raw) if raw is not None else None
        if found is not None:
            return found
    from engine.tools import policytest  # deferred for start-up time: only on a miss

    result = summarize(policytest.load_cases(files))
    if name is not None:
        cache.save(name, _encode(result))
    return result


def _encode(s: CaseSummary) -> bytes:
    data = {
        "broken": [
            [[sp.file, sp.line, sp.col, sp.end_line, sp.end_col], [[m.zh, m.en] for m in msgs]] for sp, msgs in s.broken
        ],
        "rules": sorted(s.rules),
        "articles": sorted(s.articles),
        "judged_all": s.judged_all,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _decode(raw: bytes) -> CaseSummary | None:
    try:
        data: Any = json.loads(raw)
        return CaseSummary(
            broken=tuple(
                (Span(str(f), int(a), int(b), int(c), int(d)), tuple(Msg(str(zh), str(en)) for zh, en in msgs))
                for (f, a, b, c, d), msgs in data["broken"]
            ),
            rules=frozenset(str(r) for r in data["rules"]),
            articles=frozenset(int(a) for a in data["articles"]),
            judged_all=bool(data["judged_all"]),
        )
    except (ValueError, TypeError, KeyError):  # not what _encode wrote: a miss
        return None
