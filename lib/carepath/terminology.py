"""Value sets: which codes of which code systems stand for which carepath concept.

The product's value sets are reviewed, versioned data (``pathways/mscc/terminology/*.yaml``); a site adds
its own codes (flowsheet rows, care steps, local scores) in overlay files of the same shape, never by
editing the product files. Both are read once at start-up and checked strictly: a key written twice, an
unknown key, a wrong type, a code without a source, a site value set for a concept carepath does not
know — each stops start-up with the file, line and key named.

Lookups never guess from display text: a coding is a member of a value set when its system (after the
aliases in ``systems.yaml``: URIs, OIDs, HL7 v2 coding-system names) and its code are listed, or, for a
hierarchical code system (ICD-10, ATC, OPCS-4), when the code starts with a listed prefix (compared
without dots and case).

File shape (product ``group:`` files and site ``site:`` files)::

    group: medicines            # or, in a site file:  site: northgate-general
    version: "1.0.0"
    value_sets:
      - id: medicine.dexamethasone
        title: Dexamethasone, every product and ingredient
        include:
          - system: http://www.nlm.nih.gov/research/umls/rxnorm
            codes:
              - {code: "3264", display: dexamethasone, kind: IN, source: S1}
          - system: http://hl7.org/fhir/sid/icd-10
            prefixes: [C50]
    sources:
      S1: {title: ..., where: ..., confirmed: "2026-12-03"}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carepath import yamlfile

SYSTEMS_FILE = "systems.yaml"
_GROUP_KEYS = frozenset({"group", "version", "value_sets", "sources", "notes"})
_SITE_KEYS = frozenset({"site", "version", "value_sets", "sources", "systems", "notes"})
_SET_KEYS = frozenset({"id", "title", "include", "note"})
_INCLUDE_KEYS = frozenset({"system", "codes", "prefixes"})
_CODE_KEYS = frozenset({"code", "display", "kind", "source", "unconfirmed", "note"})
_SYSTEM_KEYS = frozenset({"uri", "name", "aliases", "hierarchical", "broader"})


class TerminologyError(ValueError):
    """A value-set file is wrong; the message names file, line and key."""


@dataclass(frozen=True)
class Member:
    """Why a coding is in a value set: the listed code (or prefix), its display and where it came from."""

    value_set: str
    system: str
    code: str
    display: str
    source: str
    file: str
    prefix: bool = False
    unconfirmed: bool = False


@dataclass(frozen=True)
class ValueSet:
    id: str
    title: str
    codes: Mapping[str, Mapping[str, Member]]  # system URI -> normalised code -> member
    prefixes: Mapping[str, Mapping[str, Member]]

    def members(self) -> Iterator[Member]:
        """Every listed code, then every prefix (a ``Member`` with ``prefix=True``)."""
        for by_code in (*self.codes.values(), *self.prefixes.values()):
            yield from by_code.values()

    def size(self) -> int:
        return sum(len(c) for c in self.codes.values()) + sum(len(p) for p in self.prefixes.values())


@dataclass(frozen=True)
class CodeSystem:
    uri: str
    name: str
    aliases: tuple[str, ...]
    hierarchical: bool
    broader: str | None = None  # a system whose codes this one shares (ICD-10-CM and -UK share ICD-10's)


@dataclass
class Terminology:
    systems: dict[str, CodeSystem] = field(default_factory=dict)  # URI -> system
    aliases: dict[str, str] = field(default_factory=dict)  # upper-cased alias -> URI
    value_sets: dict[str, ValueSet] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # group or site -> version
    _index: dict[tuple[str, str], list[Member]] = field(default_factory=dict)
    _prefix_index: dict[str, list[tuple[str, Member]]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """One string naming every file's version, e.g. ``diagnoses 1.0.0; medicines 1.0.0; site:x 3``."""
        return "; ".join(f"{k} {v}" for k, v in sorted(self.versions.items()))

    def system_uri(self, system: str) -> str:
        """The canonical URI of ``system`` (a URI, ``urn:oid:``, an OID or an HL7 v2 name); itself if unknown."""
        key = system.strip()
        return self.aliases.get(key.upper(), self.aliases.get(_strip_oid(key).upper(), key))

    def normalise(self, system_uri: str, code: str) -> str:
        cs = self.systems.get(system_uri)
        code = code.strip()
        return code.replace(".", "").upper() if cs is not None and cs.hierarchical else code

    def lookup(self, system: str, code: str) -> list[Member]:
        """Every value-set membership of this coding, exact codes first, then the longest prefixes. A code
        of a national edition (ICD-10-CM, ICD-10-UK) is looked up in the edition, then in ICD-10."""
        uri = self.system_uri(system)
        norm = self.normalise(uri, code)
        found: list[Member] = []
        by_prefix: list[Member] = []
        for each in self.lineage(uri):
            found += self._index.get((each, norm), ())
            by_prefix += [m for p, m in self._prefix_index.get(each, ()) if norm.startswith(p)]
        by_prefix.sort(key=lambda m: -len(m.code))
        return found + by_prefix

    def lineage(self, uri: str) -> list[str]:
        """``uri`` and the systems it is a national edition of, nearest first."""
        out = [uri]
        while (cs := self.systems.get(out[-1])) is not None and cs.broader and cs.broader not in out:
            out.append(cs.broader)
        return out

    def concepts(self, system: str, code: str) -> list[str]:
        """The value-set ids this coding belongs to; for a prefix match, only the most specific prefix's."""
        members = self.lookup(system, code)
        exact = [m.value_set for m in members if not m.prefix]
        if exact:
            return sorted(set(exact))
        if not members:
            return []
        longest = max(len(m.code) for m in members)
        return sorted({m.value_set for m in members if len(m.code) == longest})

    def is_member(self, value_set: str, system: str, code: str) -> bool:
        return value_set in self.concepts(system, code)

    def known_system(self, system: str) -> bool:
        return self.system_uri(system) in self.systems


