"""Seeded generator of realistic student records in the shape of ``shared/spec/student-facts.md``.

``generate(n, seed=1, on=DEFAULT_ON)`` gives ``n`` raw records (plain JSON values: dates as ISO strings,
``"on"`` keys quoted) as a registrar's export on the date ``on`` would hold them: an act dated after
``on`` has not happened yet, so it is ``null``. Record ``i`` depends only on ``(seed, i, on)``, so the
first 300 records of a run of 2000 are the 300 records of a run of 300.

What varies, roughly in the proportions a school of this size sees:

* admission year 2018–2025 (never after ``on``), level (bachelor, junior college, 专升本, preparatory,
  second bachelor, master, doctor) and its length of schooling;
* 1–5 academic years on record, term starts late August – early September (the school calendar, some
  colleges a few days off it, e.g. 2026-08-31 whose "+ 1 month" clamps to 09-30); the enrolment-year
  row is sometimes not exported;
* annual registration on time / late / missing / deferred (with or without a supplementary
  registration), unpaid tuition, unmet conditions, the college's report and e-registration on time,
  late or missing;
* status changes (marked on time, late or never), cancellations (withdrawal, expulsion, …) most of
  them decided around National Day, with the certificate of incomplete study;
* graduates and completers with 0–2 diplomas, incomplete or mismatching credential records, lost
  diplomas, minors; preparatory admits moved to bachelor; special admission plans; admission-data
  issues; failed re-checks and given-up qualifications; joint training;
* full-time statuses at other schools: sequential, back-to-back, overlapping or never closed;
* about 6% of records lack 1–3 keys (absent = "the record does not know"); 1.5% are not
  degree-track education (``academic_education: false``).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

__all__ = ["DEFAULT_ON", "SCHOOL_CALENDAR", "generate", "student"]

DEFAULT_ON: Final = dt.date(2025, 11, 15)

#: First-semester start of each academic year (the fixtures' calendar; Mondays), extended both ways.
SCHOOL_CALENDAR: Final[dict[int, dt.date]] = {
    2016: dt.date(2016, 8, 29),
    2017: dt.date(2017, 9, 4),
    2018: dt.date(2018, 9, 3),
    2019: dt.date(2019, 9, 2),
    2020: dt.date(2020, 9, 7),
    2021: dt.date(2021, 8, 30),
    2022: dt.date(2022, 8, 29),
    2023: dt.date(2023, 9, 4),
    2024: dt.date(2024, 9, 2),
    2025: dt.date(2025, 9, 1),
    2026: dt.date(2026, 8, 31),
    2027: dt.date(2027, 8, 30),
    2028: dt.date(2028, 8, 28),
    2029: dt.date(2029, 9, 3),
    2030: dt.date(2030, 9, 2),
}

SCHOOL: Final = "长春工程学院"
OTHER_SCHOOLS: Final = ("吉林建筑大学", "吉林大学", "长春理工大学", "东北师范大学", "长春工业大学", "吉林农业大学")
MAJORS: Final = (
    "土木工程",
    "电气工程及其自动化",
    "水利水电工程",
    "能源与动力工程",
    "测绘工程",
    "建筑学",
    "计算机科学与技术",
    "工程管理",
    "给排水科学与工程",
    "勘查技术与工程",
)
SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN: Final = "浩然子轩雨萱梓涵欣怡俊杰思远佳琪博文晓宇天宇可欣文静明磊雪婷宇航嘉怡志强海洋丽娜建华秀英家豪诗涵一鸣"
PLANS: Final = (
    "free_normal",
    "free_medical",
    "tibet_directed",
    "poverty",
    "strong_army",
    "aid_tibet",
    "minority_backbone",
    "directed",
    "national_defense",
    "political_legal",
)
STATUS_CHANGE_KINDS: Final = (
    "repeat_year",
    "demotion",
    "skip_year",
    "suspension",
    "resumption",
    "transfer_school",
    "change_of_major",
    "retain_status",
)
RECORD_FIELDS: Final = (
    "name",
    "gender",
    "birth_date",
    "photo",
    "study_start",
    "study_end",
    "major",
    "level",
    "schooling_years",
    "outcome",
    "study_form",
    "school_name",
    "president_name",
    "certificate_number",
)

# level, weight, schooling years
_LEVELS: Final = (
    ("bachelor", 70, 4),
    ("junior_college", 10, 3),
    ("junior_to_bachelor", 6, 2),
    ("preparatory", 4, 4),
    ("second_bachelor", 2, 2),
    ("master", 6, 3),
    ("doctor", 2, 4),
)
_LEVEL_CODE: Final = {"junior_college": "01", "master": "07", "doctor": "08"}


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


class _Gen:
    """One student's story, told with one seeded ``random.Random``."""

    def __init__(self, rng: random.Random, index: int, on: dt.date) -> None:
        self.r = rng
        self.index = index
        self.on = on

    # -- helpers ---------------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def days(self, d: dt.date, lo: int, hi: int) -> dt.date:
        return d + dt.timedelta(days=self.r.randint(lo, hi))

    def seen(self, d: dt.date | None) -> str | None:
        """An act as the export on ``on`` shows it: not happened yet (null) if dated after ``on``."""
        return None if d is None or d > self.on else d.isoformat()

    def term_start(self, year: int, offset: int) -> dt.date:
        base = SCHOOL_CALENDAR.get(year) or dt.date(year, 9, 1)
        return base + dt.timedelta(days=offset)

    def name(self) -> str:
        given = "".join(self.r.choice(GIVEN) for _ in range(self.r.choice((1, 2, 2))))
        return self.r.choice(SURNAMES) + given

    # -- the story -------------------------------------------------------------------------------

    def student(self) -> dict[str, Any]:
        r, on = self.r, self.on
        # a college off the school calendar by a few days (late Aug .. early Sep), else on it
        offset = r.choice((-5, -3, -2, 1, 2, 3, 4)) if self.chance(0.15) else 0
        last_admission = min(2025, on.year if self.term_start(on.year, offset) <= on else on.year - 1)
        adm = r.randint(2018, max(2018, last_admission))
        level, schooling = r.choices([(lv, n) for lv, _, n in _LEVELS], weights=[w for _, w, _ in _LEVELS])[0]
        major = r.choice(MAJORS)
        if major == "建筑学" and level == "bachelor":
            schooling = 5
        admitted_level = level
        current_level = "bachelor" if level == "preparatory" else level
        sid = f"{adm}{r.randint(1, 12):02d}{r.randint(1, 9):02d}{self.index % 100:02d}"
        gender = r.choice(("男", "女"))
        birth = dt.date(adm - 18 - (3 if level in ("master", "doctor") else 0) + r.randint(-1, 1), 1, 1)
        birth += dt.timedelta(days=r.randint(0, 364))
        name = self.name()
        ts0 = self.term_start(adm, offset)

        # -- admission: re-check, qualification, plans, data issues ---------------------------------
        recheck = r.choices(("passed", "failed", "pending"), weights=(95, 3, 2))[0]
        qualification = "enrolled"
        if recheck == "failed":
            qualification = "cancelled" if self.chance(0.85) else "enrolled"
        elif self.chance(0.03):
            qualification = r.choice(("given_up", "retained"))
        never_registered = recheck == "failed" or qualification == "given_up" or self.chance(0.01)
        reg_on = None if never_registered else self.days(ts0, 0, 25)
        data_issue = r.choice(("missing", "erroneous")) if self.chance(0.05) else None
        reported = resolved = None
        if data_issue is not None and reg_on is not None:
            reported = self.days(ts0, -20, 5) if self.chance(0.9) else None
            if reported is not None and self.chance(0.9):
                resolved = self.days(reported, 3, 25)
            if resolved is not None:
                reg_on = self.days(resolved, 0, 10) if self.chance(0.8) else self.days(resolved, -10, -1)
        plan = r.choice(PLANS) if self.chance(0.1) else None
        admission = {
            "year": adm,
            "level": admitted_level,
            "data_reviewed": self.chance(0.97),
            "data_issue": data_issue,
            "data_issue_reported_on": self.seen(reported),
            "data_issue_resolved_on": self.seen(resolved),
            "recheck": recheck,
            "qualification": qualification,
            "qualification_marked": qualification != "enrolled" and self.chance(0.8),
            "plan": plan,
            "plan_marked": plan is not None and self.chance(0.85),
        }
        if reg_on is not None and reg_on > on:
            reg_on = None
        registered = reg_on is not None
        notified = None
        if reg_on is not None and self.chance(0.95):
            notified = self.days(reg_on, 0, 10) if self.chance(0.95) else self.days(reg_on, -5, -1)
        registration = {
            "registered_on": _iso(reg_on),
            "level": (admitted_level if self.chance(0.9) else current_level) if registered else None,
            "student_notified_on": self.seen(notified),
        }

        # -- preparatory admits moved to a regular level --------------------------------------------
        preparatory: dict[str, Any] | None = None
        if admitted_level == "preparatory" and registered:
            promoted = dt.date(adm + 1, 7, r.randint(1, 15))
            if promoted <= on:
                filed = r.choices(
                    (self.days(promoted, 1, 150), self.days(promoted, 200, 400), self.days(promoted, -30, -1), None),
                    weights=(75, 10, 5, 10),
                )[0]
                new_reg = None
                if self.chance(0.85):
                    base = filed or promoted
                    new_reg = self.days(base, 0, 40) if self.chance(0.85) else self.days(base, -40, -1)
                preparatory = {
                    "promoted_on": promoted.isoformat(),
                    "promoted_level": "bachelor",
                    "filed_on": self.seen(filed),
                    "registered_on": self.seen(new_reg),
                }
            else:
                preparatory = {"promoted_on": None, "promoted_level": None, "filed_on": None, "registered_on": None}

        # -- the end of the story: graduation, completion or cancellation ----------------------------
        length = schooling + (1 if self.chance(0.05) else 0)
        graduation: dict[str, Any] | None = None
        cancellation: dict[str, Any] | None = None
        certificates: list[dict[str, Any]] = []
        end: dt.date | None = None  # the last day of study, if it ended
        grad_on = dt.date(adm + length, 6, r.choice((28, 29, 30, 30, 30))) if self.chance(0.9) else None
        if grad_on is None:
            grad_on = dt.date(adm + length, 7, r.randint(1, 10))
        if registered and self.chance(0.08):
            # a status cancellation, most of them decided around National Day
            year = r.randint(adm, adm + length - 1)
            if self.chance(0.65):
                decided = dt.date(year, 9, 20) + dt.timedelta(days=r.randint(0, 20))
            elif self.chance(0.15):
                decided = dt.date(year, 12, r.randint(10, 31))
            else:
                decided = self.days(self.term_start(year, offset), 30, 300)
            if decided <= on:
                kind = r.choices(("withdrawal", "status_cancelled", "expulsion", "death"), weights=(60, 20, 15, 5))[0]
                e_reg = self.days(decided, 3, 35) if self.chance(0.9) else None
                cancellation = {"kind": kind, "decided_on": decided.isoformat(), "e_registered_on": self.seen(e_reg)}
                end = decided
                if kind == "withdrawal" and self.chance(0.6):
                    certificates.append(
                        {
                            "kind": "incomplete_study",
                            "issued_on": self.seen(self.days(decided, 0, 20)),
                            "marked": self.chance(0.85),
                        }
                    )
                elif self.chance(0.15):
                    certificates.append({"kind": "study_certificate", "issued_on": None, "marked": self.chance(0.7)})
        if cancellation is None and registered and grad_on <= on and self.chance(0.97):
            outcome = "graduated" if self.chance(0.92) else "completed"
            graduation = {"outcome": outcome, "on": grad_on.isoformat()}
            end = grad_on

        # -- academic years on record ---------------------------------------------------------------
        academic_years: list[dict[str, Any]] = []
        if registered:
            first = adm + (1 if self.chance(0.1) else 0)  # the enrolment-year row is sometimes not exported
            wanted = r.randint(1, 5)
            year = first
            while len(academic_years) < wanted and year < adm + length:
                ts = self.term_start(year, offset)
                if ts > on or (end is not None and ts >= end):
                    break
                academic_years.append(self.academic_year(year, ts))
                year += 1

        # -- status changes, marked at the next annual registration ----------------------------------
        status_changes: list[dict[str, Any]] = []
        for _ in range(r.choices((0, 1, 2), weights=(80, 15, 5))[0] if registered else 0):
            stop = min(on, end or on)
            span = (stop - ts0).days
            if span < 40:
                break
            changed = self.days(ts0, 30, span)
            starts = (self.term_start(y, offset) for y in range(adm, adm + 15))
            nxt = next(ts for ts in starts if ts > changed)
            marked = r.choices(
                (self.days(nxt, 0, 28), self.days(nxt, 31, 90), self.days(changed, 1, 20), None),
                weights=(70, 10, 8, 12),
            )[0]
            status_changes.append(
                {"kind": r.choice(STATUS_CHANGE_KINDS), "on": changed.isoformat(), "marked_on": self.seen(marked)}
            )
        status_changes.sort(key=lambda c: c["on"])

        # -- full-time statuses ---------------------------------------------------------------------
        full_time_statuses: list[dict[str, Any]] = []
        if registered:
            if self.chance(0.1):  # a previous status at another school
                start = self.term_start(adm - r.randint(1, 2), 0)
                how = r.choices(("sequential", "touching", "overlap", "open"), weights=(50, 20, 20, 10))[0]
                to: dt.date | None = {
                    "sequential": self.days(ts0, -60, -1),
                    "touching": ts0,
                    "overlap": self.days(ts0, 1, 90),
                    "open": None,
                }[how]
                full_time_statuses.append(
                    {"school": r.choice(OTHER_SCHOOLS), "from": start.isoformat(), "to": _iso(to)}
                )
            full_time_statuses.append({"school": SCHOOL, "from": ts0.isoformat(), "to": _iso(end)})
            if end is not None and self.chance(0.03):  # went on to a master's elsewhere
                later = self.days(end, -30, 90)
                full_time_statuses.append({"school": r.choice(OTHER_SCHOOLS), "from": later.isoformat(), "to": None})

        # -- credentials ----------------------------------------------------------------------------
        minor = graduation is not None and self.chance(0.1)
        diplomas: list[dict[str, Any]] = []
        if graduation is not None:
            count = r.choices((0, 1, 2), weights=(6, 90, 4))[0]
            for k in range(count):
                diplomas.append(
                    self.diploma(graduation, k, sid, name, gender, birth, major, current_level, schooling, minor)
                )

        joint = None
        if registered and self.chance(0.03):
            joint = {"admitting_school": SCHOOL, "registered_school": SCHOOL if self.chance(0.7) else OTHER_SCHOOLS[1]}

        record: dict[str, Any] = {
            "id": sid,
            "name": name,
            "gender": gender,
            "birth_date": birth.isoformat(),
            "photo": f"photos/{sid}.jpg",
            "level": current_level,
            "study_form": "full_time" if self.chance(0.97) else "part_time",
            "schooling_years": schooling,
            "major": major,
            "international": self.chance(0.02),
            "academic_education": not self.chance(0.015),
            "admission": admission,
            "registration": registration,
            "preparatory": preparatory,
            "full_time_statuses": full_time_statuses,
            "joint_training": joint,
            "academic_years": academic_years,
            "status_changes": status_changes,
            "cancellation": cancellation,
            "certificates": certificates,
            "graduation": graduation,
            "diplomas": diplomas,
            "minor_certificate": minor,
        }
        if self.chance(0.03):
            del record["photo"]  # absent photo = no photo (the contract says so)
        if self.chance(0.06):
            self.drop_keys(record)
        return record

    def academic_year(self, year: int, ts: dt.date) -> dict[str, Any]:
        r = self.r
        paid = self.chance(0.94)
        met = self.chance(0.97)
        registered = deferred = supplementary = None
        how = r.choices(("on_time", "late", "deferred", "missing"), weights=(76, 8, 8, 8))[0]
        if how == "on_time":
            registered = self.days(ts, 0, 14)
        elif how == "late":
            registered = self.days(ts, 15, 45)
        elif how == "deferred":
            deferred = self.days(ts, 0, 10)
            if self.chance(0.35):
                registered = self.days(ts, 15, 40)  # registered late, but deferral applied for
            elif self.chance(0.7):
                supplementary = self.days(ts, 20, 90)
        reported = self.days(ts, 5, 20) if self.chance(0.9) else (self.days(ts, 21, 35) if self.chance(0.5) else None)
        e_reg = self.days(ts, 10, 30) if self.chance(0.9) else (self.days(ts, 31, 60) if self.chance(0.5) else None)
        return {
            "year": year,
            "term_start": ts.isoformat(),
            "tuition_paid": paid,
            "conditions_met": met,
            "registered_on": self.seen(registered),
            "deferred_on": self.seen(deferred),
            "supplementary_registered_on": self.seen(supplementary),
            "college_reported_on": self.seen(reported),
            "e_registered_on": self.seen(e_reg),
        }

    def diploma(
        self,
        graduation: dict[str, Any],
        k: int,
        sid: str,
        name: str,
        gender: str,
        birth: dt.date,
        major: str,
        level: str,
        schooling: int,
        minor: bool,
    ) -> dict[str, Any]:
        r = self.r
        grad_on = dt.date.fromisoformat(graduation["on"])
        outcome = graduation["outcome"]
        matching = "graduation" if outcome == "graduated" else "completion"
        kind = matching if self.chance(0.95) else ("completion" if matching == "graduation" else "graduation")
        issued = grad_on if k == 0 and self.chance(0.93) else self.days(grad_on, 1, 300)
        number = f"11437{grad_on.year}{_LEVEL_CODE.get(level, '05')}{r.randint(0, 999999):06d}"
        record: dict[str, Any] | None = {
            "name": name if self.chance(0.97) else name[:-1] + r.choice(GIVEN),
            "gender": gender,
            "birth_date": birth.isoformat() if self.chance(0.98) else self.days(birth, 1, 40).isoformat(),
            "photo": f"photos/{sid}.jpg",
            "study_start": f"{grad_on.year - schooling}-09",
            "study_end": f"{grad_on:%Y-%m}",
            "major": major,
            "level": level,
            "schooling_years": schooling,
            "outcome": outcome,
            "study_form": "full_time",
            "school_name": SCHOOL,
            "president_name": "张志远",
            "certificate_number": number,
        }
        assert record is not None
        if self.chance(0.05):
            record[r.choice(RECORD_FIELDS)] = None
        if self.chance(0.02):
            del record[r.choice(RECORD_FIELDS)]
        if self.chance(0.02):
            record = None
        lost = self.chance(0.04)
        return {
            "kind": kind,
            "number": number,
            "issued_on": self.seen(issued),
            "e_registered_on": self.seen(self.days(issued, 1, 20)) if self.chance(0.95) else None,
            "record": record,
            "minor_annotated": minor and self.chance(0.8),
            "lost": lost,
            "loss_certified": lost and self.chance(0.7),
            "loss_annotated": lost and self.chance(0.7),
        }

    def drop_keys(self, record: dict[str, Any]) -> None:
        """Remove 1–3 keys: the export does not know them (absent, not null)."""
        r = self.r
        candidates: list[tuple[dict[str, Any], str]] = []
        for key in (
            "academic_education",
            "full_time_statuses",
            "minor_certificate",
            "graduation",
            "cancellation",
            "certificates",
            "status_changes",
            "diplomas",
            "academic_years",
            "preparatory",
            "joint_training",
            "name",
            "birth_date",
        ):
            candidates.append((record, key))
        for key in ("recheck", "year", "data_reviewed", "plan", "qualification", "data_issue", "level"):
            candidates.append((record["admission"], key))
        for key in ("student_notified_on", "registered_on", "level"):
            candidates.append((record["registration"], key))
        nested: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("academic_years", ("tuition_paid", "conditions_met", "registered_on", "college_reported_on",
                                "e_registered_on", "deferred_on", "term_start", "year")),
            ("diplomas", ("e_registered_on", "record", "issued_on", "minor_annotated", "lost", "kind")),
            ("status_changes", ("marked_on", "on")),
            ("full_time_statuses", ("to", "from")),
            ("certificates", ("marked",)),
        )  # fmt: skip
        for coll, keys in nested:
            for item in record[coll]:
                for key in keys:
                    candidates.append((item, key))
        subs: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("cancellation", ("decided_on", "e_registered_on")),
            ("graduation", ("on", "outcome")),
            ("preparatory", ("promoted_on", "filed_on", "registered_on")),
        )
        for sub, keys in subs:
            if isinstance(record[sub], dict):
                for key in keys:
                    candidates.append((record[sub], key))
        for obj, key in r.sample(candidates, k=min(len(candidates), r.randint(1, 3))):
            obj.pop(key, None)


def student(seed: int, index: int, on: dt.date = DEFAULT_ON) -> dict[str, Any]:
    """Record ``index`` of the run seeded ``seed``, as exported on ``on``."""
    rng = random.Random(f"xueji-bench:{seed}:{index}:{on.isoformat()}")
    return _Gen(rng, index, on).student()


def generate(n: int, seed: int = 1, on: dt.date = DEFAULT_ON) -> list[dict[str, Any]]:
    """``n`` records, deterministic for ``(seed, on)``."""
    return [student(seed, i, on) for i in range(n)]


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m bench.records 3
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    print(json.dumps(generate(count), ensure_ascii=False, indent=2))
