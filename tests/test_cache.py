"""The cache directory (:mod:`engine.cache`) and what is kept there: a hit, a miss after an edit, and
the rules of issue 16 — a planted pickle runs nothing, a planted symlink is not followed, a directory
or file writable by others is not used (one warning), a corrupt entry is ignored and rewritten, two
processes writing at once corrupt nothing.

Each test has its own cache directory (``XUEJI_CACHE_DIR`` in ``tmp_path``) and forgets what the
process learnt of the others (``cache._state``).
"""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cache
from engine.lang import parser
from engine.lang.parser import cached_parsing, parse_program
from engine.tools import casefiles

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache directory (not created yet) for this test."""
    d = tmp_path / "cache" / "xueji"
    monkeypatch.delenv("XUEJI_NO_CACHE", raising=False)
    monkeypatch.setenv("XUEJI_CACHE_DIR", str(d))
    monkeypatch.setattr(cache, "_state", {})
    return d


def ast_entry(where: Path) -> Path:
    (entry,) = where.glob("ast-*.pickle")
    return entry


def fill_ast_cache() -> None:
    with cached_parsing():
        parse_program("require x exists")


def parses_with_the_ast_cache(monkeypatch: pytest.MonkeyPatch) -> bool:
    """Parse the text of ``fill_ast_cache`` again: True when it came from the cache (no parser ran)."""
    ran: list[str] = []
    real = parser._parse

    def spy(text: str, start: str) -> object:
        ran.append(text)
        return real(text, start)

    monkeypatch.setattr(parser, "_parse", spy)
    with cached_parsing():
        parse_program("require x exists")
    monkeypatch.setattr(parser, "_parse", real)
    return not ran


# ----------------------------------------------------------------------------------- hits and misses


def test_an_entry_is_read_back_and_the_directory_is_private(where: Path) -> None:
    cache.save("thing", b"payload")
    assert cache.load("thing") == b"payload"
    assert cache.load("other") is None
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    assert stat.S_IMODE((where / "key").stat().st_mode) == 0o600
    assert stat.S_IMODE((where / "thing").stat().st_mode) == 0o600
    assert not list(where.glob(".*.tmp"))  # the temporary files were renamed into place


def test_no_cache_when_turned_off(where: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUEJI_NO_CACHE", "1")
    cache.save("thing", b"payload")
    assert cache.load("thing") is None
    assert not where.exists()


def test_the_ast_cache_hits(where: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill_ast_cache()
    assert parses_with_the_ast_cache(monkeypatch)


def test_an_entry_is_bound_to_its_name(where: Path) -> None:
    """An authentic entry copied under another name is not authentic there."""
    cache.save("one", b"payload")
    (where / "two").write_bytes((where / "one").read_bytes())
    assert cache.load("two") is None


def test_compiled_code_is_cached_by_its_source(where: Path) -> None:
    first = cache.compile_cached("x = 1", "<test>")
    (entry,) = where.glob("code-*.marshal")
    again = cache.compile_cached("x = 1", "<test>")
    assert again is not first and again == first  # unmarshalled from the entry
    other = cache.compile_cached("x = 2", "<test>")
    ns: dict[str, object] = {}
    exec(other, ns)
    assert ns["x"] == 2 and len(list(where.glob("code-*.marshal"))) == 2
    assert entry.exists()


CASES = """\
cases:
  - name: one
    on: 2024-11-15
    fixture: graduate-complete
    expect:
      - rule: art9.annual_registration
        outcome: satisfied