def load(directory: Path, site_files: Sequence[Path] = ()) -> Terminology:
    """The product value sets in ``directory`` with each site file laid over them, checked strictly."""
    term = Terminology()
    _load_systems(term, directory / SYSTEMS_FILE)
    files = sorted(p for p in directory.glob("*.yaml") if p.name != SYSTEMS_FILE)
    if not files:
        raise TerminologyError(f"{directory}: no value-set files")
    for path in files:
        _load_file(term, path, site=False)
    for path in site_files:
        _load_file(term, path, site=True)
    _reindex(term)
    return term


def _read(path: Path, kind: str) -> Any:
    try:
        return yamlfile.load(path, kind)
    except yamlfile.YamlFileError as exc:
        raise TerminologyError(str(exc)) from None


def _fail(path: Path, keys: Sequence[str | int], problem: str) -> TerminologyError:
    return TerminologyError(f"{yamlfile.where(path, keys)}: {problem}")


def _mapping(value: Any, path: Path, keys: Sequence[str | int]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, keys, f"a mapping expected, got {type(value).__name__}")
    return value


def _list(value: Any, path: Path, keys: Sequence[str | int]) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, keys, f"a list expected, got {type(value).__name__}")
    return value


def _text(value: Any, path: Path, keys: Sequence[str | int]) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise _fail(path, keys, "a non-empty text expected")
    return str(value).strip()


def _keys(
    value: dict[str, Any], allowed: frozenset[str], required: set[str], path: Path, keys: Sequence[str | int]
) -> None:
    yamlfile.check_keys(value, allowed, lambda problem: _fail(path, keys, problem), required)


def _strip_oid(system: str) -> str:
    return system[8:] if system.lower().startswith("urn:oid:") else system


def _add_system(term: Terminology, cs: CodeSystem, path: Path, keys: Sequence[str | int]) -> None:
    for alias in (cs.uri, cs.name, *cs.aliases):
        owner = term.aliases.get(alias.upper())
        if owner is not None and owner != cs.uri:
            raise _fail(path, keys, f"alias {alias!r} already names {owner}")
        term.aliases[alias.upper()] = cs.uri
        term.aliases[_strip_oid(alias).upper()] = cs.uri
    term.systems[cs.uri] = cs


