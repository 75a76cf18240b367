"""The generated schema check (engine.sources.schemagen) against the validator closures.

For fixtures, policy test cases, the benchmark's students, generated records and hostile ones (wrong
types, unknown keys, nulls, missing keys, bad dates, huge ints, bools for ints, subclasses, non-dict
roots), ``Schema.validate`` with the generated check gives what it gives with the closures alone: the
same facts (same structure, key order and leaf types), the same warnings, the same FactsError problems,
or the same exception. And wherever the generated check itself returns, it returns the closures' facts
of a record without warnings. No schema text reaches the generated source but as string literals.
"""

from __future__ import annotations

import ast
import collections
import copy
import datetime as dt
import enum
import io
import keyword
import random
import re
import tokenize
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import FactsError
from engine.lang import types as t
from engine.lang.limits import MAX_COLLECTION
from engine.run.evaluate import evaluate
from engine.run.pipeline import load_policy
from engine.sources.policy import PolicySet
from engine.sources.schema import Schema, load_schema
from engine.sources.schemagen import Bail
from engine.sources.yamlsource import load_yaml
from engine.tools.policytest import load_cases, run_cases
from tests import strategies as S

ROOT = Path(__file__).resolve().parent.parent
REVISION = ROOT / "examples" / "revision-2025"

# ------------------------------------------------------------------------------------------ comparing


def canon(x: Any) -> Any:
    """``x`` with every leaf's type, and every dict's key order: ``==`` on this is exact."""
    if type(x) is dict:
        return ("dict", tuple((type(k), k, canon(v)) for k, v in x.items()))
    if type(x) is list:
        return ("list", tuple(canon(v) for v in x))
    return (type(x), x)


def outcome(schema: Schema, record: object) -> Any:
    try:
        facts, warnings = schema.validate(record)
    except FactsError as ex:
        return ("problems", [p.to_dict() for p in ex.problems], str(ex))
    except RecursionError:  # a record nested deeper than the stack (its message says where it hit)
        return ("raised", RecursionError)
    except Exception as ex:  # today's validator may raise (e.g. a 5000-digit id): the same, then
        return ("raised", type(ex), str(ex))
    return ("facts", canon(facts), [w.to_dict() for w in warnings])


def closures_of(schema: Schema) -> Schema:
    return Schema(schema.root, schema.records, schema.enums, schema.max_collection, generated=False)


class Pair:
    """One schema checked both ways; counts the records the generated check itself took."""

    def __init__(self, schema: Schema) -> None:
        self.gen = Schema(schema.root, schema.records, schema.enums, schema.max_collection, generated=True)
        self.clo = closures_of(schema)
        self.check = self.gen.generated_check()
        self.fast = 0
        self.seen = 0

    def agree(self, record: object) -> None:
        want = outcome(self.clo, record)
        assert outcome(self.gen, record) == want
        self.seen += 1
        try:
            facts = self.check(record)
        except Exception:
            return  # it gave up: validate asked the closures (compared above)
        self.fast += 1
        assert want == ("facts", canon(facts), []), "the generated check returned what the closures do not"


@pytest.fixture(scope="module")
def bundled() -> PolicySet:
    return load_policy(None, evaluator="generated")


@pytest.fixture(scope="module")
def pair(bundled: PolicySet) -> Pair:
    return Pair(bundled.schema)


# ------------------------------------------------------------------------------------ valid records


def test_every_fixture(pair: Pair) -> None:
    for _, record, _ in S.fixture_records():
        pair.agree(record)
        pair.agree(copy.deepcopy(record))
    assert pair.fast > 0


@pytest.mark.parametrize("where", ["bundled", "revision-2025"])
def test_every_policy_case(where: str) -> None:
    policy = load_policy(None if where == "bundled" else REVISION, evaluator="generated")
    root = ROOT / "policies" if where == "bundled" else REVISION
    p = Pair(policy.schema)

    def judge(record: Any, *, on: dt.date, policy: PolicySet) -> Any:
        p.agree(record)
        return evaluate(record, on=on, policy=policy)

    run_cases(load_cases([root / "tests"]), policy, fixtures_dir=ROOT / "fixtures", evaluator=judge)
    assert p.seen > 5 and p.fast > 0, (p.seen, p.fast)


