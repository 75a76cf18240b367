"""Leaf: the engine's cache directory, read and written safely (issue 16's rules for a cache).

A cache only saves time: every entry is keyed by a hash of the content it was made from, so a stale
entry is never found, and the directory can be deleted at any time. What lives there:

* ``ast-<tag>.pickle`` — parsed rules (:mod:`engine.lang.parser`);
* ``code-<hash>.marshal`` — the generated rule code, compiled (:mod:`engine.run.codegen`);
* ``cases-<hash>.json`` — what ``xueji lint`` reads of the policy test cases
  (:mod:`engine.tools.casefiles`);
* ``key`` — the per-user secret (0600) that authenticates every entry.

Where: ``$XUEJI_CACHE_DIR``, else ``$XDG_CACHE_HOME/xueji``, else ``~/.cache/xueji``;
``XUEJI_NO_CACHE=1`` turns the cache off (and it is off where there are no POSIX owners and modes).

The rules:

* the directory is created 0700; a directory, entry or key that is a symlink, not owned by the
  current user, or writable by group or others is not read: one warning on stderr, then no cache for
  the rest of the process;
* symlinks are never followed (the directory is checked with ``lstat``, files are opened
  ``O_NOFOLLOW``);
* an entry is ``MAGIC``, an HMAC-SHA256 of its name and payload keyed by the secret, then the payload:
  an entry whose HMAC does not match (truncated, corrupt, planted) is ignored, never unpickled or
  unmarshalled, and rewritten by the caller;
* entries and the secret are written to a ``mkstemp`` file in the same directory and renamed into
  place atomically, so a reader never sees half an entry and concurrent writers do not corrupt one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import stat
import sys
from pathlib import Path
from types import CodeType

MAGIC = b"xueji-cache-1\n"
_DIGEST = 32  # bytes of HMAC-SHA256
_KEY_NAME = "key"

#: per directory: its secret, or None once it was found unsafe (or unusable) in this process
_state: dict[Path, bytes | None] = {}


def directory() -> Path | None:
    """The cache directory the environment names (``None``: caching is off). Not checked here."""
    if os.environ.get("XUEJI_NO_CACHE") or os.name != "posix":  # the rules below need POSIX owners and modes
        return None
    if os.environ.get("XUEJI_CACHE_DIR"):
        return Path(os.environ["XUEJI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xueji"


def _warn(where: Path, why: str) -> None:
    sys.stderr.write(
        f"xueji: warning: cache not used: {where} {why} (delete it, or set XUEJI_CACHE_DIR or XUEJI_NO_CACHE=1)\n"
    )


def _unsafe(st: os.stat_result, *, private: bool = False) -> str | None:
    """Why a file or directory with this ``lstat`` must not be trusted, or ``None``."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink"
    if st.st_uid != os.getuid():
        return "is not owned by the current user"
    if st.st_mode & (0o077 if private else 0o022):
        return "is readable or writable by others" if private else "is writable by group or others"
    return None


def _secret(where: Path) -> bytes | None:
    """The directory's secret, creating the directory (0700) and the secret (0600) if need be;
    ``None`` (after one warning, if it is unsafe) when the cache cannot be used."""
    if where in _state:
        return _state[where]
    _state[where] = None
    try:
        if not os.path.lexists(where):
            os.makedirs(where, mode=0o700, exist_ok=True)
        why = _unsafe(os.lstat(where))
        if why is None and not stat.S_ISDIR(os.lstat(where).st_mode):
            why = "is not a directory"
        if why is not None:
            _warn(where, why)
            return None
        path = where / _KEY_NAME
        if not os.path.lexists(path):
            _create_secret(where, path)
        key, why = _read_secret(path)
        if why is None and len(key) != _DIGEST:  # truncated or corrupt: a new one (old entries are then ignored)
            _create_secret(where, path, replace=True)
            key, why = _read_secret(path)
    except OSError as ex:
        if ex.errno == errno.ELOOP:
            _warn(where / _KEY_NAME, "is a symlink")
        return None  # a cache that cannot be used only costs time
    if why is not None:
        _warn(path, why)
        return None
    if len(key) != _DIGEST:
        return None
    _state[where] = key
    return key