"""


def test_the_case_summary_hits_and_an_edit_misses(where: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.tools import policytest

    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "a.yaml").write_text(CASES, encoding="utf-8")
    first = casefiles.summary([tests])
    assert first.rules == {"art9.annual_registration"} and not first.broken

    def no_reading(paths: object) -> object:
        raise AssertionError("the cases were read again")

    monkeypatch.setattr(policytest, "load_cases", no_reading)
    assert casefiles.summary([tests]) == first  # a hit: nothing read
    monkeypatch.undo()
    monkeypatch.setenv("XUEJI_CACHE_DIR", str(where))

    (tests / "a.yaml").write_text(CASES.replace("art9.annual_registration", "art12.college_report"), encoding="utf-8")
    assert casefiles.summary([tests]).rules == {"art12.college_report"}  # an edit: read again
    (tests / "b.yaml").write_text(CASES.replace("name: one", "name: two").replace("2024-11-15", "2024-02-30"))
    edited = casefiles.summary([tests])
    assert len(edited.broken) == 1 and edited.broken[0][0].file.endswith("b.yaml")  # a file added
    (tests / "b.yaml").unlink()
    assert casefiles.summary([tests]).broken == ()  # a file removed


def test_another_engine_misses(where: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry is keyed by the engine's own source too."""
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "a.yaml").write_text(CASES, encoding="utf-8")
    casefiles.summary([tests])
    before = set(where.glob("cases-*.json"))
    monkeypatch.setattr(cache, "_engine_digest", "another engine")
    casefiles.summary([tests])
    assert len(set(where.glob("cases-*.json")) - before) == 1


def test_lint_sees_an_edited_case_file_at_once(where: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale entry never changes the output: lint, edit a case file, lint again."""
    import shutil

    from engine.faces.cli import lint_policies

    root = tmp_path / "policies"
    shutil.copytree(REPO / "policies", root)
    monkeypatch.chdir(tmp_path)
    assert [d.code for d in lint_policies([str(root)])[0]] == []
    ch3 = root / "tests" / "ch3.yaml"
    text = ch3.read_text(encoding="utf-8")
    first_on = text.index("    on: 20")
    ch3.write_text(text[:first_on] + "    on: 2024-02-30" + text[text.index("\n", first_on) :], encoding="utf-8")
    assert [d.code for d in lint_policies([str(root)])[0]] == ["test-case-invalid"]
    ch3.write_text(text, encoding="utf-8")
    assert [d.code for d in lint_policies([str(root)])[0]] == []


# ------------------------------------------------------------------------------------------ safety


class Boom:
    """Unpickling this runs ``os.system``: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_runs_nothing_and_is_rewritten(
    where: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_ast_cache()
    entry = ast_entry(where)
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"k": Boom(marker)})
    for planted in (evil, cache.MAGIC + b"\0" * 32 + evil, entry.read_bytes()[: len(cache.MAGIC) + 32] + evil):
        entry.write_bytes(planted)
        assert not parses_with_the_ast_cache(monkeypatch)  # ignored: parsed again
        assert not marker.exists()
        assert parses_with_the_ast_cache(monkeypatch)  # and rewritten: an authentic entry again


