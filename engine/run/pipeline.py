"""The passes in order: read (load + parse) → check → compile, for a whole policy directory.

Takes a policy directory; gives a checked and compiled :class:`~engine.sources.policy.PolicySet` whose
``warnings`` hold the checker's warnings, or raises one :class:`~engine.diagnostics.PolicyError` with
every error found, each with its file:line:col. A file that could not be read does not hide the
problems of the others: the rules that loaded are still checked (see ``_CONSEQUENCES_OF_UNREAD``).
"""

from __future__ import annotations

from pathlib import Path

from engine.check.checker import check_version
from engine.diagnostics import PolicyError, Severity
from engine.run.compiler import compile_version
from engine.sources.loader import read_policy
from engine.sources.policy import PolicySet

#: Diagnostics that start with these codes mean a file was not read (or only partly).
_UNREAD_CODES = ("yaml-", "io-error", "file-too-large")
#: What an unread file can cause in the files that were read: not reported in that case.
_CONSEQUENCES_OF_UNREAD = frozenset({"unknown-name", "unknown-function", "unused-definition", "article-without-rule"})


def load_policy(path: str | Path | None = None) -> PolicySet:
    """Load, check and compile a policy directory (default: the bundled policy set)."""
    ps, diags = read_policy(path)
    unread = any(d.severity is Severity.ERROR and d.code.startswith(_UNREAD_CODES) for d in diags)
    for v in ps.versions:
        info, found = check_version(ps.schema, v)
        v.info = info
        if unread:
            found = [d for d in found if d.code not in _CONSEQUENCES_OF_UNREAD]
        diags.extend(found)
        if not unread and not any(d.severity is Severity.ERROR for d in found):
            v.compiled = compile_version(v, info)
    # a rule or definition a later version carries over is checked again: report what it finds once
    diags = list({(d.code, d.span, d.message): d for d in diags}.values())
    if any(d.severity is Severity.ERROR for d in diags):
        raise PolicyError(diags)
    ps.warnings = [d for d in diags if d.severity is not Severity.ERROR]
    return ps