def test_thousands_of_benchmark_students(pair: Pair) -> None:
    from bench.records import generate

    before, fast = pair.seen, pair.fast
    for record in generate(3000, seed=7):
        kept = copy.deepcopy(record)
        pair.agree(record)
        assert record == kept  # neither check changes the record
    assert pair.fast - fast > 0.9 * (pair.seen - before)  # the generated check takes the usual student


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(record=S.valid_records())
def test_generated_valid_records(pair: Pair, record: dict[str, Any]) -> None:
    pair.agree(record)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=S.valid_mutations() | S.mutated_fixtures())
def test_mutated_fixtures(pair: Pair, case: tuple[str, dict[str, Any], str]) -> None:
    pair.agree(case[1])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(record=S.record_like | S.json_values)
def test_junk(pair: Pair, record: Any) -> None:
    pair.agree(record)


# --------------------------------------------------------------------------------------- hostile values


class Text(str):
    pass


class Number(int):
    pass


class Mapping(dict[str, Any]):
    pass


class Items(list[Any]):
    pass


class Level(enum.IntEnum):
    ONE = 1


HOSTILE: list[Any] = [
    None, True, False, 0, 1, -7, 2**70, 10**5000, 1.5, float("nan"), float("inf"), "", "x", "bachelor",
    "full_time", "passed", "2023-W37-2", "2023W372", "20230901", "2023-02-29", "2024-02-29", "2024-02-30",
    "2024-9-1", " 2024-09-01", "2024-09-01\n", "2024-09-01 ", "2024-09-01T08:00", "\u0662\u0660\u0662\u0664-09-01",
    "0000-01-01", "2024-09", "2024-13", "2024-09\n", "９９９９-01-01", dt.date(2024, 9, 1),
    dt.datetime(2024, 9, 1, 8, 0), [], [1], [None], [[1]], ["2024-09-01"], [{}], [{"year": True}], {},
    {"x": 1}, {"year": "2024"}, Text("bachelor"), Text("2024-09-01"), Text("id"), Number(3), Level.ONE,
    Mapping(), Items(), ("2024-09-01",), b"2024-09-01", 3 + 0j,
]  # fmt: skip


def _variants(record: dict[str, Any], rng: random.Random, per_path: int) -> Iterator[Any]:
    """Copies of ``record`` with one hostile edit: a value replaced, a key deleted, an unknown key
    added, a mapping or list made a subclass."""
    for path in S.paths(record):
        for value in rng.sample(HOSTILE, per_path):
            changed = copy.deepcopy(record)
            S.get(changed, path[:-1])[path[-1]] = value
            yield changed
        changed = copy.deepcopy(record)
        del S.get(changed, path[:-1])[path[-1]]
        yield changed
        node = S.get(record, path)
        for wrap in (Mapping, collections.OrderedDict) if isinstance(node, dict) else (Items,):
            if isinstance(node, dict | list):
                changed = copy.deepcopy(record)
                S.get(changed, path[:-1])[path[-1]] = wrap(S.get(changed, path))
                yield changed
        if isinstance(node, dict):
            for key in ("yaer", "unknown", 1, None, Text("x")):
                changed = copy.deepcopy(record)
                S.get(changed, path)[key] = 1
                yield changed
    for key in ("idd", "", 3, ("a",)):
        yield {**record, key: None}
    yield {k: None for k in record}
    yield Mapping(record)


def test_hostile_records(pair: Pair) -> None:
    rng = random.Random(13)
    for _, record, _ in S.fixture_records():
        for changed in _variants(record, rng, per_path=4):
            pair.agree(changed)
    for root in (None, [], [{}], "x", 1, True, 2.5, {}, collections.OrderedDict(), Mapping(id="1")):
        pair.agree(root)


def test_collection_limit(bundled: PolicySet) -> None:
    base = next(r for _, r, _ in S.fixture_records() if r.get("academic_years"))
    year = base["academic_years"][0]
    for size in (MAX_COLLECTION - 1, MAX_COLLECTION, MAX_COLLECTION + 1):
        record = {**base, "academic_years": [year] * size}
        p = Pair(bundled.schema)
        p.agree(record)
        assert p.fast == (size <= MAX_COLLECTION)
    small = Schema(bundled.schema.root, bundled.schema.records, bundled.schema.enums, max_collection=1)
    closures = closures_of(small)
    two = {**base, "academic_years": [year, year]}
    assert outcome(small, two) == outcome(closures, two) and outcome(small, two)[0] == "problems"
    # the limit is read when the check runs: a schema whose limit changes gets a check made anew
    small.max_collection = closures.max_collection = 5
    assert outcome(small, two) == outcome(closures, two) and outcome(small, two)[0] == "facts"
    assert small.generated_check()(two) == closures.validate(two)[0]


