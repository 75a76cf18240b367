"""Exports as student systems write them (issue 16, points 5 and 6): null cells, mappings (the shipped
``zh`` and ``chsi``), XLSX in and out, decisions as a table, templates, ``xueji deadlines --batch``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.diagnostics import PolicyError
from engine.faces.cli import main
from engine.sources.yamlsource import load_data
from engine.tools import batch, exports

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ON = "2024-11-15"
SCHEMA = engine.bundled_policy().schema
#: fixtures whose exports (every column a Chinese system writes, NULL where the record says none)
#: must judge as the records do
SAMPLES = [
    "graduate-complete",
    "annual-pending",
    "annual-late-deferred",
    "cancellation-late",
    "credential-problems",
    "first-year-2025",
    "completion-lost-certified",
    "transfer-sequential",
]


def record(name: str) -> dict[str, Any]:
    data, _ = load_data((FIXTURES / f"{name}.yaml").read_bytes(), name)
    assert isinstance(data, dict)
    return json.loads(json.dumps(data, default=str))  # dates as ISO strings, as an export has them


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and (value or not prefix):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def zh_labels() -> dict[str, dict[Any, str]]:
    """type name → value → the first Chinese label the shipped mapping gives it."""
    mapping = exports.load_mapping("zh", SCHEMA)
    out: dict[str, dict[Any, str]] = {}
    for type_name, labels in mapping.values.items():
        for label, value in labels.items():
            out.setdefault(type_name, {}).setdefault(value, label)
    return out


def zh_cell(path: str, value: Any, labels: dict[str, dict[Any, str]]) -> str:
    """A value as a Chinese export writes it: NULL for none, 是/否, Chinese labels, dates with slashes."""
    if value is None:
        return "NULL"
    t = exports.field_type(
        SCHEMA, [int(s) if s.isdigit() else s for s in path.replace("[", ".").replace("]", "").split(".")]
    )
    base = t.inner if hasattr(t, "inner") else t
    if isinstance(value, bool):
        return labels["bool"][value]
    if getattr(base, "members", None):
        return labels[base.name][value]  # type: ignore[union-attr]
    if value == []:
        return "NULL"  # a list with nothing in it: its columns are all NULL
    text = str(value)
    if str(base) == "date":
        day = dt.date.fromisoformat(text)
        return f"{day.year}/{day.month}/{day.day}"
    return text


def zh_export(names: list[str], items: int = 6) -> str:
    """A CSV a Chinese student system would write for these fixtures: Chinese headers for every field
    of the record (lists with ``items`` elements), NULL where there is nothing, Chinese labels."""
    mapping = exports.load_mapping("zh", SCHEMA)
    header_of = mapping.headers(SCHEMA, items)
    paths = exports.leaf_paths(SCHEMA, items)
    labels = zh_labels()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([header_of[p] for p in paths])
    for name in names:
        flat = flatten(record(name))
        row = []
        for p in paths:
            if p in flat:
                row.append(zh_cell(p, flat[p], labels))
            else:
                # a fact the record does not hold: a cell the system leaves NULL (a none, or, for a
                # fact that cannot be none, not known)
                row.append("NULL")
        w.writerow(row)
    return buf.getvalue()


def equivalent_json(name: str) -> dict[str, Any]:
    """The JSON record the export says: what the fixture says, with a fact it leaves out that may be
    none (a nullable leaf, an optional object) as none — an export cannot tell absent from none."""
    data = record(name)

    def fill(value: Any, t: Any) -> Any:
        base = t.inner if hasattr(t, "inner") else t
        if isinstance(value, dict) and hasattr(base, "fields"):
            for fname, field in base.fields.items():
                if fname in value:
                    value[fname] = fill(value[fname], field.type)
                elif hasattr(field.type, "inner"):
                    value[fname] = None
                elif hasattr(field.type, "elem"):
                    value[fname] = []
            return value
        if isinstance(value, list) and hasattr(base, "elem"):
            return [fill(v, base.elem) for v in value]
        return value

    return fill(data, SCHEMA.root)


def decisions(path: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    code = main(["eval", "--batch", str(path), "--out", str(out), "--on", ON, "--jobs", "1", "--full", *extra])
    assert code in (0, 1), code
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_zh_export_with_null_cells_judges_as_the_json_records(tmp_path: Path) -> None:
    """Done when: a CSV exported with Chinese headers, NULL cells and Chinese labels, mapped by the
    shipped zh mapping, gives the same decisions as the equivalent JSON records."""
    (tmp_path / "students.csv").write_text(zh_export(SAMPLES), encoding="utf-8")
    with (tmp_path / "students.jsonl").open("w", encoding="utf-8") as f:
        for name in SAMPLES:
            f.write(json.dumps(equivalent_json(name), ensure_ascii=False) + "\n")
    via_csv = decisions(tmp_path / "students.csv", tmp_path / "a.jsonl", "--map", "zh")
    via_json = decisions(tmp_path / "students.jsonl", tmp_path / "b.jsonl")
    assert len(via_csv) == len(SAMPLES)
    for c, j in zip(via_csv, via_json, strict=True):
        assert "error" not in c, c
        assert {**c, "line": 0} == {**j, "line": 0}
    # and the equivalent JSON records judge as the fixtures themselves, unknowns apart: the export
    # never makes a decision worse than the record's
    outcomes = {f["outcome"] for d in via_csv for f in d["findings"]}
    assert "violated" in outcomes and "satisfied" in outcomes


def test_a_group_of_null_cells_is_none_not_absent(tmp_path: Path) -> None:
    """A student with no graduation yet: the graduation columns are all NULL → graduation is none, so
    the credential rules do not apply (they were unknown when empty cells read as absent)."""
    src = tmp_path / "in.csv"
    head = "id,academic_education,graduation.outcome,graduation.on,diplomas[0].kind,diplomas[0].issued_on\n"
    src.write_text(head + "1,true,NULL,\\N,,\n2,true,graduated,2024-07-01,NULL,NULL\n", encoding="utf-8")
    items = list(batch.read_csv(src.open(encoding="utf-8"), SCHEMA))
    assert items[0][1] == {"id": "1", "academic_education": True, "graduation": None, "diplomas": []}
    assert items[1][1]["graduation"] == {"outcome": "graduated", "on": "2024-07-01"}
    # --null without the empty cell: empty cells are absent again, as before this option
    items = list(batch.read_csv(src.open(encoding="utf-8"), SCHEMA, nulls=exports.parse_nulls("NULL,\\N")))
    assert items[0][1] == {"id": "1", "academic_education": True, "graduation": None}


def test_null_cells_in_a_partly_filled_group(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "id,name,registration.registered_on,registration.level,academic_years[0].year,academic_years[0].registered_on,"
        "academic_years[1].year,academic_years[1].registered_on\n"
        "1,NULL,NULL,bachelor,2024,null,,\n",
        encoding="utf-8",
    )
    ((_, rec, _),) = batch.read_csv(src.open(encoding="utf-8"), SCHEMA)
    # name may not be none: a NULL name is not known; a NULL date is none; the second year is no year
    assert rec == {
        "id": "1",
        "registration": {"registered_on": None, "level": "bachelor"},
        "academic_years": [{"year": 2024, "registered_on": None}],
    }


def test_null_option_on_the_command_line(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text("id,academic_education,graduation.outcome,graduation.on\n1,true,-,-\n", encoding="utf-8")
    main(["eval", "--batch", str(src), "--out", str(out), "--on", ON, "--jobs", "1", "--null", "-", "--full"])
    (line,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert "findings" in line  # '-' read as none: graduation is none, a valid record
    assert main(["eval", "--batch", str(tmp_path / "x.jsonl"), "--out", str(out), "--null", "-"]) == 2


def test_chsi_mapping_reads_the_national_field_names(tmp_path: Path) -> None:
    src = tmp_path / "xj.csv"
    src.write_text(
        "XH,XM,XB,CSRQ,RXRQ,CC,XXXS,XZ,ZYMC,SFZH,MZ\n"
        "2022010203,李明,男,20040315,20220905,本科,普通全日制,4,土木工程,220102200403150011,汉族\n"
        "2023050101,王芳,女,20050101,20230901,专科,非全日制,2.5,会计,NULL,NULL\n",
        encoding="utf-8",
    )
    warned: list[list[str]] = []
    mapping = exports.load_mapping("chsi", SCHEMA)
    items = list(batch.read_csv(src.open(encoding="utf-8"), SCHEMA, mapping=mapping, warn=warned.append))
    assert warned == [["SFZH", "MZ"]]  # once, not once per row
    first, second = (rec for _, rec, _ in items)
    assert first == {
        "id": "2022010203",
        "name": "李明",
        "gender": "男",
        "birth_date": "2004-03-15",
        "admission": {"year": 2022},
        "level": "bachelor",
        "study_form": "full_time",
        "schooling_years": 4,
        "major": "土木工程",
    }
    assert (second["schooling_years"], second["level"], second["study_form"]) == (2.5, "junior_college", "part_time")
    facts, _ = SCHEMA.validate(second)  # the record accepts 2.5 years
    assert facts["schooling_years"] == 2.5


def test_schooling_years_take_fractions_in_json_too() -> None:
    rec = record("graduate-complete")
    rec["schooling_years"] = 3.5
    rec["diplomas"][0]["record"]["schooling_years"] = 3.5
    assert engine.evaluate(rec, on=ON).to_dict()["findings"]
    rec["schooling_years"] = "3.5年"
    with pytest.raises(engine.FactsError, match="schooling_years"):
        engine.evaluate(rec, on=ON)


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("columns:\n  学号: idd\n", "mapping-unknown-field", ":2:7"),
        ("columns:\n  学号: id\nvalues:\n  level: {本科: bachelors}\n", "mapping-unknown-value", ":4:15"),
        ("columns:\n  学号: id\nvalue: {}\n", "mapping-unknown-key", ":3:1"),
        ("columns:\n  生日: {field: birth_date, date: YYYYMMDD}\n", "mapping-bad-date-format", ":2:33"),
        ("columns:\n  学号: {field: id, date: '%Y'}\n", "mapping-bad-date-format", ":2:25"),
        ("columns:\n  a: id\n  b: id\n", "mapping-duplicate-field", ":3:6"),
        ("columns:\n  第{n}学年: academic_years[0].year\n", "mapping-bad-path", ":2:11"),
        ("columns:\n  x: 'admission..year['\n", "mapping-bad-path", ":2:6"),
        ("values:\n  levels: {}\n", "mapping-unknown-type", ":2:3"),
        ("columns: [id]\n", "mapping-shape", ":1:10"),
    ],
)
def test_a_bad_mapping_is_a_diagnostic_at_its_line_and_column(tmp_path: Path, text: str, code: str, where: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        exports.load_mapping(str(path), SCHEMA)
    found = [(d.code, d.render("en")) for d in info.value.diagnostics]
    assert any(c == code and f"m.yaml{where}" in text for c, text in found), found


def test_a_bad_mapping_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.yaml").write_text("columns:\n  学号: idd\n", encoding="utf-8")
    (tmp_path / "in.csv").write_text("学号\n1\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = main(["eval", "--batch", str(tmp_path / "in.csv"), "--out", str(out), "--map", str(tmp_path / "m.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "m.yaml:2:7" in err and "mapping-unknown-field" in err and not out.exists()
    assert main(["eval", "--batch", str(tmp_path / "in.csv"), "--out", str(out), "--map", "nope"]) == 2
    assert "zh" in capsys.readouterr().err  # the shipped names


def test_shipped_mappings_load() -> None:
    assert {"zh", "chsi"} <= set(exports.shipped_mappings())
    for name in exports.shipped_mappings():
        exports.load_mapping(name, SCHEMA)


def test_unknown_columns_are_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    src.write_text("学号,姓名,民族,是否学历教育\n1,李明,汉,是\n2,王芳,汉,否\n", encoding="utf-8")
    main(["eval", "--batch", str(src), "--out", str(out), "--map", "zh", "--jobs", "1", "--lang", "en"])
    err = capsys.readouterr().err
    assert err.count("not read: 民族") == 1
    first, second = (json.loads(x) for x in out.read_text(encoding="utf-8").splitlines())
    assert (first["id"], second["id"]) == ("1", "2")


def test_xlsx_round_trip(tmp_path: Path) -> None:
    """An XLSX export (dates as Excel dates, numbers as numbers) judges as its CSV twin; decisions go
    out as an XLSX table that reads back with the same outcomes as the CSV table."""
    openpyxl = pytest.importorskip("openpyxl")
    text = zh_export(SAMPLES[:4])
    rows = list(csv.reader(io.StringIO(text)))
    book = openpyxl.Workbook()
    sheet = book.active
    for i, row in enumerate(rows):
        cells: list[Any] = []
        for cell in row:
            if i and cell.count("/") == 2:
                y, m, d = map(int, cell.split("/"))
                cells.append(dt.datetime(y, m, d))  # Excel holds dates as dates
            elif i and cell.isdigit() and len(cell) < 6:
                cells.append(int(cell))
            else:
                cells.append(None if cell == "NULL" and i % 2 else cell)  # empty cells too
        sheet.append(cells)
    book.save(tmp_path / "students.xlsx")
    (tmp_path / "students.csv").write_text(text, encoding="utf-8")
    via_xlsx = decisions(tmp_path / "students.xlsx", tmp_path / "a.jsonl", "--map", "zh")
    via_csv = decisions(tmp_path / "students.csv", tmp_path / "b.jsonl", "--map", "zh")
    assert via_xlsx == via_csv

    base = ["eval", "--batch", str(tmp_path / "students.xlsx"), "--map", "zh", "--on", ON, "--jobs", "1"]
    assert main([*base, "--out", str(tmp_path / "d.xlsx"), "--lang", "en"]) == 1
    assert main([*base, "--out", str(tmp_path / "d.csv"), "--lang", "en"]) == 1
    back = openpyxl.load_workbook(tmp_path / "d.xlsx", read_only=True)
    table = [["" if v is None else str(v) for v in row] for row in back.worksheets[0].iter_rows(values_only=True)]
    with (tmp_path / "d.csv").open(encoding="utf-8-sig") as f:
        assert table == list(csv.reader(f))
    header = table[0]
    assert header[:4] == ["line", "id", "on", "version"] and header[-1] == "error" and "Art. 11" in header
    assert [r[1] for r in table[1:]] == [str(d["id"]) for d in via_csv]
    # each article's cell is its worst finding's outcome
    worst = {"violated": 0, "unknown": 1, "pending": 2, "satisfied": 3, "not_applicable": 4}
    for row, d in zip(table[1:], via_csv, strict=True):
        for col, name in enumerate(header):
            if name.startswith("Art. "):
                mine = [f["outcome"] for f in d["findings"] if f["article"] == int(name[5:])]
                want = min(mine, key=worst.__getitem__).replace("_", " ") if mine else ""
                assert row[col].replace("_", " ") == want, (name, row[col], want)


def test_table_output_refuses_resume_and_full(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(record("annual-pending")) + "\n", encoding="utf-8")
    for extra in (["--resume"], ["--full"]):
        assert main(["eval", "--batch", str(src), "--out", str(tmp_path / "d.csv"), *extra]) == 2
    assert main(["eval", "--batch", str(src), "--out", str(tmp_path / "d.csv"), "--on", ON, "--jobs", "1"]) == 0
    rows = list(csv.reader((tmp_path / "d.csv").open(encoding="utf-8-sig")))
    assert rows[0][:3] == ["行", "学号", "评估日期"] or rows[0][:3] == ["line", "id", "on"]
    assert not list(tmp_path.glob(".xueji-*"))  # the temporary JSON lines are gone


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_template_has_the_expected_header(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    if kind == "xlsx":
        openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / f"t.{kind}"
    assert main(["template", kind, "--map", "zh", "--items", "3", "--out", str(out)]) == 0
    if kind == "csv":
        header = next(csv.reader(out.open(encoding="utf-8-sig")))
    else:
        sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
        header = [c for c in next(sheet.iter_rows(values_only=True))]
    assert header[:3] == ["学号", "姓名", "性别"] and "第3学年.注册日期" in header and "第4学年.注册日期" not in header
    # the template reads back as an export with no student, and every column is known
    assert main(["eval", "--batch", str(out), "--map", "zh", "--out", str(tmp_path / "o.jsonl")]) == 0
    assert "not read" not in capsys.readouterr().err
    assert main(["template", "csv"]) == 0
    plain = capsys.readouterr().out.splitlines()[0].split(",")
    assert plain[:2] == ["id", "name"] and "academic_years[1].term_start" in plain
    assert main(["template", "xlsx"]) == 2  # an xlsx needs --out


def test_deadlines_batch_is_one_calendar_for_a_cohort(tmp_path: Path) -> None:
    names = ["annual-pending", "cancellation-pending", "missing-facts"]
    src = tmp_path / "cohort.jsonl"
    src.write_text("".join(json.dumps(record(n), ensure_ascii=False) + "\n" for n in names) + "{bad\n", "utf-8")
    on = "2025-09-10"
    ics_out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(ics_out):
        code = main(["deadlines", "--batch", str(src), "--on", on, "--lang", "en"])
    assert code == 2  # the bad line is reported, the others listed
    ics = ics_out.getvalue().replace("\r\n ", "")
    assert ics.count("BEGIN:VCALENDAR") == 1
    single = io.StringIO()
    with contextlib.redirect_stdout(single):
        main(["deadlines", str(FIXTURES / "annual-pending.yaml"), "--on", on, "--format", "json"])
    rows = json.loads(single.getvalue())
    assert rows and ics.count("BEGIN:VEVENT") >= len(rows)
    for n in names:
        rec = record(n)
        assert f"{rec.get('name', '')} ({rec['id']})".strip() in ics
    as_json = io.StringIO()
    with contextlib.redirect_stdout(as_json):
        main(["deadlines", "--batch", str(src), "--on", on, "--format", "json"])
    events = json.loads(as_json.getvalue())
    assert {e["id"] for e in events} <= {record(n)["id"] for n in names}
    assert len(events) == ics.count("BEGIN:VEVENT")
    unknown = [e for e in events if e["outcome"] == "unknown"]
    assert unknown, "undecidable deadlines are listed"
    assert ics.count("[undecidable]") == len(unknown)
    as_csv = io.StringIO()
    with contextlib.redirect_stdout(as_csv):
        main(["deadlines", "--batch", str(src), "--on", on, "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(as_csv.getvalue())))
    assert [(r["id"], r["rule"], r["subject"]) for r in table] == [(e["id"], e["rule"], e["subject"]) for e in events]
    assert all(r["name"] or r["id"] for r in table)


def test_deadlines_batch_reads_a_mapped_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cohort.csv").write_text(zh_export(["annual-pending"]), encoding="utf-8")
    code = main(["deadlines", "--batch", str(tmp_path / "cohort.csv"), "--map", "zh", "--on", "2025-09-10"])
    out = capsys.readouterr().out
    assert code == 0 and "BEGIN:VEVENT" in out
    assert main(["deadlines", "--on", "2025-09-10"]) == 2
    assert "--batch" in capsys.readouterr().err
    assert main(["deadlines", "--batch", str(FIXTURES / "annual-pending.yaml")]) == 2
    assert "a batch is a .jsonl, .csv or .xlsx file" in capsys.readouterr().err
