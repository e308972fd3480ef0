"""The schema validators, in-process: jsonschema-rs, which checks every event, and jsonschema.

The same events of the bench's feed, decoded once, are checked against their type's schema by each
validator in turn, as the contract holds them (:mod:`carepath.compiled_schema`): jsonschema-rs (draft
2020-12, compiled once), the fast check every event passes through, and jsonschema, the reference that
explains every rejection. jsonschema-rs's figure is the best of ``validator_rounds`` rounds over all of
them, with the garbage collector paused; jsonschema's is its verdict pass (``validator_reference_rounds``,
one by default: it is two orders of magnitude slower).

Every event then gets one verdict from both, or the phase fails naming the events they disagree on: the
feed (all valid), a malformed share made from it by the fuzzer's JSON mutators, and every example in
``schemas/examples/`` (valid and invalid).
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import orjson

from carepath import contracts, deadletter, envelope
from carepath.resources import schemas_dir
from carepath_tools.bench.context import Context
from carepath_tools.fuzz import mutate

Check = Callable[[Any], bool]
RS = "jsonschema-rs"
REFERENCE = "jsonschema"
MAX_SHOWN = 10  # disagreements printed
MAX_DEPTH = 64  # intake refuses JSON nested deeper before parsing it (intake.limits.MAX_JSON_DEPTH)

# The fuzzer's structural JSON mutators, but not its batches (intake splits those into events first).
_MUTATORS = [(m, w) for m, w in mutate.JSON_MUTATORS if m is not mutate.j_batch]
_RECORD_SCHEMAS = {"dlq-record.v1": contracts.DLQ_SCHEMA, "parked-record.v1": deadletter.PARKED_SCHEMA}


def validators() -> dict[str, dict[str, Check]]:
    """For each validator, the check of every schema file of the contract."""
    out: dict[str, dict[str, Check]] = {RS: {}, REFERENCE: {}}
    for name in contracts._catalogue().schemas:
        checker = contracts._checker(name)
        out[RS][name] = checker.accepts
        out[REFERENCE][name] = checker.explain.is_valid
    return out


def schema_for(event: object) -> str:
    """The schema an event is checked against: its type's, or the envelope's when the type is unknown."""
    type_name = event.get("type") if isinstance(event, dict) else None
    known = contracts._catalogue().types.get(type_name) if isinstance(type_name, str) else None
    if known is not None:
        return known.schema_file
    return contracts.ENVELOPE_SCHEMA


def malformed(feed: Sequence[object], count: int, seed: int) -> list[object]:
    """``count`` mutants of feed events, as the fuzzer makes them, that intake would decode and validate."""
    rng = random.Random(seed)
    mutators = [m for m, _ in _MUTATORS]
    weights = [w for _, w in _MUTATORS]
    out: list[object] = []
    while len(out) < count and feed:
        mutant = rng.choices(mutators, weights)[0](rng, feed[rng.randrange(len(feed))])
        try:
            decoded = orjson.loads(mutant.body)
        except orjson.JSONDecodeError:  # intake refuses it before any schema is consulted
            continue
        if _depth(decoded) <= MAX_DEPTH:
            out.append(decoded)
    return out


def _depth(value: object) -> int:
    """How deep objects and arrays nest in ``value`` (without recursing: it may nest thousands deep)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def examples() -> list[tuple[str, str, object]]:
    """(kind, schema file, document) for every example in schemas/examples/, valid and invalid."""
    out = []
    for path in sorted((schemas_dir() / "examples").glob("*/*/*.json")):
        if path.name == "expected.json":
            continue
        folder, kind = path.parts[-3], path.parts[-2]
        document = json.loads(path.read_text(encoding="utf-8"))
        out.append((kind, _RECORD_SCHEMAS.get(folder) or schema_for(document), document))
    return out


def timed(pairs: Sequence[tuple[Check, object]], rounds: int) -> tuple[list[float], list[bool]]:
    """The seconds of each round over every (check, event), and the verdicts of the first."""
    seconds: list[float] = []
    verdicts: list[bool] = []
    for _ in range(rounds):
        gc.disable()
        try:
            started = time.perf_counter()
            answers = [check(event) for check, event in pairs]
            seconds.append(time.perf_counter() - started)
        finally:
            gc.enable()
        verdicts = verdicts or answers
    return seconds, verdicts