# ----------------------------------------------------------------------- another schema, hostile names

#: field names that are Python keywords, builtins, the generated code's own names, quotes and Chinese
HOSTILE_NAMES = (
    "class", "lambda", "__import__", "None", "x", "get", "out", "n", "e", "v1", "r1", "_bail", "_miss", "str",
    "import os", "a'b\"c\\\\d", "学籍年度", "}{", "#", "1",
)  # fmt: skip

SCHEMA = """
root: top
enums:
  colour: {red: 红, green: 绿}
records:
  top:
    fields:
      id: text
      month: yearmonth
      maybe_month: yearmonth?
      numbers: list[int]
      days: list[date]
      names: list[text]
      colours: list[colour]
      maybe_parts: list[part]?
      part: part
      maybe_part: part?
      flag: {type: bool, absent: none}
      photo: {type: text?, absent: none}
      tree: node?
%(hostile)s
  part:
    fields:
      when: date
      colour: colour?
      ok: bool
  node:
    fields:
      label: int
      kids: list[node]
      parent: node?
"""


def _hostile_schema() -> Schema:
    hostile = "\n".join(f"      {_yaml_str(name)}: {kind}" for name, kind in zip(HOSTILE_NAMES, _KINDS, strict=False))
    tree, diags = load_yaml(SCHEMA % {"hostile": hostile}, "schema.yaml")
    assert tree is not None and not diags, diags
    return load_schema(tree, "schema.yaml")


_KINDS = ("int", "text", "date?", "bool", "colour", "list[int]", "part?", "yearmonth", "list[part]") * 3


def _yaml_str(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tree(depth: int, rng: random.Random) -> dict[str, Any]:
    node: dict[str, Any] = {"label": depth, "kids": []}
    if depth > 0:
        node["kids"] = [_tree(depth - 1, rng) for _ in range(rng.randint(0, 2))]
        node["parent"] = None if rng.random() < 0.5 else {"label": -depth, "kids": []}
    return node


@pytest.fixture(scope="module")
def other() -> Pair:
    schema = _hostile_schema()
    assert set(HOSTILE_NAMES) <= set(schema.root.fields)
    return Pair(schema)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_another_schema(other: Pair, data: st.DataObject) -> None:
    root = other.gen.root
    fields = {n: S.value_of(f.type) for n, f in root.fields.items() if n != "tree"}  # recursive: below
    record = data.draw(st.fixed_dictionaries({}, optional=fields))
    other.agree(record)
    if record:
        path = data.draw(st.sampled_from(S.paths(record)))
        S.get(record, path[:-1])[path[-1]] = data.draw(st.sampled_from(HOSTILE))
        other.agree(record)


def test_another_schema_by_hand(other: Pair) -> None:
    rng = random.Random(7)
    full = {
        "id": 42, "month": "2024-09", "maybe_month": None, "numbers": [1, 2],
        "days": ["2024-09-01", dt.date(2024, 1, 2)], "names": ["a", 7], "colours": ["red"], "maybe_parts": None,
        "part": {"when": "2024-01-01", "colour": None, "ok": True}, "maybe_part": None, "flag": False,
        "tree": _tree(6, rng),
    }  # fmt: skip
    for name, kind in zip(HOSTILE_NAMES, _KINDS, strict=False):
        full[name] = {"int": 1, "text": "t", "date?": None, "bool": True, "colour": "green", "list[int]": [3],
                      "part?": None, "yearmonth": "2020-01", "list[part]": []}[kind]  # fmt: skip
    fast = other.fast
    other.agree(full)
    assert other.fast == fast + 1, "a valid record with every field takes the generated check"
    less = {k: v for k, v in full.items() if k not in ("flag", "photo", "id")}
    other.agree(less)
    assert other.fast == fast + 2
    assert other.check(less)["flag"] is None and other.check(less)["photo"] is None
    for changed in _variants(full, rng, per_path=6):
        other.agree(changed)
    for depth in range(8):
        other.agree({"tree": _tree(depth, rng)})
    deep: dict[str, Any] = {"label": 0, "kids": []}
    for i in range(3000):  # deeper than the stack: both raise RecursionError
        deep = {"label": i, "kids": [deep]}
    other.agree({"tree": deep})


# ------------------------------------------------------------------------------------ the source is safe

#: the generated code's own names: its helpers, locals and the builtins it calls
OWN_NAMES = frozenset(
    {"_bail", "_miss", "_date", "_day", "_new_day", "_limit", "_ym", "x", "get", "out", "n", "e"}
    | {"type", "str", "int", "float", "bool", "dict", "list", "len", "append"}
)
COUNTER = re.compile(r"^[rveac]\d+$")


def _names(source: str) -> set[str]:
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef):
            found.add(node.name)
            found.update(a.arg for a in node.args.args)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


