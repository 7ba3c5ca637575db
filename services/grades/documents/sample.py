"""A realistic class catalog in the shape of `grades.class_catalog`, made up (deterministic).

Used by the renderers' tests, the benchmark and the demo: 30 pupils, 15 subjects, two
semesters, Romanian names with diacritics, theses, a qualifier subject, a transfer, a
corigent, and approved amendments. The averages follow the rules of the catalog (exact
decimals: half up for period averages, truncation for annual and general ones).
"""
from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

LAST_NAMES = ("Bălănescu", "Țurcanu", "Ștefănescu", "Mânzatu", "Îordache", "Grigoraș", "Nițu", "Pătrașcu",
              "Dumitrescu", "Văcărescu", "Munteanu", "Brâncuși", "Coșbuc", "Țepeș", "Răducanu", "Sârbu",
              "Lăzărescu", "Mureșan", "Tănase", "Ciobanu", "Preda", "Stănescu", "Țâru", "Bărbulescu",
              "Hațegan", "Ionescu", "Popa", "Constantinescu", "Zăvoianu", "Drăgulescu")
FIRST_NAMES = ("Ștefan", "Îonuț", "Ioana", "Mădălina", "Răzvan", "Ilinca", "Cătălina", "Șerban", "Tudor",
               "Bianca", "Andreea", "Mircea", "Țicu", "Ana-Maria", "Bogdan", "Irina", "Alexandru", "Sânziana",
               "Mihai", "Ștefania", "Vlad", "Oana", "Cristian", "Dănuț", "Raluca", "Ionuț", "Larisa",
               "Gheorghiță", "Elena", "Vasilică")
SUBJECTS = (  # name, weekly hours, assessment, optional, with thesis
    ("Limba și literatura română", 5, "grades", False, True),
    ("Matematică", 4, "grades", False, True),
    ("Limba engleză", 2, "grades", False, False),
    ("Limba franceză", 2, "grades", False, False),
    ("Fizică", 2, "grades", False, False),
    ("Chimie", 2, "grades", False, False),
    ("Biologie", 2, "grades", False, False),
    ("Istorie", 2, "grades", False, False),
    ("Geografie", 1, "grades", False, False),
    ("Religie", 1, "grades", False, False),
    ("Educație fizică și sport", 2, "grades", False, False),
    ("Educație muzicală", 1, "grades", False, False),
    ("Educație plastică", 1, "grades", False, False),
    ("Informatică și TIC", 1, "grades", False, False),
    ("Opțional: Educație pentru sănătate", 1, "qualifiers", True, False),
)
QUALIFIERS = ("FB", "B", "S", "I")


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def period_average(grades: list[int], thesis: int | None) -> Decimal:
    mean = Decimal(sum(grades)) / len(grades)
    if thesis is not None:
        mean = (3 * mean.quantize(Decimal("0.01"), ROUND_DOWN) + thesis) / 4
    return mean.quantize(Decimal("1"), ROUND_HALF_UP)