def disagreements(
    checks: dict[str, dict[str, Check]], items: Sequence[tuple[str, object]], label: str
) -> list[str]:
    """A line for each (schema file, instance) on which the validators' verdicts differ."""
    out = []
    for schema_file, instance in items:
        verdicts = {name: by_file[schema_file](instance) for name, by_file in checks.items()}
        if len(set(verdicts.values())) > 1:
            said = ", ".join(f"{name} {'valid' if v else 'invalid'}" for name, v in verdicts.items())
            out.append(f"{label}, {schema_file}: {said}: {_short(instance)}")
    return out


def run(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    feed = [envelope.decode(e.value) for e in ctx.workload.events[: p.validator_events]]
    n = len(feed)
    checks = validators()
    ctx.say(f"{n:,} events of the feed, {len(checks[RS])} schemas compiled by each validator")

    figures: dict[str, Any] = {}
    verdicts: dict[str, list[bool]] = {}
    for name, by_file in checks.items():
        rounds = p.validator_reference_rounds if name == REFERENCE else p.validator_rounds
        pairs = [(by_file[schema_for(event)], event) for event in feed]
        seconds, verdicts[name] = timed(pairs, rounds)
        best = min(seconds)
        figures[name] = {
            "us_per_event": round(best / n * 1e6, 2),
            "per_s": round(n / best),
            "rounds_s": [round(s, 4) for s in seconds],
        }
        ctx.say(
            f"{name}: {best / n * 1e6:,.2f} µs/event, {n / best:,.0f} events/s "
            f"(best of {rounds} round{'s' if rounds > 1 else ''})"
        )

    problems = [
        f"feed, {schema_for(feed[i])}: "
        + ", ".join(f"{name} {'valid' if v[i] else 'invalid'}" for name, v in verdicts.items())
        + f": {_short(feed[i])}"
        for i in range(n)
        if len({v[i] for v in verdicts.values()}) > 1
    ]
    mutants = malformed(feed, p.validator_malformed, p.seed)
    problems += disagreements(checks, [(schema_for(m), m) for m in mutants], "malformed")
    shown = examples()
    problems += disagreements(checks, [(f, d) for _, f, d in shown], "example")
    rejected = sum(1 for m in mutants if not checks[REFERENCE][schema_for(m)](m))
    kinds = Counter(kind for kind, _, _ in shown)
    ctx.say(
        f"agreement: {n:,} feed events ({sum(verdicts[REFERENCE]):,} valid), {len(mutants):,} malformed "
        f"({rejected:,} invalid), {kinds['valid']} valid and {kinds['invalid']} invalid examples: "
        f"{len(problems)} disagreement(s)"
    )
    for line in problems[:MAX_SHOWN]:
        ctx.say(f"DISAGREE {line}")
    return {
        "events": n,
        "types": dict(sorted(Counter(str(e["type"]) for e in feed).items())),
        "rounds": p.validator_rounds,
        "reference_rounds": p.validator_reference_rounds,
        "validators": figures,
        "reference_over_rs": round(figures[REFERENCE]["us_per_event"] / figures[RS]["us_per_event"], 1),
        "versions": {name: _version(name) for name in ("jsonschema-rs", "jsonschema")},
        "agreement": {
            "feed": n,
            "feed_valid": sum(verdicts[REFERENCE]),
            "malformed": len(mutants),
            "malformed_invalid": rejected,
            "examples_valid": kinds["valid"],
            "examples_invalid": kinds["invalid"],
            "disagreements": len(problems),
        },
        "disagreeing": problems[:MAX_SHOWN],
        # a disagreement fails the phase (the figures are kept)
        **({"failed": f"{len(problems)} instance(s) got different verdicts"} if problems else {}),
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _short(instance: object) -> str:
    text = json.dumps(instance, ensure_ascii=True)
    return text if len(text) <= 300 else text[:300] + "..."