@pytest.mark.parametrize("which", ["bundled", "hostile"])
def test_no_schema_text_in_the_source_but_string_literals(bundled: PolicySet, which: str) -> None:
    schema = bundled.schema if which == "bundled" else _hostile_schema()
    source = schema.generated_source()
    assert source.isascii()
    names = _names(source)
    assert all(re.fullmatch(r"[a-z_]+\d*", n) for n in names), names
    assert names <= OWN_NAMES | {n for n in names if COUNTER.match(n)}, names - OWN_NAMES
    # outside string literals and comments, no field, record or enum name and no enum member
    code = " ".join(
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type not in (tokenize.STRING, tokenize.COMMENT)
    )
    words = set(re.findall(r"\w+", code))
    schema_words: set[str] = set()
    for rt in schema.records.values():
        schema_words.add(rt.name)
        schema_words.update(rt.fields)
    for en in schema.enums.values():
        schema_words.add(en.name)
        schema_words.update(en.members)
    ours = OWN_NAMES | {w for w in words if COUNTER.match(w) or w.isdigit()}  # "r1" may be a field too
    leaked = {w for w in schema_words if w in words and w not in ours and not keyword.iskeyword(w)}
    assert not leaked, leaked
    for name in schema.root.fields:  # each field name is there, as its ascii() literal
        assert ascii(name) in source
    fields = {name for rt in schema.records.values() for name in rt.fields}
    for en in schema.enums.values():
        for member in set(en.members) - fields:
            assert ascii(member) not in source  # member sets are constants in the namespace


# ------------------------------------------------------------------------------------------ the switch


def test_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUEJI_EVALUATOR", "closures")
    assert not load_policy(None).schema.generated
    monkeypatch.setenv("XUEJI_EVALUATOR", "generated")
    assert load_policy(None).schema.generated
    schema = load_policy(None, evaluator="closures").schema
    record = S.fixture_records()[0][1]
    assert schema.validate(record) == load_policy(None, evaluator="generated").schema.validate(record)
    assert schema._fast is None  # never generated when off


def test_a_generated_type_it_does_not_know_bails() -> None:
    """A type the schema cannot declare (a set) is left to the closures, whatever they make of it."""
    rt = t.RecordT("r", {"s": t.Field("s", t.SetT(t.INT))})
    schema = Schema(rt, {"r": rt}, {})
    check: Callable[[Any], Any] = schema.generated_check()
    with pytest.raises(Bail):
        check({"s": 1})
    assert check({}) == {}


def test_the_generated_time_cut_test_answers_as_the_closures() -> None:
    """``as_of``'s test (is anything dated after `on`?) as generated code gives the closures' answer for
    the benchmark's students on days around their dates, and the cut they lead to is the same."""
    from bench.records import generate
    from engine.sources.schema import _after_fn

    schema = load_policy(None).schema
    generated, closures = _after_fn(schema.root, True), _after_fn(schema.root, False)
    assert generated is not None and closures is not None
    days = [dt.date(2019, 9, 1), dt.date(2021, 11, 1), dt.date(2023, 6, 30), dt.date(2024, 10, 1), dt.date(2026, 1, 1)]
    answers = collections.Counter()
    for i, record in enumerate(generate(1500, seed=11)):
        try:
            facts, _ = schema.validate(record)
        except FactsError:
            continue
        on = days[i % len(days)]
        answer = generated(facts, on)
        assert answer == closures(facts, on), (i, on)
        answers[answer] += 1
    assert answers[True] > 100 and answers[False] > 100, answers