def truncated_mean(values: list[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"), ROUND_DOWN)


def _absences(rng: random.Random, scale: int) -> dict:
    total = rng.randint(0, scale)
    motivated = rng.randint(0, total)
    return {"total": total, "motivated": motivated, "unmotivated": total - motivated}


def sample_class_catalog(pupils: int = 30, subjects: int = 15, seed: int = 7) -> dict:
    rng = random.Random(seed)
    year = {"id": _id(rng), "name": "2025-2026", "periods": [
        {"id": _id(rng), "name": "Semestrul I", "starts_on": "2025-09-08", "ends_on": "2026-01-30", "closed": True},
        {"id": _id(rng), "name": "Semestrul al II-lea", "starts_on": "2026-02-09", "ends_on": "2026-06-19",
         "closed": True}]}
    periods = year["periods"]
    teachers = [_id(rng) for _ in range(12)]
    subject_rows = []
    for i, (name, hours, assessment, optional, thesis) in enumerate((SUBJECTS * 2)[:subjects]):
        subject_rows.append({"id": _id(rng), "name": name if i < len(SUBJECTS) else f"{name} (2)",
                             "weekly_hours": hours, "assessment": assessment, "optional": optional,
                             "thesis_periods": [p["id"] for p in periods] if thesis else [],
                             "teacher_ids": [teachers[i % len(teachers)]]})
    klass = {"id": _id(rng), "name": "a VII-a B", "level": 7, "school_year": year["name"],
             "homeroom_teacher_id": teachers[0]}
    pupil_rows = []
    for n in range(pupils):
        talent = rng.uniform(5.5, 9.6) if n != 4 else 4.2  # pupil 5 fails two subjects
        row = _pupil(rng, n, talent, subject_rows, periods, teachers)
        pupil_rows.append(row)
    moved = pupil_rows[min(7, len(pupil_rows) - 1)]
    moved["status"], moved["transferred_on"] = "transferred_in", "2025-11-03"
    pupil_rows.sort(key=lambda p: (p["last_name"], p["first_name"]))
    return {"class": klass, "school_year": year, "period_id": None, "subjects": subject_rows,
            "pupils": pupil_rows, "generated_at": "2026-06-25T09:30:00+00:00"}


def _pupil(rng, n, talent, subjects, periods, teachers) -> dict:
    pupil_subjects, annuals, totals = {}, [], {"total": 0, "motivated": 0, "unmotivated": 0}
    for subject in subjects:
        per_period, averages = {}, []
        for p_index, period in enumerate(periods):
            start = date.fromisoformat(period["starts_on"])
            absences = _absences(rng, 6)
            for key in totals:
                totals[key] += absences[key]
            cell = {"grades": [], "thesis": None, "average": None, "qualifier": None, "absences": absences}
            count = max(subject["weekly_hours"], 2) + (1 if talent < 5 else 0)
            if subject["assessment"] == "qualifiers":
                marks = [rng.choice(QUALIFIERS[:3]) for _ in range(count)]
                cell["grades"] = [{"id": _id(rng), "value": q, "awarded_on": (start + timedelta(days=9 * k)).isoformat(),
                                   "kind": "qualifier", "version": 1} for k, q in enumerate(marks)]
                cell["qualifier"] = max(sorted(set(marks)), key=marks.count)
            else:
                values = [max(1, min(10, round(rng.gauss(talent, 1.2)))) for _ in range(count)]
                cell["grades"] = [{"id": _id(rng), "value": str(v),
                                   "awarded_on": (start + timedelta(days=11 * k + p_index)).isoformat(),
                                   "kind": "grade", "version": 1 + (k == 1 and n % 9 == 0)}
                                  for k, v in enumerate(values)]
                thesis = None
                if period["id"] in subject["thesis_periods"]:
                    thesis = max(1, min(10, round(rng.gauss(talent, 1.0))))
                    cell["thesis"] = {"id": _id(rng), "value": str(thesis),
                                      "awarded_on": (start + timedelta(days=100)).isoformat()}
                average = period_average(values, thesis)
                averages.append(average)
                cell["average"] = str(average)
            per_period[period["id"]] = cell
        annual = truncated_mean(averages) if averages else None
        if annual is not None:
            annuals.append(annual)
        pupil_subjects[subject["id"]] = {"periods": per_period, "annual_average": str(annual) if annual else None}
    conduct_periods = {p["id"]: ("10" if totals["unmotivated"] < 20 else "9") for p in periods}
    conduct = Decimal(conduct_periods[periods[-1]["id"]])
    general = truncated_mean(annuals + [conduct])
    failed = sum(1 for a in annuals if a < 5)
    situation = "promoted" if failed == 0 else "corigent" if failed <= 2 else "repeating"
    amendments = []
    if n % 11 == 3:
        amendments.append({"subject_id": subjects[1]["id"], "period_id": periods[0]["id"],
                           "reason": "Notă trecută greșit; corectată după contestația părintelui (cerere nr. 214)",
                           "approved_by": teachers[-1], "approved_at": "2026-02-12T08:15:00+00:00"})
    return {"student_id": _id(rng), "last_name": LAST_NAMES[n % len(LAST_NAMES)],
            "first_name": FIRST_NAMES[(n * 7) % len(FIRST_NAMES)], "status": "enrolled", "transferred_on": None,
            "subjects": pupil_subjects,
            "conduct": {"periods": conduct_periods, "annual": str(conduct)},
            "general_average": str(general), "situation": situation, "absences": totals,
            "amendments": amendments}


def sample_names(data: dict) -> tuple[str, dict[str, str]]:
    """The school's name and the teachers' names the renderers need beside the catalog."""
    names = ("Bogdan Țăranu", "Mihaela Ștefănescu", "Ion Bârlădeanu", "Ana Mureșan", "Dan Crăciun",
             "Irina Pârvu", "Radu Ionescu", "Elena Grigoraș", "Sorin Tătaru", "Maria Neagu", "Luminița Vâlcu",
             "Gheorghe Șerban")
    ids = {t for s in data["subjects"] for t in s["teacher_ids"]} | {data["class"]["homeroom_teacher_id"]}
    ids |= {a["approved_by"] for p in data["pupils"] for a in p["amendments"]}
    return "Școala Gimnazială „Mihai Eminescu” Iași", {t: names[i % len(names)] for i, t in enumerate(sorted(ids))}
