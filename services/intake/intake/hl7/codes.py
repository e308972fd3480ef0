"""The code mapping (``codes.yaml`` plus a site's own files), loaded and checked once at start-up.

Every target is checked against the event contract (``schemas/``) by building the smallest event that
uses it and validating it, so a code word or unit the contract does not accept stops intake with the
entry named, instead of refusing messages later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from carepath import contracts, terminology, yamlfile
from intake import value_sets
from intake.hl7.message import Coded

BUILTIN = Path(__file__).with_name("codes.yaml")
ANY_SYSTEM = "*"

PAIN = "carepath.pain.reported.v1"
LAB = "carepath.lab.resulted.v1"
IMAGING = "carepath.imaging.resulted.v1"
DIAGNOSIS = "carepath.diagnosis.recorded.v1"
SYMPTOM = "carepath.symptom.recorded.v1"
TREATMENT = "carepath.treatment.changed.v1"

OBSERVATION_TARGETS = frozenset(
    {
        "pain.nrs",
        "pain.site",
        "pain.symptom",
        "pain.character",
        "pain.systemic",
        "pain.neurological",
        "pain.neurological_status",
        "pain.weakness_severity",
        "pain.improving",
        "pain.new_episode",
        "pain.duration_days",
        "pain.onset",
        "symptom.temperature",
        "lab",
        "imaging.report",
        "imaging.impression",
        "imaging.sins_score",
    }
)
# What the ``ignore`` section may list: codes carepath reads and deliberately does not use (answered AA,
# nothing published). A code neither mapped nor ignored on a clinically relevant row is answered AE.
IGNORE_KINDS = {
    "observations": "OBX-3",
    "studies": "OBR-4",
    "diagnoses": "DG1-3, PRB-3",
    "medications": "RXE-2, RXA-5",
    "procedures": "PR1-3",
}
_VALUE_TARGETS = {"pain.character", "pain.systemic", "pain.neurological"}
_FIXABLE_TARGETS = {"pain.neurological_status", "pain.weakness_severity"}

T = TypeVar("T")


class CodeMapError(ValueError):
    """The mapping file is wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class ObservationTarget:
    to: str
    value: str | None = None
    test: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class ImagingProcedure:
    modality: str | None
    region: str | None


@dataclass(frozen=True)
class DiagnosisTarget:
    cancer: str | None = None
    status: str | None = None
    spinal_metastases: str | None = None
    risk_factor: str | None = None


@dataclass(frozen=True)
class TreatmentTarget:
    category: str
    names: tuple[str, ...] = ()
    agent: str | None = None


