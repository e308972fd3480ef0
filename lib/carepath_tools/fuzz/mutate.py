"""Mutators: valid JSON documents (CloudEvents, FHIR resources and Bundles) and HL7 v2 messages made wrong
in the ways senders and networks make them wrong. Every mutator takes a :class:`random.Random`, so an input
is fixed by the run's seed and its number.

A mutant is not necessarily invalid: a byte flipped in free text, a dropped optional field or a number swapped
for another number can leave a valid input. The oracle (:mod:`carepath_tools.fuzz.oracle`) decides validity
independently, from the published contract and the message syntax, never from intake's answer.
"""

from __future__ import annotations

import codecs
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

JsonDoc = Any
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Mutant:
    """What is sent, and the name of the mutation that made it (for the summary)."""

    body: bytes
    mutation: str
    content_type: str | None = None  # None: the channel's own
    authorised: bool = True


# -- JSON ----------------------------------------------------------------------------------------------------

_ODD_VALUES: tuple[Any, ...] = (
    None,
    0,
    -1,
    2**63,
    10**40,
    -(10**40),
    1.5,
    1e308,
    -0.0,
    True,
    False,
    "",
    " ",
    "0",
    "null",
    "2024-13-45T25:61:61Z",
    "2999-01-01T00:00:00Z",
    "1900-01-01",
    "x" * 300,
    "\u202e\u0000\ufeff",
    "\U0001f600" * 10,
    "Patient/../../etc",
    "<script>",
    "'; DROP TABLE x;--",
    [],
    [None],
    {},
    {"": ""},
    [[[]]],
)


