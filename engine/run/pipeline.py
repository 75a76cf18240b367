"""The passes in order: read (load + parse) → check → compile, for a whole policy directory.

Takes a policy directory; gives a checked and compiled :class:`~engine.sources.policy.PolicySet` whose
``warnings`` hold the checker's warnings, or raises one :class:`~engine.diagnostics.PolicyError` with
every error found, each with its file:line:col. A file that could not be read does not hide the
problems of the others: the rules that loaded are still checked (see ``_CONSEQUENCES_OF_UNREAD``).

:func:`pinned` gives a loaded set cut down in time: to one version (what a policy test case with
``version:`` is judged by), or as it stood on a date (what ``xueji diff`` compares).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from engine.check.checker import check_version
from engine.diagnostics import Diagnostic, PolicyError, Severity
from engine.sources.loader import read_policy
from engine.sources.policy import Parameter, PolicySet, PolicyVersion
from engine.sources.schema import Schema

#: Diagnostics that start with these codes mean a file was not read (or only partly).
_UNREAD_CODES = ("yaml-", "io-error", "file-too-large")
#: What an unread file can cause in the files that were read: not reported in that case.
_CONSEQUENCES_OF_UNREAD = frozenset({"unknown-name", "unknown-function", "unused-definition", "article-without-rule"})


#: The evaluator load_policy uses when not told: ``generated`` (code generated from the checked AST,
#: the closures where it declines a rule; the record checked by code generated from the schema, the
#: validator closures where it gives up) or ``closures``; the environment variable XUEJI_EVALUATOR.
EVALUATORS = ("generated", "closures")


def default_evaluator() -> str:
    value = os.environ.get("XUEJI_EVALUATOR", "generated")
    if value not in EVALUATORS:
        raise ValueError(f"XUEJI_EVALUATOR: {value!r} is not one of {', '.join(EVALUATORS)}")
    return value


def load_policy(
    path: str | Path | None = None, *, evaluator: str | None = None, overrides: Mapping[Path, str] | None = None
) -> PolicySet:
    """Load, check and compile a policy directory (default: the bundled policy set). ``evaluator``:
    ``generated`` or ``closures`` (default: :func:`default_evaluator`). ``overrides``: file texts that
    stand in for the files on disk (the service's playground; see :func:`check_policy`)."""
    evaluator = default_evaluator() if evaluator is None else evaluator
    if evaluator not in EVALUATORS:
        raise ValueError(f"evaluator: {evaluator!r} is not one of {', '.join(EVALUATORS)}")
    return _load(path, compiled=True, generated=evaluator == "generated", overrides=overrides)


def load_checked(path: str | Path | None = None) -> PolicySet:
    """Load and check a policy directory without compiling it: :func:`load_policy`'s diagnostics (its
    ``PolicyError``, the set's ``warnings``), which is all ``xueji lint`` reports. The versions of the
    set it gives have no compiled rules: it cannot judge a record (use :func:`load_policy` for that)."""
    return _load(path, compiled=False, generated=False)


def _load(
    path: str | Path | None, *, compiled: bool, generated: bool, overrides: Mapping[Path, str] | None = None
) -> PolicySet:
    ps, diags = read_policy(path, overrides=overrides)
    ps.schema.generated = generated  # the record check too: generated, or the closures alone
    unread = any(d.severity is Severity.ERROR and d.code.startswith(_UNREAD_CODES) for d in diags)
    diags.extend(_check_and_compile(ps.schema, ps.versions, unread=unread, compiled=compiled, generated=generated))
    # a rule or definition a later version carries over is checked again: report what it finds once
    diags = list({(d.code, d.span, d.message): d for d in diags}.values())
    if any(d.severity is Severity.ERROR for d in diags):
        raise PolicyError(diags)
    ps.warnings = [d for d in diags if d.severity is not Severity.ERROR]
    return ps


def check_policy(
    path: str | Path | None = None, *, overrides: Mapping[Path, str] | None = None
) -> tuple[PolicySet, list[Diagnostic]]:
    """Load and check a policy directory without compiling it, and every diagnostic (errors too)
    instead of raising them: what an editor shows while the author types. ``overrides``: file texts
    that stand in for the files on disk (see :func:`~engine.sources.loader.read_policy`). Raises
    PolicyError only when there is nothing to check (no manifest, no schema, no version)."""
    ps, diags = read_policy(path, overrides=overrides)
    unread = any(d.severity is Severity.ERROR and d.code.startswith(_UNREAD_CODES) for d in diags)
    diags.extend(_check_and_compile(ps.schema, ps.versions, unread=unread, compiled=False))
    return ps, list({(d.code, d.span, d.message): d for d in diags}.values())


def _check_and_compile(
    schema: Schema,
    versions: Sequence[PolicyVersion],
    *,
    unread: bool = False,
    compiled: bool = True,
    generated: bool = False,
) -> list[Diagnostic]:
    """Check each version (its ``info``) and, when ``compiled``, compile those without errors (its
    ``compiled``); the checker's diagnostics."""
    if compiled:  # deferred for start-up time: xueji lint only checks
        from engine.run.codegen import generate
        from engine.run.compiler import compile_version
    diags: list[Diagnostic] = []
    for v in versions:
        info, found = check_version(schema, v)
        v.info = info
        if unread:
            found = [d for d in found if d.code not in _CONSEQUENCES_OF_UNREAD]
        diags.extend(found)
        if compiled and not unread and not any(d.severity is Severity.ERROR for d in found):
            v.compiled = compile_version(v, info)
            if generated:
                generate(v.compiled)
    return diags


def pinned(policy: PolicySet, version: str | None = None, *, until: dt.date | None = None) -> PolicySet:
    """``policy`` cut down in time; give exactly one of ``version`` and ``until``.

    * ``version``: the set pinned to that version alone, which then judges every obligation whatever
      day it arose, with each parameter's values as they stood while it was the latest version (those
      dated before the next version's effective date).
    * ``until``: the set as it stood on that date: the versions effective on or before it, each judging
      the obligations of its own time as in ``policy``, and the parameter values dated on or before it.

    A parameter none of whose values is kept keeps its first (a value applies to the days before its
    date too). The versions kept are copies (``policy`` is not touched), checked and compiled again:
    the compiled rules capture the parameters. Raises ``KeyError`` for an unknown version id and
    ``ValueError`` for a date before the first version took effect.
    """
    if (version is None) == (until is None):
        raise TypeError("pinned() takes a version or until=, not both or neither")
    through: dt.date | None  # the last day whose parameter values are kept (None: all)
    if version is not None:
        ids = [v.id for v in policy.versions]
        if version not in ids:
            raise KeyError(f"the policy set has no version {version!r} (it has {', '.join(ids)})")
        i = ids.index(version)
        kept = [policy.versions[i]]
        through = policy.versions[i + 1].effective - dt.timedelta(days=1) if i + 1 < len(ids) else None
    else:
        assert until is not None
        kept = [v for v in policy.versions if v.effective <= until]
        if not kept:
            first = policy.versions[0].effective if policy.versions else None
            raise ValueError(f"no version of the policy set was in force on {until} (the first took effect on {first})")
        through = until
    parameters = {name: _values_through(p, through) for name, p in policy.parameters.items()}
    versions = [attrs.evolve(v, parameters=parameters, info=None, compiled=None) for v in kept]
    generated = any(v.compiled is not None and v.compiled.generated for v in policy.versions)  # as loaded
    found = _check_and_compile(policy.schema, versions, generated=generated)
    errors = [d for d in found if d.severity is Severity.ERROR]
    if errors:  # the whole set loaded: a part of it can fail only through a bug
        raise PolicyError(errors)
    return attrs.evolve(policy, versions=versions, parameters=parameters)


def _values_through(param: Parameter, through: dt.date | None) -> Parameter:
    """``param`` with the values dated on or before ``through`` (its first if none is)."""
    if through is None:
        return param
    values = [(day, value) for day, value in param.values if day <= through] or param.values[:1]
    spans = {day: span for day, span in param.value_spans.items() if any(day == d for d, _ in values)}
    return attrs.evolve(param, values=values, value_spans=spans)