class CodeTable(Generic[T]):
    """Codes of one kind: exact (system, code) keys, then prefixes (``C50*``), longest first."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], T] = {}
        self._prefixes: list[tuple[str, str, T]] = []

    def add(self, system: str, code: str, target: T) -> None:
        if code.endswith("*"):
            prefix = code[:-1]
            self._prefixes = [p for p in self._prefixes if (p[0], p[1]) != (system, prefix)]
            self._prefixes.append((system, prefix, target))
            self._prefixes.sort(key=lambda p: -len(p[1]))
        else:
            self._exact[(system, code)] = target

    def find(self, pairs: Iterable[tuple[str, str]]) -> T | None:
        """The target of the first (system, code) pair that matches; pairs are already normalised."""
        for system, code in pairs:
            for key in ((system, code), (ANY_SYSTEM, code)):
                if key in self._exact:
                    return self._exact[key]
            for p_system, prefix, target in self._prefixes:
                if p_system in (system, ANY_SYSTEM) and code.startswith(prefix):
                    return target
        return None

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefixes)


@dataclass
class CodeMap:
    systems: dict[str, str] = field(default_factory=dict)  # alias (upper case) -> canonical name
    units: dict[str, str] = field(default_factory=dict)  # spelling (lower case) -> contract unit
    yes: frozenset[str] = frozenset()
    no: frozenset[str] = frozenset()
    observations: CodeTable[ObservationTarget] = field(default_factory=CodeTable)
    body_site_codes: CodeTable[str] = field(default_factory=CodeTable)
    findings: CodeTable[tuple[str, str]] = field(default_factory=CodeTable)  # -> (feature, value)
    saddle_sites: CodeTable[bool] = field(default_factory=CodeTable)  # numbness here is saddle anaesthesia
    limb_sites: CodeTable[bool] = field(default_factory=CodeTable)  # outside the spine: a symptom's, not read
    body_site_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    imaging_procedures: CodeTable[ImagingProcedure] = field(default_factory=CodeTable)
    imaging_sections: dict[str, str] = field(default_factory=dict)
    modality_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    region_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    diagnoses: CodeTable[DiagnosisTarget] = field(default_factory=CodeTable)
    medication_codes: CodeTable[TreatmentTarget] = field(default_factory=CodeTable)
    medication_names: list[TreatmentTarget] = field(default_factory=list)
    procedure_codes: CodeTable[TreatmentTarget] = field(default_factory=CodeTable)
    procedure_names: list[TreatmentTarget] = field(default_factory=list)
    ignored: dict[str, CodeTable[bool]] = field(
        default_factory=lambda: {k: CodeTable() for k in IGNORE_KINDS}
    )
    sources: tuple[str, ...] = ()
    # The value sets (carepath.terminology): every name of a code system resolves to its URI, and an entry
    # may name a value set instead of one code.
    term: terminology.Terminology | None = None

    # -- lookups ------------------------------------------------------------------------------------

    def system(self, name: str) -> str:
        """The canonical name of a coding system: its URI when the value sets know it (under any of its
        names: LN, SCT, I10, an OID...), else this file's canonical name for it."""
        if self.term is not None and self.term.known_system(name):
            return self.term.system_uri(name)
        canonical = name.strip().upper()
        mapped = self.systems.get(canonical, canonical)
        if self.term is not None and self.term.known_system(mapped):
            return self.term.system_uri(mapped)
        return mapped

    def normalise(self, system: str, code: str) -> str:
        if self.term is not None and system in self.term.systems:
            return self.term.normalise(system, code)
        return normalise_code(system, code)

    def pairs(self, coded: Coded | None) -> list[tuple[str, str]]:
        """(system, code) pairs to look up, the primary coding first; a code of a national edition
        (ICD-10-CM, ICD-10-UK) is also tried as a code of the classification it extends."""
        if coded is None:
            return []
        out: list[tuple[str, str]] = []
        for raw_system, raw_code in coded.codings():
            system = self.system(raw_system)
            for each in self.term.lineage(system) if self.term is not None else [system]:
                out.append((each, self.normalise(each, raw_code)))
        return out

    def is_ignored(self, kind: str, coded: Coded | None) -> bool:
        """Whether the site (or carepath) listed this code as read and deliberately not used."""
        return self.ignored[kind].find(self.pairs(coded)) is not None

    def unit(self, text: str) -> str:
        """The contract's spelling of a unit (as written when it is not listed)."""
        cleaned = text.strip()
        return self.units.get(cleaned.lower(), cleaned)

    def answer(self, text: str) -> bool | None:
        """True for a yes, False for a no, None when the text is neither."""
        cleaned = text.strip().upper()
        if cleaned in self.yes:
            return True
        if cleaned in self.no:
            return False
        return None


def normalise_code(system: str, code: str) -> str:
    code = code.strip()
    return code.replace(".", "").upper() if system == "icd10" else code


def words_in(text: str, words: Mapping[str, Sequence[str]]) -> list[str]:
    """Keys whose words appear in ``text`` (whole words, without case), in the order they first appear."""
    found: list[tuple[int, str]] = []
    lowered = text.lower()
    for key, phrases in words.items():
        positions = [m.start() for p in phrases for m in re.finditer(_word_pattern(p), lowered)]
        if positions:
            found.append((min(positions), key))
    return [key for _, key in sorted(found)]


def _word_pattern(phrase: str) -> str:
    return r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in phrase.lower().split()) + r"(?![\w-])"


# ---------------------------------------------------------------------------------------------------------
# Loading


