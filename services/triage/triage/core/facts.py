"""Questions the rules ask of a patient's state: cancer history, age, pain reports, labs, imaging.

A thin read-only view over the state dict; it computes nothing until a rule asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from triage.core.categories import AGE_FACTS as AGE_FACTS
from triage.core.categories import ALL_FACTS as ALL_FACTS
from triage.core.categories import CANCER_FACTS as CANCER_FACTS
from triage.core.categories import CATEGORY_BITS
from triage.core.categories import IMAGING_FACTS as IMAGING_FACTS
from triage.core.categories import LAB_FACTS as LAB_FACTS
from triage.core.categories import OPEN_ESCALATIONS as OPEN_ESCALATIONS
from triage.core.categories import OPEN_ESCALATIONS_BIT as OPEN_ESCALATIONS_BIT
from triage.core.categories import PAIN_FACTS as PAIN_FACTS
from triage.core.categories import RISK_FACTS as RISK_FACTS
from triage.core.categories import STEP_FACTS as STEP_FACTS
from triage.core.definitions import DEFAULT_SYMPTOM_READING, SymptomReading
from triage.core.times import MICROS_PER_DAY, parse_date_number, utc_date_number, whole_years

Entry = dict[str, Any]
FeatureFields = tuple[tuple[str, frozenset[str]], ...]
WITHDRAWN: Final = frozenset({"refuted", "entered_in_error"})
RAISED_FLAGS: Final = frozenset({"H", "HH"})
NO_STATUS: Final = "new"  # a pain report without neurological_status: the features are new
# Shared answers for a part the state does not hold (never changed: every reader only reads them). An
# empty literal in their place is a new object made and freed each time a rule asks.
_NO_CANCERS: Final[list[tuple[str, Entry]]] = []
_NO_ENTRIES: Final[list[Entry]] = []
_NOTHING_RECORDED: Final[dict[str, Any]] = {}
_MICROS_PER_YEAR: Final = MICROS_PER_DAY * 36525 // 100  # a Julian year, for an age recorded as years

SYMPTOM: Final = "symptom"  # marks a pain-timeline entry recorded on its own, without a score of its own
FEVER: Final = "fever"


def read_symptoms(entries: list[Entry], reading: SymptomReading) -> list[Entry]:
    """The pain timeline as rules read it. A body temperature at or above ``reading.fever_from`` is the
    systemic feature fever (below it, nothing). Each symptom recorded on its own takes the score and site
    of the scored pain report nearest to it in time, within ``reading.with_pain_within``; ``with`` names
    that report. A symptom with a site of its own keeps it. A symptom with no report near enough is read
    without a score (rules that need one pass it by). Then each entry without a stated course is read as
    stable when it repeats the report before it (``repeated_as_stable``)."""
    for e in entries:
        if SYMPTOM in e:
            break
    else:
        return repeated_as_stable(entries, reading.repeated_within)
    scored = [e for e in entries if SYMPTOM not in e]
    out: list[Entry] = []
    for entry in entries:
        if SYMPTOM not in entry:
            out.append(entry)
            continue
        joined = dict(entry)
        if "celsius" in entry and entry["celsius"] >= reading.fever_from:
            joined["systemic"] = sorted({*entry.get("systemic", ()), FEVER})
        near = _nearest(scored, int(entry["t"]), reading.with_pain_within)
        if near is None:
            out.append(joined)
            continue
        joined["nrs"] = near["nrs"]
        joined["with"] = near["e"]
        joined["with_t"] = near["t"]
        joined.setdefault("site", near["site"])
        out.append(joined)
    return repeated_as_stable(out, reading.repeated_within)


REPEATED: Final = "repeated"  # marks an entry read as stable because it repeats the one before it


NO_DEFICITS: Final[frozenset[str]] = frozenset()


def _deficits(entry: Entry) -> frozenset[str]:
    neurological = entry.get("neurological")
    if "radicular" in (entry.get("character") or ()):
        return frozenset((*(neurological or ()), "radicular"))
    return frozenset(neurological) if neurological else NO_DEFICITS


def repeated_as_stable(entries: list[Entry], within: int) -> list[Entry]:
    """An entry that states no course and lists only neurological features (and radicular pain) that the
    entry before it listed, within ``within`` (us), is read as stable: a flowsheet recording the same
    deficit again. ``repeated`` names the entry it repeats."""
    for entry in entries:
        if "neurological" in entry or "radicular" in (entry.get("character") or ()):
            break
    else:
        return list(entries)  # no entry lists a deficit: none is read as stable
    out: list[Entry] = []
    previous: Entry | None = None
    for entry in entries:
        deficits = _deficits(entry)
        if (
            deficits
            and "status" not in entry
            and previous is not None
            and int(entry["t"]) - int(previous["t"]) <= within
            and deficits <= _deficits(previous)
        ):
            entry = {**entry, "status": "stable", REPEATED: previous["e"]}
        out.append(entry)
        if deficits or SYMPTOM not in entry:
            previous = entry
    return out


def _nearest(scored: list[Entry], t: int, within: int) -> Entry | None:
    best: Entry | None = None
    for report in scored:
        gap = abs(int(report["t"]) - t)
        if gap <= within and (best is None or gap < abs(int(best["t"]) - t)):
            best = report
    return best


# What a rule can read: the fact categories (triage.core.categories, kept there so that the pathway's
# rule groups can use them without importing this module).

# The fact categories are named after the parts of the state they are kept in, except that the age is
# also known from a date of birth (the escalation parts "open", "closed", "episodes" are not facts).
_FACT_PARTS: Final = ALL_FACTS - {OPEN_ESCALATIONS}
_BIRTH: Final = "birth"


def recorded(d: dict[str, Any]) -> set[str]:
    """The fact categories whose part of the state is there: a rule that requires another category cannot
    be met. A part that is there but empty counts as recorded (the rule is then run, which is never wrong)."""
    found = d.keys() & _FACT_PARTS
    if _BIRTH in d:
        found.add(AGE_FACTS)
    return found


# The parts of the state each category is read from, with the category's bit (``recorded_bits``).
_PART_BITS: Final = tuple(
    (part, CATEGORY_BITS[category])
    for part, category in (*((category, category) for category in _FACT_PARTS), (_BIRTH, AGE_FACTS))
)


def recorded_bits(d: dict[str, Any]) -> int:
    """``recorded(d)`` as a mask."""
    mask = 0
    for part, bit in _PART_BITS:
        if part in d:
            mask |= bit
    return mask


class Facts:
    """The facts of one patient's state for one evaluation, computed when a rule first asks for them.

    One Facts is made for each evaluation and dropped after it. The parts of the state it reads for the
    rules (cancer, risk, birth/age, pain, labs, imaging, steps) do not change during an evaluation: the
    engine changes only the escalation parts ("open", "closed", "episodes") as it goes. So an answer
    computed from them is kept on this object (the ``_`` attributes) and handed to every later rule that
    asks the same question; a new event or a new state means a new Facts. The escalation parts are
    always read from the state as it is now (``is_open``, ``d["open"]``), never kept. Kept answers are
    shared between rules: read them, do not change them.
    """

    __slots__ = ("_cancers", "_pain", "_scored_pain", "d", "kept", "symptoms")

    def __init__(self, d: dict[str, Any], symptoms: SymptomReading = DEFAULT_SYMPTOM_READING) -> None:
        self.d = d
        self.symptoms = symptoms
        self._pain: list[Entry] | None = None
        self._scored_pain: list[Entry] | None = None
        self._cancers: dict[tuple[frozenset[str], frozenset[str] | None], list[tuple[str, Entry]]] = {}
        # answers a detector keeps for itself (e.g. its finding for an episode, which it asks for again when
        # it checks whether its condition has cleared); computed from the fact parts only, like the rest
        self.kept: dict[Any, Any] = {}

    # --- background -------------------------------------------------------------------------------

    def cancers(
        self, sites: frozenset[str], statuses: frozenset[str] | None = None
    ) -> list[tuple[str, Entry]]:
        """Recorded cancers (not refuted or entered in error) of these primaries and statuses."""
        recorded: dict[str, Entry] | None = self.d.get("cancer")
        if not recorded:
            return _NO_CANCERS
        key = (sites, statuses)
        found = self._cancers.get(key)
        if found is None:
            found = self._cancers[key] = [
                (site, entry)
                for site, entry in recorded.items()
                if site in sites
                and entry["verification"] not in WITHDRAWN
                and (statuses is None or entry["status"] in statuses)
            ]
        return found

    def spinal_metastases(self, values: frozenset[str]) -> list[tuple[str, Entry]]:
        recorded: dict[str, Entry] = self.d.get("cancer") or _NOTHING_RECORDED
        return [
            (site, entry)
            for site, entry in recorded.items()
            if entry["verification"] not in WITHDRAWN and entry.get("spinal_metastases") in values
        ]

    def risk_factors(self, codes: frozenset[str]) -> list[tuple[str, Entry]]:
        recorded: dict[str, Entry] = self.d.get("risk") or _NOTHING_RECORDED
        return [
            (code, entry)
            for code, entry in recorded.items()
            if code in codes and entry["verification"] not in WITHDRAWN
        ]

    def age_at(self, t: int) -> tuple[int, Entry] | None:
        """Whole years of age at clinical time ``t``, and the fact it came from.

        From the date of birth when known; otherwise the recorded age plus the whole years since it was
        recorded.
        """
        # Not kept: worked out again it costs what keeping it cost (two look-ups in date parts kept in times)
        birth: Entry | None = self.d.get("birth")
        if birth is not None:
            return whole_years(parse_date_number(birth["date"]), utc_date_number(t)), birth
        age: Entry | None = self.d.get("age")
        if age is not None:
            recorded_at: int = age["t"]
            years: int = age["years"]
            return years + (t - recorded_at) // _MICROS_PER_YEAR, age
        return None

    # --- pain ---------------------------------------------------------------------------------------

    @property
    def pain(self) -> list[Entry]:
        """Pain reports and symptoms recorded on their own, oldest first (see ``read_symptoms``)."""
        if self._pain is None:
            self._pain = read_symptoms(self.d.get("pain") or _NO_ENTRIES, self.symptoms)
        return self._pain

    def scored_pain(self) -> list[Entry]:
        """The pain reports that carry their own score (not symptoms recorded on their own)."""
        if self._scored_pain is None:
            self._scored_pain = [report for report in self.pain if SYMPTOM not in report]
        return self._scored_pain

    def pain_after(self, since: int | None) -> list[Entry]:
        """Pain reports newer than ``since`` (all when None), oldest first."""
        reports = self.pain
        if since is None or not reports:
            return reports
        index = len(reports)
        while index > 0 and reports[index - 1]["t"] > since:
            index -= 1
        return reports[index:]

    # --- labs ---------------------------------------------------------------------------------------

    def labs(self, test: str) -> list[Entry]:
        labs: dict[str, list[Entry]] | None = self.d.get("labs")
        if labs is None:
            return _NO_ENTRIES
        results: list[Entry] | None = labs.get(test)
        return results if results else _NO_ENTRIES

    def latest_lab(self, test: str) -> Entry | None:
        results = self.labs(test)
        return results[-1] if results else None

    # --- imaging ------------------------------------------------------------------------------------

    @property
    def imaging(self) -> list[Entry]:
        reports: list[Entry] = self.d.get("imaging") or _NO_ENTRIES
        return reports

    # --- care steps ---------------------------------------------------------------------------------

    def latest_step(self, keys: Iterable[str]) -> tuple[str, Entry] | None:
        steps: dict[str, Entry] = self.d.get("steps") or _NOTHING_RECORDED
        best: tuple[str, Entry] | None = None
        for key in keys:
            entry = steps.get(key)
            if entry is not None and (best is None or entry["t"] > best[1]["t"]):
                best = (key, entry)
        return best

    # --- escalations --------------------------------------------------------------------------------

    def is_open(self, key: str) -> bool:
        opened: dict[str, Any] | None = self.d.get("open")
        return opened is not None and key in opened


def features_in(report: Entry, fields: FeatureFields) -> list[tuple[str, str]]:
    """The (field, code) pairs of a pain report that belong to a code set."""
    found: list[tuple[str, str]] = []
    for field_name, codes in fields:
        values = report.get(field_name)
        if values:
            for value in values:
                if value in codes:
                    found.append((field_name, value))
    return found


def status_of(report: Entry) -> str:
    status: str = report.get("status", NO_STATUS)
    return status


def raised(result: Entry) -> bool:
    """Above the reporting laboratory's upper limit, or flagged high by it."""
    high = result.get("high")
    return (high is not None and result["value"] > high) or result.get("flag") in RAISED_FLAGS


def pain_duration_days(reports: list[Entry], index: int, max_gap: int, nrs_at_least: int) -> float:
    """How long the pain of ``reports[index]`` has lasted, in days: the longest of what the report says
    (duration_days, onset) and how long the patient has reported pain without a pain-free report or a
    gap longer than ``max_gap`` (us) in between. A report recorded as a new episode begins one: nothing
    reported before it counts."""
    report = reports[index]
    t: int = report["t"]
    days = float(report.get("duration_days", 0.0))
    onset = report.get("onset")
    if onset is not None:
        days = max(days, (t - onset) / MICROS_PER_DAY)
    start: int = t
    previous: int = t
    for earlier in [] if report.get("new_episode") else reversed(reports[:index]):
        if "nrs" not in earlier:
            continue  # a symptom without a score says nothing about the pain's course
        if earlier["nrs"] < nrs_at_least or previous - earlier["t"] > max_gap:
            break
        start = previous = earlier["t"]
        if earlier.get("new_episode"):
            break
    return max(days, (t - start) / MICROS_PER_DAY)