def _system(raw: Any, path: Path, keys: list[str | int]) -> CodeSystem:
    entry = _mapping(raw, path, keys)
    _keys(entry, _SYSTEM_KEYS, {"uri", "name"}, path, keys)
    aliases = tuple(_text(a, path, [*keys, "aliases", i]) for i, a in enumerate(entry.get("aliases") or []))
    hierarchical = entry.get("hierarchical", False)
    if not isinstance(hierarchical, bool):
        raise _fail(path, [*keys, "hierarchical"], "true or false expected")
    broader = entry.get("broader")
    return CodeSystem(
        _text(entry["uri"], path, [*keys, "uri"]),
        _text(entry["name"], path, [*keys, "name"]),
        aliases,
        hierarchical,
        _text(broader, path, [*keys, "broader"]) if broader is not None else None,
    )


def _load_systems(term: Terminology, path: Path) -> None:
    doc = _mapping(_read(path, "terminology-systems"), path, [])
    _keys(doc, frozenset({"version", "systems"}), {"version", "systems"}, path, [])
    for i, raw in enumerate(_list(doc["systems"], path, ["systems"])):
        _add_system(term, _system(raw, path, ["systems", i]), path, ["systems", i])
    term.versions["systems"] = _text(doc["version"], path, ["version"])
    for i, cs in enumerate(list(term.systems.values())):
        if cs.broader is not None and cs.broader not in term.systems:
            raise _fail(path, ["systems", i, "broader"], f"{cs.broader!r} is not a listed system")


def _load_file(term: Terminology, path: Path, *, site: bool) -> None:
    doc = _mapping(_read(path, "terminology-site" if site else "terminology-value-sets"), path, [])
    kind = "site" if site else "group"
    _keys(doc, _SITE_KEYS if site else _GROUP_KEYS, {kind, "version", "value_sets"}, path, [])
    name = _text(doc[kind], path, [kind])
    label = f"site:{name}" if site else name
    if label in term.versions:
        raise _fail(path, [kind], f"{kind} {name!r} is already loaded from another file")
    term.versions[label] = _text(doc["version"], path, ["version"])
    for i, raw in enumerate(_list(doc.get("systems") or [], path, ["systems"])):
        _add_system(term, _system(raw, path, ["systems", i]), path, ["systems", i])
    sources = _mapping(doc.get("sources") or {}, path, ["sources"])
    for i, raw in enumerate(_list(doc["value_sets"], path, ["value_sets"])):
        _load_value_set(term, raw, sources, path, ["value_sets", i], site=site)


def _load_value_set(
    term: Terminology, raw: Any, sources: Mapping[str, Any], path: Path, keys: list[str | int], *, site: bool
) -> None:
    entry = _mapping(raw, path, keys)
    _keys(entry, _SET_KEYS, {"id", "include"} if site else {"id", "title", "include"}, path, keys)
    vs_id = _text(entry["id"], path, [*keys, "id"])
    existing = term.value_sets.get(vs_id)
    if site and existing is None:
        raise _fail(
            path, [*keys, "id"], f"no value set {vs_id!r} in the product: a site adds codes to known concepts"
        )
    if not site and existing is not None:
        raise _fail(path, [*keys, "id"], f"value set {vs_id!r} is defined twice")
    codes: dict[str, dict[str, Member]] = {
        s: dict(c) for s, c in (existing.codes if existing else {}).items()
    }
    prefixes: dict[str, dict[str, Member]] = {
        s: dict(c) for s, c in (existing.prefixes if existing else {}).items()
    }
    for j, inc_raw in enumerate(_list(entry["include"] or [], path, [*keys, "include"])):
        at: list[str | int] = [*keys, "include", j]
        inc = _mapping(inc_raw, path, at)
        _keys(inc, _INCLUDE_KEYS, {"system"}, path, at)
        uri = term.system_uri(_text(inc["system"], path, [*at, "system"]))
        if uri not in term.systems:
            raise _fail(
                path,
                [*at, "system"],
                f"unknown code system {uri!r}: add it to {SYSTEMS_FILE} (or the site's systems)",
            )
        for k, code_raw in enumerate(_list(inc.get("codes") or [], path, [*at, "codes"])):
            member = _member(term, vs_id, uri, code_raw, sources, path, [*at, "codes", k], site=site)
            codes.setdefault(uri, {})[member.code] = member
        for k, prefix_raw in enumerate(_list(inc.get("prefixes") or [], path, [*at, "prefixes"])):
            if not term.systems[uri].hierarchical:
                raise _fail(path, [*at, "prefixes"], f"{uri} is not hierarchical: list its codes")
            prefix = term.normalise(uri, _text(prefix_raw, path, [*at, "prefixes", k]))
            prefixes.setdefault(uri, {})[prefix] = Member(vs_id, uri, prefix, "", "", str(path), prefix=True)
    title = str(entry.get("title") or (existing.title if existing else vs_id))
    value_set = ValueSet(vs_id, title, codes, prefixes)
    term.value_sets[vs_id] = value_set


