"""The FHIR code map (``codes.yaml``): which codings carepath reads, and the contract value each stands for.

Loaded and checked once at start-up: every value must be one the event contract accepts, every system a
declared short name, and no code may be listed twice in one section with different meanings. A site file
(``CAREPATH_FHIR_CODES``) adds entries, and replaces an entry for the same system and code.

Lookups are pure and never guess: a coding that is not listed is not read (the caller refuses the resource
and names the coding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carepath import terminology, yamlfile
from carepath.contracts import schema_enum
from intake import value_sets

DEFAULT_PATH = Path(__file__).with_name("codes.yaml")

PAIN = "carepath.pain.reported.v1"
IMAGING = "carepath.imaging.resulted.v1"
TREATMENT = "carepath.treatment.changed.v1"
LAB = "carepath.lab.resulted.v1"
DIAGNOSIS = "carepath.diagnosis.recorded.v1"
CARE_STEP = "carepath.care_step.recorded.v1"
SYMPTOM = "carepath.symptom.recorded.v1"

PAIN_FEATURE_FIELDS = ("character", "systemic", "neurological")
PAIN_DETAILS = frozenset(
    {"neurological_status", "weakness_severity", "improving", "new_episode", "duration_days", "onset"}
)


class CodeMapError(ValueError):
    """The code map is malformed; the message names the file, section and entry."""


# Per section: attribute -> where its allowed values come from: a (type, pointer) pair in the contract,
# a fixed set, or None for free text. Attributes under "optional" may be left out of an entry.
_Allowed = tuple[str, str] | frozenset[str] | None
_SECTIONS: dict[str, tuple[dict[str, _Allowed], dict[str, _Allowed]]] = {
    "pain_scores": ({}, {}),
    "spinal_sites": ({"site": frozenset()}, {}),  # filled in below: pain sites and treatment target sites
    "pain_features": ({"feature": frozenset(PAIN_FEATURE_FIELDS), "value": None}, {}),
    "pain_details": ({"detail": PAIN_DETAILS}, {}),
    "neurological_statuses": ({"status": (PAIN, "/neurological_status")}, {}),
    "weakness_severities": ({"severity": (PAIN, "/weakness_severity")}, {}),
    "labs": ({"test": (LAB, "/test")}, {}),
    # A symptom recorded on its own (its finding in pain_features), its course, the body sites that make
    # numbness saddle anaesthesia, and body temperature: carepath.symptom.recorded.v1.
    "symptom_observations": ({}, {}),
    "symptom_statuses": ({"status": (SYMPTOM, "/status")}, {}),
    "saddle_sites": ({}, {}),
    "temperatures": ({}, {}),
    "sins_scores": ({}, {}),
    "cancers": (
        {"primary_site": (DIAGNOSIS, "/cancer/primary_site")},
        {"spinal_metastases": (DIAGNOSIS, "/cancer/spinal_metastases")},
    ),
    "risk_factors": ({"risk_factor": (DIAGNOSIS, "/risk_factors")}, {}),
    "imaging_studies": ({"modality": (IMAGING, "/modality"), "region": (IMAGING, "/region")}, {}),
    "imaging_findings": (
        {"finding": (IMAGING, "/findings/code"), "certainty": (IMAGING, "/findings/certainty")},
        {},
    ),
    "medications": ({"category": (TREATMENT, "/category")}, {"agent": None}),
    "procedures": ({"category": (TREATMENT, "/category")}, {"agent": None}),
    "care_steps": ({"step": (CARE_STEP, "/step")}, {}),
    # An entry without a decision is a decision carepath reads but the contract has no value for
    # (systemic therapy): the step is recorded as decision_to_treat without a decision.
    "treatment_decisions": ({}, {"decision": (CARE_STEP, "/decision")}),
    "review_conclusions": ({"conclusion": (CARE_STEP, "/conclusion")}, {}),
    # Communication.category of an escalation acknowledgement, and the statusReason that makes it one
    # with an override (carepath.escalation.acknowledged.v1): the coding alone carries the meaning.
    "acknowledgements": ({}, {}),
    "acknowledgement_overrides": ({}, {}),
}
_UNIT_SECTIONS: dict[str, tuple[str, str]] = {
    "lab_units": (LAB, "/unit"),
    "dose_units": (TREATMENT, "/dose/unit"),
}


@dataclass(frozen=True)
class Entry:
    system: str  # the system URI
    code: str
    display: str
    values: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def token(self) -> str:
        return f"{self.system}|{self.code}"


@dataclass(frozen=True)
class Match:
    entry: Entry
    coding_index: int


class CodeConflict(ValueError):
    """Two listed codings of one CodeableConcept mean different things."""

    def __init__(self, first: Entry, second: Entry) -> None:
        super().__init__(
            f"codings {first.token} and {second.token} are both listed but mean different things "
            f"({dict(first.values)} and {dict(second.values)})"
        )


@dataclass
class CodeTable:
    name: str
    hierarchical: frozenset[str]
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    # The value sets: any name of a system (an OID, "urn:oid:...") resolves to its URI, and a code of a
    # national edition (ICD-10-CM, ICD-10-UK) is also looked up in the classification it extends.
    term: terminology.Terminology | None = None

    def add(self, entry: Entry) -> None:
        self.entries[(entry.system, _normal(entry.system, entry.code, self.hierarchical))] = entry

    def lookup(self, system: str | None, code: str | None) -> Entry | None:
        if not system or not code:
            return None
        uri = self.term.system_uri(system) if self.term is not None else system
        for each in self.term.lineage(uri) if self.term is not None else [uri]:
            found = self._lookup(each, code.strip())
            if found is not None:
                return found
        return None

    def _lookup(self, system: str, code: str) -> Entry | None:
        if system not in self.hierarchical:
            return self.entries.get((system, code))
        normal = _normal(system, code, self.hierarchical)
        for end in range(len(normal), 0, -1):  # the most specific listed code wins
            found = self.entries.get((system, normal[:end]))
            if found is not None:
                return found
        return None

    def match(self, codings: Iterable[Mapping[str, Any]]) -> Match | None:
        """The entry for a CodeableConcept's codings; None when none is listed. Raises CodeConflict."""
        found: Match | None = None
        for index, coding in enumerate(codings):
            entry = self.lookup(coding.get("system"), coding.get("code"))
            if entry is None:
                continue
            if found is None:
                found = Match(entry, index)
            elif dict(found.entry.values) != dict(entry.values):
                raise CodeConflict(found.entry, entry)
        return found

    def __len__(self) -> int:
        return len(self.entries)


