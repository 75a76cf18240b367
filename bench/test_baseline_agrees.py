"""The hand-written baseline (and the peers) give the engine's outcomes and due dates.

Not part of the main suite (``testpaths = ["tests"]``): run ``pytest bench/test_baseline_agrees.py``.
A few seconds. It never asserts a time.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from bench import baseline
from bench.compare import diff, engine_rows
from bench.records import DEFAULT_ON, generate
from engine.sources.yamlsource import load_data

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def policy() -> engine.PolicySet:
    return engine.bundled_policy()


def _check(policy: engine.PolicySet, records: list[dict[str, Any]], on: dt.date) -> None:
    problems: list[str] = []
    for i, record in enumerate(records):
        expected = engine_rows(engine.evaluate(record, on=on, policy=policy))
        for line in diff(expected, baseline.evaluate(record, on)):
            problems.append(f"record {i} on {on}: {line}")
    assert not problems, "\n".join(problems[:30])


def test_the_baseline_has_the_policy_rules(policy: engine.PolicySet) -> None:
    version = policy.version_on(DEFAULT_ON)
    assert version is not None and version.compiled is not None
    ids = tuple(r.rule.id for r in version.compiled.rules)
    assert ids == baseline.RULES, "the policy's rules changed: update bench/baseline.py and bench/peers.py"


def test_agrees_on_300_generated_records(policy: engine.PolicySet) -> None:
    _check(policy, generate(300, seed=1), DEFAULT_ON)


@pytest.mark.parametrize(
    "on",
    [
        dt.date(2025, 9, 10),  # this year's deadlines ahead: pending
        dt.date(2027, 1, 20),  # a working-day count running into 2027, which the calendar lacks: unknown
        dt.date(2021, 11, 10),  # just after the measures took effect: most deadlines before it
        dt.date(2021, 10, 31),  # before: nothing judged
    ],
)
def test_agrees_on_other_dates(policy: engine.PolicySet, on: dt.date) -> None:
    _check(policy, generate(100, seed=2, on=on), on)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _mutate(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Drop keys or set them to null anywhere in the record (absent facts, "none" facts)."""
    record = copy.deepcopy(record)
    paths = list(_paths(record))
    for path in rng.sample(paths, k=min(len(paths), rng.randint(1, 4))):
        parent: Any = record
        try:
            for k in path[:-1]:
                parent = parent[k]
            if rng.random() < 0.5:
                del parent[path[-1]]
            else:
                parent[path[-1]] = None
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed the parent
    return record


def test_agrees_on_records_with_absent_and_null_facts(policy: engine.PolicySet) -> None:
    rng = random.Random(11)
    for on in (DEFAULT_ON, dt.date(2025, 9, 10)):
        mutated = [_mutate(r, rng) for r in generate(150, seed=3, on=on) for _ in range(2)]
        _check(policy, mutated, on)


@pytest.mark.parametrize("on", [dt.date(2022, 3, 1), dt.date(2023, 9, 10), dt.date(2024, 7, 1), dt.date(2025, 9, 20)])
def test_agrees_on_records_judged_before_their_export(policy: engine.PolicySet, on: dt.date) -> None:
    """Records exported on 2025-11-15 judged on an earlier day: the facts dated after it are cut (acts not
    done yet, statuses / changes / certificates / credentials / graduations / cancellations not there yet)."""
    _check(policy, generate(150, seed=4), on)


_BLANKS = ("", " ", "\u3000", "\u00a0", " \t\u3000 ", "x")