def _member(
    term: Terminology,
    vs_id: str,
    uri: str,
    raw: Any,
    sources: Mapping[str, Any],
    path: Path,
    keys: list[str | int],
    *,
    site: bool,
) -> Member:
    entry = _mapping(raw, path, keys)
    _keys(entry, _CODE_KEYS, {"code", "source"} if not site else {"code"}, path, keys)
    source = str(entry.get("source") or "")
    if source and source not in sources:
        raise _fail(path, [*keys, "source"], f"source {source!r} is not listed under sources")
    unconfirmed = entry.get("unconfirmed", False)
    if not isinstance(unconfirmed, bool):
        raise _fail(path, [*keys, "unconfirmed"], "true or false expected")
    code = term.normalise(uri, _text(entry["code"], path, [*keys, "code"]))
    display = str(entry.get("display") or "")
    return Member(vs_id, uri, code, display, source, str(path), unconfirmed=unconfirmed)


def _reindex(term: Terminology) -> None:
    index: dict[tuple[str, str], list[Member]] = {}
    prefix_index: dict[str, list[tuple[str, Member]]] = {}
    for vs in term.value_sets.values():
        for uri, members in vs.codes.items():
            for code, member in members.items():
                index.setdefault((uri, code), []).append(member)
        for uri, members in vs.prefixes.items():
            for prefix, member in members.items():
                prefix_index.setdefault(uri, []).append((prefix, member))
    term._index = index
    term._prefix_index = prefix_index


def summary(term: Terminology) -> Iterable[tuple[str, str, int, int]]:
    """(value set, title, codes and prefixes, unconfirmed codes) for each value set, by id."""
    for vs_id in sorted(term.value_sets):
        vs = term.value_sets[vs_id]
        unconfirmed = sum(m.unconfirmed for c in vs.codes.values() for m in c.values())
        yield vs_id, vs.title, vs.size(), unconfirmed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m carepath.terminology``: what a terminologist asks of the value sets."""
    import argparse

    from carepath.resources import pathways_dir

    parser = argparse.ArgumentParser(prog="python -m carepath.terminology", description=main.__doc__)
    parser.add_argument("--dir", type=Path, default=pathways_dir() / "mscc" / "terminology")
    parser.add_argument("--site", type=Path, action="append", default=[], help="a site overlay file")
    sub = parser.add_subparsers(dest="command", required=True)
    look = sub.add_parser("lookup", help="which value sets a code is in, and why")
    look.add_argument("system", help="a URI, an OID or an HL7 v2 name (LN, SCT, I10, RXNORM ...)")
    look.add_argument("code")
    sub.add_parser("check", help="load the value sets and every --site file; exit 1 naming the first mistake")
    sub.add_parser("summary", help="every value set with its size and unconfirmed codes")
    args = parser.parse_args(argv)
    try:
        term = load(args.dir, args.site)
    except TerminologyError as exc:
        print(f"error: {exc}")
        return 1
    if args.command == "lookup":
        uri = term.system_uri(args.system)
        if uri not in term.systems:
            print(f"{args.system}: not a code system carepath knows (see {SYSTEMS_FILE})")
            return 1
        members = term.lookup(args.system, args.code)
        if not members:
            print(f"{uri} {args.code}: in no value set: carepath does not read it")
            return 1
        for m in members:
            how = f"prefix {m.code}" if m.prefix else f"{m.code} {m.display!r}"
            flag = " (unconfirmed)" if m.unconfirmed else ""
            print(f"{m.value_set}: {m.system} {how}{flag} source {m.source or '-'} in {m.file}")
        return 0
    if args.command == "check":
        print(f"ok: {len(term.value_sets)} value sets; {term.version}")
        return 0
    for vs_id, title, size, unconfirmed in summary(term):
        print(f"{vs_id:40} {size:6} {unconfirmed:4}  {title}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