def _paths(doc: JsonDoc, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into ``doc`` (the root included), depth-first."""
    out: list[tuple[str | int, ...]] = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: JsonDoc, path: tuple[str | int, ...]) -> JsonDoc:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: JsonDoc, path: tuple[str | int, ...], value: JsonDoc) -> JsonDoc:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _copy(doc: JsonDoc) -> JsonDoc:
    return json.loads(json.dumps(doc))


def _dump(doc: JsonDoc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _leaf_or_any(rng: random.Random, doc: JsonDoc) -> tuple[str | int, ...]:
    paths = _paths(doc)
    return paths[rng.randrange(len(paths))]


def j_type_swap(rng: random.Random, doc: JsonDoc) -> Mutant:
    doc = _copy(doc)
    path = _leaf_or_any(rng, doc)
    return Mutant(_dump(_set(doc, path, rng.choice(_ODD_VALUES))), "json.type_swap")


def j_drop_key(rng: random.Random, doc: JsonDoc) -> Mutant:
    doc = _copy(doc)
    keyed = [p for p in _paths(doc) if p and isinstance(p[-1], str)]
    if keyed:
        path = rng.choice(keyed)
        del _get(doc, path[:-1])[path[-1]]
    return Mutant(_dump(doc), "json.drop_key")


def j_add_key(rng: random.Random, doc: JsonDoc) -> Mutant:
    doc = _copy(doc)
    objects = [p for p in _paths(doc) if isinstance(_get(doc, p), dict)]
    if objects:
        target = _get(doc, rng.choice(objects))
        target[rng.choice(["extra", "Id", "id ", "datta", "__proto__", "$ref", "resourcetype"])] = rng.choice(
            _ODD_VALUES
        )
    return Mutant(_dump(doc), "json.add_key")


def j_string_noise(rng: random.Random, doc: JsonDoc) -> Mutant:
    doc = _copy(doc)
    strings = [p for p in _paths(doc) if isinstance(_get(doc, p), str)]
    if strings:
        path = rng.choice(strings)
        value: str = _get(doc, path)
        noise = rng.choice(["\u0000", "\n", "\t", "|", "^", "~", "\\", "'", '"', "\u00e9", "\ud7ff", " "])
        at = rng.randrange(len(value) + 1)
        doc = _set(doc, path, value[:at] + noise + value[at:])
    return Mutant(_dump(doc), "json.string_noise")


def j_number_edge(rng: random.Random, doc: JsonDoc) -> Mutant:
    doc = _copy(doc)
    numbers = [
        p for p in _paths(doc) if isinstance(_get(doc, p), int | float) and not isinstance(_get(doc, p), bool)
    ]
    if numbers:
        doc = _set(doc, rng.choice(numbers), rng.choice([-1, 11, 10**20, -(10**20), 0.1, 1e-300, 99999, "8"]))
    return Mutant(_dump(doc), "json.number_edge")


def j_deep_nesting(rng: random.Random, doc: JsonDoc) -> Mutant:
    depth = rng.choice([40, 70, 150, 1000, 20000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    body = _dump(doc)
    if rng.random() < 0.5:  # the whole body wrapped
        return Mutant(opener.encode() * depth + body + closer.encode() * depth, f"json.deep_nesting.{depth}")
    doc = _copy(doc)
    path = _leaf_or_any(rng, doc)
    inner = json.dumps(_get(doc, path), ensure_ascii=False)
    marker = "\u2603NEST\u2603"
    text = json.dumps(_set(doc, path, marker), ensure_ascii=False)
    text = text.replace(json.dumps(marker, ensure_ascii=False), opener * depth + inner + closer * depth, 1)
    return Mutant(text.encode("utf-8"), f"json.deep_nesting.{depth}")


def j_duplicate_key(rng: random.Random, doc: JsonDoc) -> Mutant:
    """A key written twice in one object (the text, since a dict cannot hold it)."""
    doc = _copy(doc)
    objects = [p for p in _paths(doc) if isinstance(_get(doc, p), dict) and _get(doc, p)]
    if not objects:
        return j_type_swap(rng, doc)
    path = rng.choice(objects)
    target: dict[str, Any] = _get(doc, path)
    key = rng.choice(list(target))
    marker = "\u2603DUP\u2603"
    target[marker] = None
    text = json.dumps(doc, ensure_ascii=False)
    twin = json.dumps(rng.choice([target[key], None, "other", 7]), ensure_ascii=False)
    text = text.replace(f"{json.dumps(marker, ensure_ascii=False)}: null", f"{json.dumps(key)}: {twin}", 1)
    return Mutant(text.encode("utf-8"), "json.duplicate_key")


def j_batch(rng: random.Random, doc: JsonDoc) -> Mutant:
    """An array of the document: empty, a few (ids repeated), or more than a batch may hold."""
    n = rng.choice([0, 2, 3, 1001, 1500])
    return Mutant(_dump([doc] * n), f"json.batch.{n}")


def j_not_object(rng: random.Random, doc: JsonDoc) -> Mutant:
    return Mutant(_dump(rng.choice([None, 1, "event", [1, 2], [[doc]], True])), "json.not_object")


def b_flip(rng: random.Random, body: bytes, name: str) -> Mutant:
    data = bytearray(body)
    for _ in range(rng.choice([1, 1, 2, 3, 8])):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return Mutant(bytes(data), f"{name}.byte_flip")


def b_truncate(rng: random.Random, body: bytes, name: str) -> Mutant:
    return Mutant(body[: rng.randrange(max(len(body), 1))], f"{name}.truncate")


def b_encoding(rng: random.Random, body: bytes, name: str) -> Mutant:
    text = body.decode("utf-8", errors="replace")
    kind = rng.choice(["utf16", "utf16le", "latin1", "invalid_utf8", "bom", "overlong", "nul"])
    if kind == "utf16":
        data = text.encode("utf-16")
    elif kind == "utf16le":
        data = text.encode("utf-16-le")
    elif kind == "latin1":
        at = rng.randrange(len(text) + 1)
        data = (text[:at] + "Ren\u00e9e M\u00fcller \u00a3" + text[at:]).encode("latin-1", errors="replace")
    elif kind == "invalid_utf8":
        at = rng.randrange(len(body) + 1)
        data = (
            body[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"]) + body[at:]
        )
    elif kind == "bom":
        data = codecs.BOM_UTF8 + body
    elif kind == "overlong":
        at = rng.randrange(len(body) + 1)
        data = body[:at] + b"\xc0\xaf" + body[at:]
    else:
        at = rng.randrange(len(body) + 1)
        data = body[:at] + b"\x00" + body[at:]
    return Mutant(data, f"{name}.encoding.{kind}")


def b_oversize(rng: random.Random, body: bytes, name: str, limit: int) -> Mutant:
    """Over the size limit: padding inside a string where there is one, else trailing spaces."""
    pad = limit + rng.choice([1, 100, limit])
    text = body.decode("utf-8", errors="replace")
    at = text.find('"', text.find(":") + 1) + 1 if ":" in text else 0
    data = (text[:at] + "A" * pad + text[at:]).encode() if at > 0 else body + b" " * pad
    return Mutant(data, f"{name}.oversize")


JSON_MUTATORS: tuple[tuple[Callable[[random.Random, JsonDoc], Mutant], int], ...] = (
    (j_type_swap, 6),
    (j_drop_key, 4),
    (j_add_key, 3),
    (j_string_noise, 3),
    (j_number_edge, 2),
    (j_deep_nesting, 1),
    (j_duplicate_key, 2),
    (j_batch, 1),
    (j_not_object, 1),
)


def mutate_json(rng: random.Random, doc: JsonDoc, name: str, limit: int) -> Mutant:
    """One mutant of a JSON document: a structural change (most), a byte-level one, a wrong content type or
    a missing credential. ``limit``: the request size limit, for oversize bodies."""
    roll = rng.random()
    if roll < 0.04:
        return Mutant(_dump(doc), f"{name}.unauthorised", authorised=False)
    if roll < 0.07:
        ctype = rng.choice(["text/plain", "application/xml", "", "application/json; charset=latin-1\u00e9"])
        return Mutant(_dump(doc), f"{name}.content_type", content_type=ctype)
    if roll < 0.09:
        return b_oversize(rng, _dump(doc), name, limit)
    if roll < 0.30:
        body = _dump(doc)
        return rng.choice([b_flip, b_flip, b_truncate, b_encoding])(rng, body, name)
    if roll < 0.40 and rng.random() < 0.5:  # two mutations at once
        first = _weighted(rng, JSON_MUTATORS)(rng, doc)
        try:
            doc = json.loads(first.body)
        except (ValueError, RecursionError):
            return first
    mutant = _weighted(rng, JSON_MUTATORS)(rng, doc)
    return Mutant(mutant.body, f"{name}.{mutant.mutation}")


def _weighted(rng: random.Random, table: tuple[tuple[_F, int], ...]) -> _F:
    total = sum(w for _, w in table)
    pick = rng.randrange(total)
    for fn, weight in table:
        pick -= weight
        if pick < 0:
            return fn
    return table[-1][0]


# -- FHIR Bundles --------------------------------------------------------------------------------------------


def mutate_bundle(rng: random.Random, bundle: dict[str, Any], limit: int) -> Mutant:
    """Bundle-specific damage (a third of the time), else the JSON mutators."""
    if rng.random() > 0.35:
        return mutate_json(rng, bundle, "bundle", limit)
    doc = _copy(bundle)
    entries: list[Any] = doc.get("entry", [])
    kind = rng.choice(
        [
            "type",
            "method",
            "url",
            "full_url_twice",
            "nested",
            "many",
            "no_resource",
            "entry_not_list",
            "same_id",
        ]
    )
    if kind == "type":
        doc["type"] = rng.choice(
            ["collection", "document", "searchset", "history", "message", "TRANSACTION", 5]
        )
    elif kind == "method" and entries:
        rng.choice(entries)["request"] = {
            "method": rng.choice(["DELETE", "GET", "PATCH", "post", ""]),
            "url": "x",
        }
    elif kind == "url" and entries:
        rng.choice(entries)["request"]["url"] = rng.choice(
            ["Patient", "", "Observation/../../x", "Condition/a/b/c"]
        )
    elif kind == "full_url_twice" and entries:
        for e in entries:
            e["fullUrl"] = "urn:uuid:00000000-0000-0000-0000-000000000001"
    elif kind == "nested":
        entries.append({"resource": _copy(bundle), "request": {"method": "POST", "url": "Bundle"}})
    elif kind == "many" and entries:
        doc["entry"] = entries * rng.choice([200, 600])
    elif kind == "no_resource" and entries:
        rng.choice(entries).pop("resource", None)
    elif kind == "entry_not_list":
        doc["entry"] = rng.choice([{}, "entries", 3, [1, 2], [None]])
    elif kind == "same_id" and len(entries) > 1:
        for e in entries:
            if isinstance(e.get("resource"), dict):
                e["resource"]["id"] = "same"
    return Mutant(_dump(doc), f"bundle.{kind}")


# -- HL7 v2 --------------------------------------------------------------------------------------------------


def _segments(message: str) -> list[str]:
    return [s for s in message.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]


def h_drop_segment(rng: random.Random, message: str) -> str:
    segs = _segments(message)
    if len(segs) > 1:
        del segs[rng.randrange(len(segs))]
    return "\r".join(segs)


def h_duplicate_segment(rng: random.Random, message: str) -> str:
    segs = _segments(message)
    i = rng.randrange(len(segs))
    segs.insert(i, segs[i])
    return "\r".join(segs)


def h_shuffle_segments(rng: random.Random, message: str) -> str:
    segs = _segments(message)
    rng.shuffle(segs)
    return "\r".join(segs)


def h_msh_field(rng: random.Random, message: str) -> str:
    """An MSH field emptied or damaged (type, control id, version, date, encoding characters)."""
    segs = _segments(message)
    fields = segs[0].split("|")
    n = rng.choice([2, 3, 4, 7, 7, 9, 9, 10, 10, 11, 12, 12, 18])
    if n < len(fields):
        n_index = n - 1 if n > 1 else 1  # MSH-1 is the separator itself: fields[1] is MSH-2
        fields[n_index] = rng.choice(
            ["", "^^^", "\\X00\\", "A" * 300, "ADT^Z99", "9.9", "20241399", "&&&", "|"]
        )
    segs[0] = "|".join(fields)
    return "\r".join(segs)


def h_no_msh(rng: random.Random, message: str) -> str:
    segs = _segments(message)
    return "\r".join(segs[1:]) if rng.random() < 0.7 else "PID" + "\r".join(segs)[3:]


def h_separators(rng: random.Random, message: str) -> str:
    """The field separator or the encoding characters changed, in MSH only or everywhere."""
    kind = rng.choice(["field_msh", "field_all", "encoding_chars", "short_encoding", "same_chars"])
    if kind == "field_msh":
        return message.replace("MSH|", "MSH#", 1)
    if kind == "field_all":
        return message.replace("|", rng.choice(["#", "^", "\t", ","]))
    if kind == "encoding_chars":
        return message.replace("^~\\&", rng.choice(["^~\\", "!~\\&", "^~\\&#", "    ", "^^^^"]), 1)
    if kind == "short_encoding":
        return message.replace("MSH|^~\\&|", "MSH|", 1)
    return message.replace("^~\\&", "||||", 1)


def h_terminators(rng: random.Random, message: str) -> str:
    return "\r".join(_segments(message)).replace("\r", rng.choice(["\n", "\r\n", "", "\r\r", "\n\r", "\x0b"]))


def h_field_noise(rng: random.Random, message: str) -> str:
    """A field of a non-MSH segment replaced with something odd."""
    segs = _segments(message)
    if len(segs) < 2:
        return message
    i = rng.randrange(1, len(segs))
    fields = segs[i].split("|")
    if len(fields) > 1:
        j = rng.randrange(1, len(fields))
        fields[j] = rng.choice(
            [
                "",
                '""',
                "-1",
                "1e999",
                "NaN",
                "\\E\\\\F\\\\X0D\\",
                "\\Zbad\\",
                "9" * 60,
                "x" * 5000,
                "~" * 50,
                "^" * 50,
                "20240230",
                "29991231235959+0000",
                "<>&",
                "\x00",
                "\u00e9\u00fc\u00df",
            ]
        )
    segs[i] = "|".join(fields)
    return "\r".join(segs)


def h_two_messages(rng: random.Random, message: str) -> str:
    return message + "\r" + message


def h_many_segments(rng: random.Random, message: str) -> str:
    segs = _segments(message)
    extra = [f"NTE|{n}||note" for n in range(rng.choice([50, 400]))]
    return "\r".join([*segs, *extra])


HL7_MUTATORS: tuple[tuple[Callable[[random.Random, str], str], int], ...] = (
    (h_drop_segment, 3),
    (h_duplicate_segment, 2),
    (h_shuffle_segments, 1),
    (h_msh_field, 5),
    (h_no_msh, 1),
    (h_separators, 3),
    (h_terminators, 2),
    (h_field_noise, 6),
    (h_two_messages, 1),
    (h_many_segments, 1),
)


@dataclass(frozen=True)
class Hl7Mutant:
    """The message bytes and how they travel: ``frame`` wraps them (None: the standard <VT>..<FS><CR>)."""

    message: bytes
    mutation: str
    frame: Callable[[bytes], bytes] | None = None


FRAMINGS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    ("bytes_before_start", lambda m: b"junk\x0b" + m + b"\x1c\r"),
    ("no_start_block", lambda m: m + b"\x1c\r"),
    ("double_start_block", lambda m: b"\x0b\x0b" + m + b"\x1c\r"),
    ("fs_without_cr", lambda m: b"\x0b" + m + b"\x1c"),
    ("vt_inside", lambda m: b"\x0b" + m[: len(m) // 2] + b"\x0b" + m[len(m) // 2 :] + b"\x1c\r"),
    ("empty_frame", lambda m: b"\x0b\x1c\r"),
)


def mutate_hl7(rng: random.Random, message: str, limit: int) -> Hl7Mutant:
    roll = rng.random()
    if roll < 0.08:
        name, frame = rng.choice(FRAMINGS)
        return Hl7Mutant(message.encode(), f"hl7.framing.{name}", frame)
    if roll < 0.10:
        return Hl7Mutant(message.encode() + b"\rNTE|1||" + b"A" * (limit + 10), "hl7.oversize")
    if roll < 0.35:
        base = message.encode("utf-8")
        m = rng.choice([b_flip, b_flip, b_truncate, b_encoding])(rng, base, "hl7")
        return Hl7Mutant(m.body, m.mutation)
    fn = _weighted(rng, HL7_MUTATORS)
    mutated = fn(rng, message)
    name = fn.__name__.removeprefix("h_")
    if rng.random() < 0.25:
        second = _weighted(rng, HL7_MUTATORS)
        mutated = second(rng, mutated)
        name += "+" + second.__name__.removeprefix("h_")
    return Hl7Mutant(mutated.encode("utf-8"), f"hl7.{name}")