def load_codes(extra: Sequence[Path] = (), term: terminology.Terminology | None = None) -> CodeMap:
    """The built-in mapping, then each site file over it; CodeMapError on the first wrong entry.
    ``term``: the value sets entries may name (by default the product's, without a site overlay)."""
    if term is None:
        try:
            term = value_sets.load()
        except value_sets.ValueSetError as exc:
            raise CodeMapError(str(exc)) from None
    codes = CodeMap(term=term)
    site_medications: list[TreatmentTarget] = []
    site_procedures: list[TreatmentTarget] = []
    for index, path in enumerate([BUILTIN, *extra]):
        try:
            doc = yamlfile.load(path, "hl7-codes")
        except yamlfile.YamlFileError as exc:
            raise CodeMapError(str(exc)) from None
        loader = _Loader(path, codes)
        loader.load(doc)
        if index > 0:  # a site's names are tried before the built-in ones
            site_medications += loader.medication_names
            site_procedures += loader.procedure_names
        else:
            codes.medication_names = loader.medication_names
            codes.procedure_names = loader.procedure_names
        codes.sources = (*codes.sources, str(path))
    codes.medication_names = site_medications + codes.medication_names
    codes.procedure_names = site_procedures + codes.procedure_names
    return codes


class _Loader:
    def __init__(self, path: Path, codes: CodeMap) -> None:
        self.path = path
        self.codes = codes
        self.medication_names: list[TreatmentTarget] = []
        self.procedure_names: list[TreatmentTarget] = []

    def fail(self, where: str, message: str) -> CodeMapError:
        return CodeMapError(f"{self.path.name}: {where}: {message}")

    def load(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            raise self.fail("top level", "expected a mapping with `version: 1` and sections")
        if doc.get("version") != 1:
            raise self.fail("version", f"expected 1, found {doc.get('version')!r}")
        known = {"version", "systems", "units", "answers", "observations", "body_sites", "imaging"}
        known |= {
            "diagnoses",
            "medications",
            "procedures",
            "ignore",
            "findings",
            "saddle_sites",
            "limb_sites",
        }
        unknown = sorted(set(doc) - known)
        if unknown:
            raise self.fail(", ".join(unknown), f"unknown section (known: {', '.join(sorted(known))})")
        self._systems(doc.get("systems") or {})
        self._units(doc.get("units") or {})
        self._answers(doc.get("answers") or {})
        for i, entry in enumerate(self._list(doc, "observations")):
            self._observation(f"observations[{i}]", entry)
        self._body_sites(doc.get("body_sites") or {})
        for i, entry in enumerate(self._list(doc, "findings")):
            self._finding(f"findings[{i}]", entry)
        for i, entry in enumerate(self._list(doc, "saddle_sites")):
            where = f"saddle_sites[{i}]"
            self._fields(where, entry, {"system", "code", "value_set"})
            for system, code in self._keys(where, entry):
                self.codes.saddle_sites.add(system, code, True)
        for i, entry in enumerate(self._list(doc, "limb_sites")):
            where = f"limb_sites[{i}]"
            self._fields(where, entry, {"system", "code", "value_set"})
            for system, code in self._keys(where, entry):
                self.codes.limb_sites.add(system, code, True)
        self._imaging(doc.get("imaging") or {})
        for i, entry in enumerate(self._list(doc, "diagnoses")):
            self._diagnosis(f"diagnoses[{i}]", entry)
        for i, entry in enumerate(self._list(doc, "medications")):
            self._treatment(f"medications[{i}]", entry, self.codes.medication_codes, self.medication_names)
        for i, entry in enumerate(self._list(doc, "procedures")):
            self._treatment(f"procedures[{i}]", entry, self.codes.procedure_codes, self.procedure_names)
        self._ignore(doc.get("ignore") or {})

    # -- sections -----------------------------------------------------------------------------------

    def _list(self, doc: Mapping[str, Any], key: str) -> list[Any]:
        value = doc.get(key) or []
        if not isinstance(value, list):
            raise self.fail(key, "expected a list of entries")
        return value

    def _systems(self, systems: Any) -> None:
        if not isinstance(systems, dict):
            raise self.fail("systems", "expected a mapping of name -> list of aliases")
        for name, aliases in systems.items():
            if not isinstance(aliases, list) or not all(isinstance(a, str | int) for a in aliases):
                raise self.fail(f"systems.{name}", "expected a list of aliases")
            canonical = str(name).strip().lower()
            self.codes.systems[canonical.upper()] = canonical
            for alias in aliases:
                self.codes.systems[str(alias).strip().upper()] = canonical

    def _units(self, units: Any) -> None:
        if not isinstance(units, dict):
            raise self.fail("units", "expected a mapping of spelling -> unit")
        allowed = (
            contracts.schema_enum(LAB, "/unit")
            | contracts.schema_enum(TREATMENT, "/dose/unit")
            | contracts.schema_enum(SYMPTOM, "/temperature/unit")
        )
        for spelling, unit in units.items():
            if unit not in allowed:
                raise self.fail(
                    f"units.{spelling}", f"{unit!r} is not a unit of the contract ({_list(allowed)})"
                )
            self.codes.units[str(spelling).strip().lower()] = str(unit)

    def _answers(self, answers: Any) -> None:
        if not isinstance(answers, dict) or set(answers) - {"yes", "no"}:
            raise self.fail("answers", "expected `yes:` and `no:` lists")
        self.codes.yes |= frozenset(str(a).strip().upper() for a in answers.get("yes") or [])
        self.codes.no |= frozenset(str(a).strip().upper() for a in answers.get("no") or [])

    def _key(self, where: str, entry: Any) -> tuple[str, str]:
        if not isinstance(entry, dict):
            raise self.fail(where, "expected a mapping such as {system: loinc, code: 2000-8, ...}")
        system, code = entry.get("system"), entry.get("code")
        if not isinstance(system, str) or not system.strip():
            raise self.fail(where, "needs `system` (a coding system name, or * for any)")
        if not isinstance(code, str | int) or not str(code).strip():
            raise self.fail(where, "needs `code`")
        canonical = ANY_SYSTEM if system.strip() == ANY_SYSTEM else self.codes.system(system)
        code_text = str(code).strip()
        prefix = code_text.endswith("*")
        normalised = self.codes.normalise(canonical, code_text.rstrip("*"))
        return canonical, normalised + ("*" if prefix else "")

    def _keys(self, where: str, entry: Any) -> list[tuple[str, str]]:
        """The (system, code) keys of an entry: its one code, or every member of the value set it names
        (``value_set: medicine.dexamethasone``; classification prefixes become ``C50*`` keys)."""
        if not isinstance(entry, dict) or "value_set" not in entry:
            return [self._key(where, entry)]
        if "system" in entry or "code" in entry:
            raise self.fail(where, "give `value_set` or `system` and `code`, not both")
        name = entry["value_set"]
        term = self.codes.term
        value_set = term.value_sets.get(str(name)) if term is not None else None
        if value_set is None:
            raise self.fail(
                where, f"value_set {name!r} is not one of the value sets (pathways/{value_sets.PRODUCT})"
            )
        return [(m.system, f"{m.code}*" if m.prefix else m.code) for m in value_set.members()]

    def _fields(self, where: str, entry: Mapping[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.fail(
                where, f"unknown field {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
            )

    def _observation(self, where: str, entry: Any) -> None:
        keys = self._keys(where, entry)
        self._fields(where, entry, {"system", "code", "value_set", "to", "value", "test", "unit"})
        where = f"{where} ({entry.get('value_set') or (str(entry['system']) + ' ' + str(entry['code']))})"
        to = entry.get("to")
        if to not in OBSERVATION_TARGETS:
            raise self.fail(where, f"`to` must be one of {_list(OBSERVATION_TARGETS)}, found {to!r}")
        value, test, unit = entry.get("value"), entry.get("test"), entry.get("unit")
        if to in _VALUE_TARGETS:
            if value is None:
                raise self.fail(where, f"`{to}` needs `value` (the feature this observation answers)")
            self._enum(where, PAIN, "/" + to.split(".", 1)[1], value)
        elif to in _FIXABLE_TARGETS and value is not None:
            self._enum(where, PAIN, "/" + to.split(".", 1)[1], value)
        elif value is not None:
            raise self.fail(where, f"`value` is not used with `{to}`")
        if to == "lab":
            self._enum(where, LAB, "/test", test)
            if unit is not None:
                self._check_lab_unit(where, str(test), str(unit))
        elif test is not None or unit is not None:
            raise self.fail(where, "`test` and `unit` are only used with `to: lab`")
        target = ObservationTarget(str(to), value, test, unit)
        for system, code in keys:
            self.codes.observations.add(system, code, target)

    def _finding(self, where: str, entry: Any) -> None:
        keys = self._keys(where, entry)
        self._fields(where, entry, {"system", "code", "value_set", "feature", "value"})
        feature, value = entry.get("feature"), entry.get("value")
        if feature not in ("character", "systemic", "neurological"):
            raise self.fail(
                where, f"`feature` must be character, systemic or neurological, found {feature!r}"
            )
        self._enum(where, PAIN, f"/{feature}", value)
        for system, code in keys:
            self.codes.findings.add(system, code, (str(feature), str(value)))

    def _body_sites(self, section: Any) -> None:
        if not isinstance(section, dict):
            raise self.fail("body_sites", "expected `codes:` and `words:`")
        for i, entry in enumerate(section.get("codes") or []):
            where = f"body_sites.codes[{i}]"
            keys = self._keys(where, entry)
            self._fields(where, entry, {"system", "code", "value_set", "site"})
            self._enum(where, PAIN, "/site", entry.get("site"))
            for system, code in keys:
                self.codes.body_site_codes.add(system, code, str(entry["site"]))
        self._words("body_sites.words", section.get("words") or {}, PAIN, "/site", self.codes.body_site_words)

    def _imaging(self, section: Any) -> None:
        if not isinstance(section, dict):
            raise self.fail("imaging", "expected procedures, sections, modality_words and region_words")
        for i, entry in enumerate(section.get("procedures") or []):
            where = f"imaging.procedures[{i}]"
            keys = self._keys(where, entry)
            self._fields(where, entry, {"system", "code", "value_set", "modality", "region"})
            modality, region = entry.get("modality"), entry.get("region")
            if modality is not None:
                self._enum(where, IMAGING, "/modality", modality)
            if region is not None:
                self._enum(where, IMAGING, "/region", region)
            for system, code in keys:
                self.codes.imaging_procedures.add(system, code, ImagingProcedure(modality, region))
        sections = section.get("sections") or {}
        if not isinstance(sections, dict):
            raise self.fail("imaging.sections", "expected a mapping of OBR-24 value -> modality")
        for name, modality in sections.items():
            self._enum(f"imaging.sections.{name}", IMAGING, "/modality", modality)
            self.codes.imaging_sections[str(name).strip().upper()] = str(modality)
        words = section.get("modality_words") or {}
        self._words("imaging.modality_words", words, IMAGING, "/modality", self.codes.modality_words)
        words = section.get("region_words") or {}
        self._words("imaging.region_words", words, IMAGING, "/region", self.codes.region_words)

    def _diagnosis(self, where: str, entry: Any) -> None:
        keys = self._keys(where, entry)
        self._fields(
            where,
            entry,
            {"system", "code", "value_set", "cancer", "status", "spinal_metastases", "risk_factor"},
        )
        where = f"{where} ({entry.get('value_set') or (str(entry['system']) + ' ' + str(entry['code']))})"
        cancer, status = entry.get("cancer"), entry.get("status")
        mets, risk = entry.get("spinal_metastases"), entry.get("risk_factor")
        kinds = [cancer is not None, mets is not None and cancer is None, risk is not None]
        if kinds.count(True) != 1:  # spinal_metastases may go with a cancer, or stand alone (a secondary)
            raise self.fail(where, "give exactly one of `cancer`, `spinal_metastases` or `risk_factor`")
        if cancer is not None:
            self._enum(where, DIAGNOSIS, "/cancer/primary_site", cancer)
        if status is not None:
            if cancer is None:
                raise self.fail(where, "`status` is only used with `cancer`")
            self._enum(where, DIAGNOSIS, "/cancer/status", status)
        if mets is not None:
            self._enum(where, DIAGNOSIS, "/cancer/spinal_metastases", mets)
        if risk is not None:
            self._enum(where, DIAGNOSIS, "/risk_factors", risk)
        for system, code in keys:
            self.codes.diagnoses.add(system, code, DiagnosisTarget(cancer, status, mets, risk))

    def _treatment(
        self, where: str, entry: Any, table: CodeTable[TreatmentTarget], names: list[TreatmentTarget]
    ) -> None:
        if not isinstance(entry, dict):
            raise self.fail(where, "expected a mapping such as {category: corticosteroid, names: [...]}")
        self._fields(where, entry, {"category", "agent", "names", "codes", "value_set"})
        self._enum(where, TREATMENT, "/category", entry.get("category"))
        raw_names = entry.get("names") or []
        if not isinstance(raw_names, list) or not all(isinstance(n, str) and n.strip() for n in raw_names):
            raise self.fail(where, "`names` must be a list of words")
        agent = entry.get("agent")
        if agent is not None and (not isinstance(agent, str) or not 0 < len(agent) <= 200):
            raise self.fail(where, "`agent` must be a name of at most 200 characters")
        target = TreatmentTarget(str(entry["category"]), tuple(n.strip().lower() for n in raw_names), agent)
        codes = entry.get("codes") or []
        if not raw_names and not codes and "value_set" not in entry:
            raise self.fail(where, "needs `value_set`, `codes` or `names`")
        if "value_set" in entry:
            for system, code in self._keys(where, {"value_set": entry["value_set"]}):
                table.add(system, code, target)
        for j, code_entry in enumerate(codes):
            system, code = self._key(f"{where}.codes[{j}]", code_entry)
            self._fields(f"{where}.codes[{j}]", code_entry, {"system", "code"})
            table.add(system, code, target)
        if raw_names:
            names.append(target)

    def _ignore(self, section: Any) -> None:
        if not isinstance(section, dict):
            raise self.fail("ignore", f"expected lists under {', '.join(IGNORE_KINDS)}")
        unknown = sorted(set(section) - set(IGNORE_KINDS))
        if unknown:
            raise self.fail(
                f"ignore.{', '.join(unknown)}", f"unknown list (known: {', '.join(IGNORE_KINDS)})"
            )
        for kind, entries in section.items():
            if not isinstance(entries, list):
                raise self.fail(f"ignore.{kind}", "expected a list of {system, code} entries")
            for i, entry in enumerate(entries):
                where = f"ignore.{kind}[{i}]"
                keys = self._keys(where, entry)
                self._fields(where, entry, {"system", "code", "value_set"})
                for system, code in keys:
                    self.codes.ignored[kind].add(system, code, True)

    # -- checks against the contract ------------------------------------------------------------------

    def _words(
        self, where: str, section: Any, event_type: str, pointer: str, into: dict[str, tuple[str, ...]]
    ) -> None:
        if not isinstance(section, dict):
            raise self.fail(where, "expected a mapping of code word -> list of words")
        for key, words in section.items():
            self._enum(f"{where}.{key}", event_type, pointer, key)
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                raise self.fail(f"{where}.{key}", "expected a list of words")
            into[str(key)] = tuple(dict.fromkeys((*into.get(str(key), ()), *(w.strip() for w in words))))

    def _enum(self, where: str, event_type: str, pointer: str, value: Any) -> None:
        allowed = contracts.schema_enum(event_type, pointer)
        if value not in allowed:
            field_name = pointer.rsplit("/", 1)[-1]
            raise self.fail(where, f"{field_name} {value!r} is not one of {_list(allowed)}")

    def _check_lab_unit(self, where: str, test: str, unit: str) -> None:
        event = {
            "specversion": "1.0",
            "id": "check",
            "source": "urn:carepath:codes",
            "type": LAB,
            "subject": "check",
            "time": "2024-01-01T00:00:00Z",
            "data": {"test": test, "value": 0, "unit": unit},
        }
        errors = contracts.validate_event(event)
        if errors:
            raise self.fail(where, f"unit {unit!r} is not accepted for {test} ({errors[0].message})")


def _list(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))