def _edge(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Art. 15 blank texts, Art. 7 statuses that last no time, credentials with no or another issue date."""
    record = copy.deepcopy(record)
    for d in record.get("diplomas") or ():
        r = d.get("record")
        if isinstance(r, dict) and rng.random() < 0.5:
            r[
                rng.choice(["name", "gender", "photo", "major", "school_name", "president_name", "certificate_number"])
            ] = rng.choice(_BLANKS)
        if rng.random() < 0.15:
            d["issued_on"] = None if rng.random() < 0.5 else rng.choice(["2020-07-01", "2022-06-30", "2025-07-01"])
    statuses = record.get("full_time_statuses") or []
    for st in list(statuses):
        start = st.get("from")
        if isinstance(start, str) and rng.random() < 0.4:
            # a status that lasts no time, inside this one (whose own end may also be its start)
            day = str(max(dt.date.fromisoformat(start), dt.date(2021, 11, 1)) + dt.timedelta(days=rng.randint(0, 90)))
            statuses.append({"school": "吉林大学", "from": day, "to": day})
            if rng.random() < 0.3:
                st["to"] = start
    if statuses and rng.random() < 0.3:
        statuses.append(dict(statuses[-1]))  # an equal status: another one, not the same
    prep = record.get("preparatory")
    if isinstance(prep, dict) and isinstance(prep.get("promoted_on"), str) and rng.random() < 0.5:
        moved = dt.date.fromisoformat(prep["promoted_on"])
        prep["filed_on"] = str(moved.replace(year=moved.year + rng.choice((-1, 1)), month=1, day=rng.randint(1, 28)))
    return record


def test_agrees_on_edge_cases(policy: engine.PolicySet) -> None:
    rng = random.Random(13)
    records = [_edge(r, rng) for r in generate(400, seed=5) for _ in range(2)]
    _check(policy, records, DEFAULT_ON)
    _check(policy, records, dt.date(2024, 9, 10))


@pytest.mark.parametrize("on", [dt.date(2026, 12, 31), dt.date(2027, 1, 5), dt.date(2027, 1, 20)])
def test_agrees_where_the_calendar_gives_only_a_bound(policy: engine.PolicySet, on: dt.date) -> None:
    """Cancellations decided in late 2026: 15 working days need 2027, which the calendar lacks, so the due
    date is known only to be not before decided + 15 days."""
    rng = random.Random(17)
    records = []
    for r in generate(200, seed=6):
        c = r.get("cancellation")
        if not isinstance(c, dict):
            continue
        c = r["cancellation"] = dict(c)
        decided = dt.date(2026, 12, rng.randint(14, 31))
        c["decided_on"] = decided.isoformat()
        c["e_registered_on"] = rng.choice([None, *(str(decided + dt.timedelta(days=k)) for k in (1, 15, 16, 30))])
        records.append(r)
    assert len(records) >= 5
    _check(policy, records, on)


def _fixtures() -> list[tuple[str, dict[str, Any], dt.date]]:
    out = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        raw = path.read_bytes()
        record, _ = load_data(raw, str(path))
        assert isinstance(record, dict), path
        m = re.search(rb"^# on: (\d{4}-\d{2}-\d{2})", raw, re.M)
        assert m, path
        out.append((path.stem, record, dt.date.fromisoformat(m.group(1).decode())))
    return out


@pytest.mark.parametrize(("name", "record", "on"), _fixtures(), ids=lambda v: v if isinstance(v, str) else "")
def test_agrees_on_the_fixtures(policy: engine.PolicySet, name: str, record: dict[str, Any], on: dt.date) -> None:
    expected = engine_rows(engine.evaluate(record, on=on, policy=policy))
    assert diff(expected, baseline.evaluate(record, on)) == []


def test_the_generator_is_deterministic_and_valid(policy: engine.PolicySet) -> None:
    a = generate(40, seed=5)
    assert a == generate(40, seed=5)
    assert a[:10] == generate(10, seed=5)  # record i depends on (seed, i, on) only
    assert a != generate(40, seed=6)
    json.dumps(a, ensure_ascii=False)  # plain JSON values
    for record in a:
        engine.evaluate(record, on=DEFAULT_ON, policy=policy)  # no FactsError


@pytest.mark.parametrize("peer_name", ["cel", "rule-engine"])
def test_the_peers_agree_on_the_fixtures(policy: engine.PolicySet, peer_name: str) -> None:
    pytest.importorskip("cel")
    pytest.importorskip("rule_engine")
    from bench.peers import CelPeer, RuleEnginePeer

    peer = CelPeer() if peer_name == "cel" else RuleEnginePeer()
    problems = []
    for name, record, on in _fixtures():
        expected = engine_rows(engine.evaluate(record, on=on, policy=policy))
        problems += [f"{name}: {line}" for line in diff(expected, peer.evaluate(record, on))]
    assert not problems, "\n".join(problems[:30])