def _normal(system: str, code: str, hierarchical: frozenset[str]) -> str:
    return code.replace(".", "").upper() if system in hierarchical else code


@dataclass(frozen=True)
class CodeMap:
    version: str
    tables: Mapping[str, CodeTable]
    units: Mapping[str, Mapping[str, str]]
    systems: Mapping[str, str]  # short name -> URI

    def table(self, name: str) -> CodeTable:
        return self.tables[name]

    def unit(self, section: str, ucum: str | None) -> str | None:
        return self.units[section].get(ucum) if ucum else None


def load_code_map(
    site_file: Path | None = None,
    default_file: Path = DEFAULT_PATH,
    term: terminology.Terminology | None = None,
) -> CodeMap:
    """Read the default code map and, when given, a site's additions; raises CodeMapError. Entries may
    name a value set of ``term`` (by default the product's value sets) instead of one code."""
    if term is None:
        try:
            term = value_sets.load()
        except value_sets.ValueSetError as exc:
            raise CodeMapError(str(exc)) from None
    base = _read(default_file)
    docs = [(default_file, base)]
    if site_file is not None:
        docs.append((site_file, _read(site_file)))
    systems: dict[str, str] = {}
    hierarchical_names: set[str] = set()
    for path, doc in docs:
        for short, uri in (doc.get("systems") or {}).items():
            if not isinstance(uri, str) or ("://" not in uri and not uri.startswith("urn:")):
                raise CodeMapError(f"{path}: systems.{short}: {uri!r} is not a system URI")
            if short in systems and systems[short] != uri:
                raise CodeMapError(f"{path}: systems.{short} is already {systems[short]}")
            systems[short] = uri
        for short in doc.get("hierarchical") or []:
            if short not in systems:
                raise CodeMapError(f"{path}: hierarchical: {short!r} is not a declared system")
            hierarchical_names.add(short)
    hierarchical = frozenset(systems[s] for s in hierarchical_names) | frozenset(
        uri for uri, cs in term.systems.items() if cs.hierarchical
    )
    allowed = _allowed_values()
    tables = {name: CodeTable(name, hierarchical, term=term) for name in _SECTIONS}
    units: dict[str, dict[str, str]] = {name: {} for name in _UNIT_SECTIONS}
    for path, doc in docs:
        unknown = set(doc) - set(_SECTIONS) - set(_UNIT_SECTIONS) - {"version", "systems", "hierarchical"}
        if unknown:
            raise CodeMapError(f"{path}: unknown section(s) {sorted(unknown)}; known: {sorted(_SECTIONS)}")
        for name in _SECTIONS:
            for index, raw in enumerate(doc.get(name) or []):
                for entry in _entries(path, name, index, raw, systems, allowed, term):
                    tables[name].add(entry)
        for name, (etype, pointer) in _UNIT_SECTIONS.items():
            contract_units = schema_enum(etype, pointer)
            for ucum, unit in (doc.get(name) or {}).items():
                if unit not in contract_units:
                    raise CodeMapError(
                        f"{path}: {name}.{ucum}: {unit!r} is not a contract unit ({sorted(contract_units)})"
                    )
                units[name][str(ucum)] = unit
    _check_tables(tables, default_file)
    return CodeMap(str(base.get("version", "")), tables, units, systems)


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yamlfile.load(path, "fhir-codes")
    except yamlfile.YamlFileError as exc:
        raise CodeMapError(str(exc)) from None
    if not isinstance(doc, dict):
        raise CodeMapError(f"{path}: expected a mapping of sections")
    return doc