def test_a_corrupt_or_truncated_entry_is_ignored_and_rewritten(where: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill_ast_cache()
    entry = ast_entry(where)
    whole = entry.read_bytes()
    for broken in (whole[: len(whole) // 2], whole[:10], b"", whole[:-1] + bytes([whole[-1] ^ 1])):
        entry.write_bytes(broken)
        assert not parses_with_the_ast_cache(monkeypatch)
        assert entry.read_bytes() == whole or parses_with_the_ast_cache(monkeypatch)


def test_a_planted_symlink_is_not_followed(where: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill_ast_cache()
    entry = ast_entry(where)
    victim = tmp_path / "victim"
    victim.write_bytes(entry.read_bytes())  # even an authentic entry is not read through a link
    before = victim.read_bytes()
    entry.unlink()
    entry.symlink_to(victim)
    assert not parses_with_the_ast_cache(monkeypatch)
    assert not entry.is_symlink() and entry.is_file()  # replaced by a file of its own
    assert victim.read_bytes() == before
    entry.unlink()
    entry.symlink_to(victim)
    cache.save(entry.name, b"something else")
    assert victim.read_bytes() == before  # writing never writes through a link


def test_a_symlinked_directory_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.delenv("XUEJI_NO_CACHE", raising=False)
    monkeypatch.setenv("XUEJI_CACHE_DIR", str(link))
    monkeypatch.setattr(cache, "_state", {})
    cache.save("thing", b"payload")
    assert cache.load("thing") is None
    assert list(real.iterdir()) == []
    assert capsys.readouterr().err.count("xueji: warning: cache not used") == 1


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_directory_writable_by_others_is_ignored_with_one_warning(
    where: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    fill_ast_cache()
    os.chmod(where, mode)
    monkeypatch.setattr(cache, "_state", {})
    capsys.readouterr()
    assert not parses_with_the_ast_cache(monkeypatch)
    assert cache.load("anything") is None
    cache.save("written", b"no")
    assert not (where / "written").exists()
    err = capsys.readouterr().err
    assert err.count("xueji: warning: cache not used") == 1 and "writable by group or others" in err


def test_an_entry_writable_by_others_is_not_read(
    where: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_ast_cache()
    os.chmod(ast_entry(where), 0o666)
    capsys.readouterr()
    assert not parses_with_the_ast_cache(monkeypatch)
    assert capsys.readouterr().err.count("xueji: warning: cache not used") == 1


def test_a_secret_readable_by_others_is_not_used(
    where: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache.save("thing", b"payload")
    os.chmod(where / "key", 0o644)
    monkeypatch.setattr(cache, "_state", {})
    capsys.readouterr()
    assert cache.load("thing") is None
    assert capsys.readouterr().err.count("xueji: warning: cache not used") == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing an owner needs root")
def test_a_directory_of_another_user_is_not_used(
    where: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache.save("thing", b"payload")
    os.chown(where, 65534, 65534)
    monkeypatch.setattr(cache, "_state", {})
    capsys.readouterr()
    assert cache.load("thing") is None
    assert "is not owned by the current user" in capsys.readouterr().err


WRITER = """
import sys
from engine import cache
me = sys.argv[1].encode()
for i in range(300):
    payload = me * (1000 + i)
    cache.save("shared", payload)
    got = cache.load("shared")
    assert got is not None, "an entry vanished or was not authentic"
    assert got[:1] in (b"a", b"b") and got == got[:1] * len(got), "a torn entry"
print("ok")
"""


def test_two_processes_writing_at_once_corrupt_nothing(where: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XUEJI_CACHE_DIR": str(where)}
    env.pop("XUEJI_NO_CACHE", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, who], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for who in ("a", "b")
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == b"ok", err.decode()[-2000:]
    got = cache.load("shared")
    assert got is not None and got == got[:1] * len(got)
    assert not list(where.glob(".*.tmp"))


def test_only_the_newest_entries_of_a_kind_are_kept(where: Path) -> None:
    for i in range(cache.KEEP + 6):
        cache.save(f"code-{i:03}", b"x")
        os.utime(where / f"code-{i:03}", ns=(i * 10**9, i * 10**9))  # written in this order
    cache.save("cases-1", b"y")
    kept = sorted(p.name for p in where.glob("code-*"))
    assert len(kept) == cache.KEEP and kept[-1] == f"code-{cache.KEEP + 5:03}" and "code-000" not in kept
    assert cache.load("cases-1") == b"y"


@pytest.mark.parametrize(
    "argv", [("lint", "--lang", "en"), ("eval", "fixtures/graduate-complete.yaml", "--on", "2024-11-15")]
)
def test_a_verb_with_a_world_writable_cache_warns_once_and_says_the_same(tmp_path: Path, argv: tuple[str, ...]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("XUEJI_NO_CACHE", "XUEJI_DEBUG", "LC_ALL")}
    env.update(PYTHONPATH=str(REPO), LANG="C.UTF-8")

    def run(cache_dir: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "engine", *argv],
            cwd=REPO,
            env={**env, "XUEJI_CACHE_DIR": str(cache_dir)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    private = run(tmp_path / "private")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    public = run(shared)
    assert (public.stdout, public.returncode) == (private.stdout, private.returncode)
    assert public.stderr.count("xueji: warning: cache not used") == 1 and "cache" not in private.stderr
    assert list(shared.iterdir()) == []