def _read_secret(path: Path) -> tuple[bytes, str | None]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        why = _unsafe(st, private=True) or (None if stat.S_ISREG(st.st_mode) else "is not a regular file")
        return (b"" if why else os.read(fd, 2 * _DIGEST)), why
    finally:
        os.close(fd)


def _create_secret(where: Path, path: Path, *, replace: bool = False) -> None:
    import tempfile  # deferred for start-up time: only a write needs it

    fd, tmp = tempfile.mkstemp(dir=where, prefix=".key.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(_DIGEST))
        if replace:
            os.replace(tmp, path)
            return
        with contextlib.suppress(FileExistsError):  # never replace a secret another process made meanwhile
            os.link(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _mac(key: bytes, name: str, payload: bytes) -> bytes:
    return hmac.new(key, name.encode() + b"\0" + payload, hashlib.sha256).digest()


def load(name: str) -> bytes | None:
    """The payload of the entry ``name``, or ``None``: no cache, no entry, or one that is not
    authentic (it is then ignored; the caller computes the value and :func:`save` rewrites it)."""
    where = directory()
    key = None if where is None else _secret(where)
    if where is None or key is None:
        return None
    path = where / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None  # absent, or a symlink (ELOOP): ignored, and replaced by the next save
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        why = _unsafe(st)
        if why is not None:
            _warn(path, why)
            _state[where] = None
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    head = len(MAGIC) + _DIGEST
    if len(data) < head or not data.startswith(MAGIC):
        return None
    payload = data[head:]
    if not hmac.compare_digest(data[len(MAGIC) : head], _mac(key, name, payload)):
        return None
    return payload


def save(name: str, payload: bytes) -> None:
    """Write the entry ``name`` atomically (nothing happens when the cache is off or unusable)."""
    where = directory()
    key = None if where is None else _secret(where)
    if where is None or key is None:
        return
    import tempfile  # deferred for start-up time: a warm cache is only read

    try:
        fd, tmp = tempfile.mkstemp(dir=where, prefix=f".{name}.", suffix=".tmp")
    except OSError:
        return  # a cache that cannot be written only costs time
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + _mac(key, name, payload) + payload)
        os.replace(tmp, where / name)  # replaces a symlink itself, never what it points to
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    _prune(where, name)


#: entries of one kind (the name up to its first "-") kept; the oldest written go first
KEEP = 64


def _prune(where: Path, name: str) -> None:
    """Keep the newest :data:`KEEP` entries of ``name``'s kind (a hash-keyed cache only grows)."""
    kind = name.split("-", 1)[0] + "-"
    try:
        with os.scandir(where) as it:
            found = [(e.stat(follow_symlinks=False).st_mtime_ns, e.name) for e in it if e.name.startswith(kind)]
        for _, old in sorted(found)[: max(0, len(found) - KEEP)]:
            if old != name:
                os.unlink(where / old)  # a symlink is removed itself
    except OSError:
        pass  # another process pruned first


def digest(*parts: bytes | str) -> str:
    """A hex key for an entry: SHA-256 of the parts, each length-prefixed (no two lists collide)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:32]


_engine_digest: str | None = None


def engine_digest() -> str:
    """A hash of the engine's own source (every ``.py`` of the package), for entries whose value the
    engine's code decides: a changed engine finds none of them."""
    global _engine_digest
    if _engine_digest is None:
        root = Path(__file__).resolve().parent
        parts: list[bytes | str] = []
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))  # no __pycache__, _data
            for f in sorted(files):
                if f.endswith(".py"):
                    path = Path(dirpath, f)
                    parts += [str(path.relative_to(root)), path.read_bytes()]
        _engine_digest = digest(*parts)
    return _engine_digest


def compile_cached(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, the code object kept in the cache (``marshal``, keyed
    by the source, the file name and the interpreter's bytecode magic): the same source is compiled
    once per user, not once per process. The entry is unmarshalled only when its HMAC matches."""
    import importlib.util
    import marshal

    name = f"code-{digest(importlib.util.MAGIC_NUMBER, filename, source)}.marshal"
    raw = load(name)
    if raw is not None:
        try:
            code = marshal.loads(raw)
        except (ValueError, EOFError, TypeError):
            code = None
        if isinstance(code, CodeType):
            return code
    code = compile(source, filename, "exec")
    save(name, marshal.dumps(code))
    return code