def _allowed_values() -> dict[str, dict[str, frozenset[str] | None]]:
    out: dict[str, dict[str, frozenset[str] | None]] = {}
    for name, (required, optional) in _SECTIONS.items():
        out[name] = {}
        for attr, source in {**required, **optional}.items():
            if isinstance(source, tuple):
                out[name][attr] = schema_enum(*source)
            else:
                out[name][attr] = source
    out["spinal_sites"]["site"] = schema_enum(PAIN, "/site") | schema_enum(TREATMENT, "/target_site")
    return out


def _entries(
    path: Path,
    section: str,
    index: int,
    raw: Any,
    systems: Mapping[str, str],
    allowed: Mapping[str, Mapping[str, frozenset[str] | None]],
    term: terminology.Terminology,
) -> list[Entry]:
    """The entries of one item: itself, or (``value_set: cancer.breast``) one per member of the value set,
    a classification prefix (ICD-10 C50) standing for every code below it."""
    if not isinstance(raw, dict) or "value_set" not in raw:
        return [_entry(path, section, index, raw, systems, allowed)]
    where = f"{path}: {section}[{index}]"
    if "system" in raw or "code" in raw:
        raise CodeMapError(f"{where}: give `value_set` or `system` and `code`, not both")
    value_set = term.value_sets.get(str(raw["value_set"]))
    if value_set is None:
        raise CodeMapError(f"{where}: value_set {raw['value_set']!r} is not one of the value sets")
    values = _values(f"{where} ({raw['value_set']})", section, raw, allowed, {"value_set", "display"})
    return [Entry(m.system, m.code, m.display, values) for m in value_set.members()]


def _entry(
    path: Path,
    section: str,
    index: int,
    raw: Any,
    systems: Mapping[str, str],
    allowed: Mapping[str, Mapping[str, frozenset[str] | None]],
) -> Entry:
    where = f"{path}: {section}[{index}]"
    if not isinstance(raw, dict):
        raise CodeMapError(f"{where}: expected a mapping with system, code and display")
    system, code, display = raw.get("system"), raw.get("code"), raw.get("display", "")
    if system not in systems:
        raise CodeMapError(f"{where}: system {system!r} is not declared under systems ({sorted(systems)})")
    if not isinstance(code, str | int) or str(code) == "":
        raise CodeMapError(f"{where}: code must be a non-empty string")
    values = _values(f"{where} ({code})", section, raw, allowed, {"system", "code", "display"})
    return Entry(systems[str(system)], str(code), str(display), values)


def _values(
    where: str,
    section: str,
    raw: Mapping[str, Any],
    allowed: Mapping[str, Mapping[str, frozenset[str] | None]],
    keys: set[str],
) -> dict[str, str]:
    """The carepath values an entry gives (checked against the contract); ``keys`` name the coding."""
    required, optional = _SECTIONS[section]
    values: dict[str, str] = {}
    for attr in (*required, *optional):
        if attr not in raw:
            if attr in required:
                raise CodeMapError(f"{where}: {attr} is required")
            continue
        value = str(raw[attr])
        choices = allowed[section][attr]
        if choices is not None and value not in choices:
            raise CodeMapError(f"{where}: {attr} {value!r} is not one of {sorted(choices)}")
        values[attr] = value
    extra = set(raw) - {*keys, *required, *optional}
    if extra:
        raise CodeMapError(f"{where}: unknown key(s) {sorted(extra)}")
    if section == "pain_features":
        feature_values = schema_enum(PAIN, "/" + values["feature"])
        if values["value"] not in feature_values:
            raise CodeMapError(
                f"{where}: value {values['value']!r} is not a {values['feature']} code "
                f"({sorted(feature_values)})"
            )
    return values


def _check_tables(tables: Mapping[str, CodeTable], default_file: Path) -> None:
    if not len(tables["pain_scores"]):
        raise CodeMapError(f"{default_file}: pain_scores lists no code")
    # One coding must not mean two kinds of Observation, nor be both a care step and an acknowledgement.
    for a, b in (("pain_scores", "labs"), ("care_steps", "acknowledgements")):
        both = set(tables[a].entries) & set(tables[b].entries)
        if both:
            raise CodeMapError(f"codes listed both as {a} and {b}: {sorted(both)}")
