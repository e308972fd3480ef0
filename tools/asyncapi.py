"""``schemas/asyncapi.yaml``: an AsyncAPI 3.0 description of every topic, generated from ``schemas/``.

One source of truth: the topic catalogue (``schemas/topics.json``) gives the channels (address, key,
partitions, retention, content type, what each carries); each event schema's ``x-topic`` says which
channel its messages travel on, and its first valid example (``schemas/examples/<type>/valid/``) becomes
the message's example. The document stands on its own: every schema file is copied under
``components/schemas`` (its ``$defs`` as ``<file>.<name>``), every ``$ref`` rewritten to point there.

AsyncAPI's default schema format is a superset of JSON Schema draft 07, so the copies are written in it:
``dependentRequired`` and ``dependentSchemas`` (2019-09) become draft 07's ``dependencies``, which says
the same; a ``$ref`` with keywords beside it (which draft 07 would ignore) goes into an ``allOf``;
``$schema``, ``$id`` and ``errorMessage`` (the wording of carepath's own errors) are left out.

Two topics carry records no schema names as its ``x-topic``; :data:`SAME_AS` and
:data:`NOTIFICATION_DEAD_LETTER` below say what they are.

    python -m tools.asyncapi          # write schemas/asyncapi.yaml
    python -m tools.asyncapi --check  # exit 1 when the committed file differs from what is generated
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
OUTPUT = SCHEMAS / "asyncapi.yaml"
KAFKA_BINDING = "0.5.0"
_SUFFIX = ".schema.json"
_REF = re.compile(r"^(?P<file>[A-Za-z0-9._-]+\.schema\.json)?(?:#/\$defs/(?P<name>[A-Za-z0-9_.-]+))?$")

# A topic whose records are those of another (a triage in shadow mode publishes what triage publishes).
SAME_AS = {"care.escalations.shadow": "care.escalations"}

# care.notifications.dlq: the notifier's dead letters (notifier/dead_letters.py, docs/notifier.md), which
# have no schema file of their own in schemas/ yet.
NOTIFICATION_DEAD_LETTER: dict[str, Any] = {
    "title": "Notification dead letter (v1)",
    "description": "An escalation or reminder an endpoint did not take within its retry budget: which "
    "endpoint, the notification, the attempts made and the last error, and the notification itself so it "
    "can be delivered by hand.",
    "type": "object",
    "required": [
        "endpoint",
        "url",
        "event_id",
        "event_type",
        "attempts",
        "last_error",
        "first_seen",
        "dead_lettered_at",
    ],
    "additionalProperties": False,
    "properties": {
        "endpoint": {"type": "string", "description": "the endpoint's name in the endpoint file"},
        "url": {"type": "string", "description": "where it was sent"},
        "event_id": {"type": "string", "description": "the CloudEvent id: the webhook-id sent"},
        "event_type": {"type": "string", "description": "the CloudEvent type"},
        "attempts": {"type": "integer", "minimum": 1, "description": "attempts made in all"},
        "last_error": {"type": "string", "description": "the last attempt's error, e.g. HTTP 503"},
        "first_seen": {"$ref": "#/components/schemas/common.v1.timestamp"},
        "dead_lettered_at": {"$ref": "#/components/schemas/common.v1.timestamp"},
        "event": {"type": "object", "description": "the escalation or reminder CloudEvent as published"},
    },
}


def component(file_name: str, definition: str | None = None) -> str:
    """``common.v1.schema.json`` + ``timestamp`` -> ``common.v1.timestamp``; a whole file -> ``common.v1``."""
    base = file_name.removesuffix(_SUFFIX)
    return f"{base}.{definition}" if definition else base


def _draft07(node: Any, here: str) -> Any:
    if isinstance(node, list):
        return [_draft07(v, here) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$id", "$defs", "errorMessage"):
            continue
        if key == "$ref":
            out[key] = _local_ref(value, here)
        elif key in ("dependentRequired", "dependentSchemas"):
            out.setdefault("dependencies", {}).update(_draft07(value, here))
        elif key == "properties":  # property names are data, never keywords
            out[key] = {name: _draft07(schema, here) for name, schema in value.items()}
        else:
            out[key] = _draft07(value, here)
    if "$ref" in out and len(out) > 1:  # draft 07 ignores whatever stands beside a $ref
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}, *out.get("allOf", [])]
    return out


def _local_ref(ref: str, here: str) -> str:
    m = _REF.match(ref)
    if m is None or not (m["file"] or m["name"]):
        raise ValueError(f"{here}: reference {ref!r} is neither a schema file nor one of its $defs")
    file_name = m["file"] or here
    if not (SCHEMAS / file_name).is_file():
        raise ValueError(f"{here}: reference {ref!r}: no {file_name} in {SCHEMAS}")
    return "#/components/schemas/" + component(file_name, m["name"])


def schemas() -> dict[str, dict[str, Any]]:
    """Every schema file and each of its ``$defs``, in draft 07, with local references."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMAS.glob(f"*{_SUFFIX}")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out[component(path.name)] = _draft07(doc, path.name)
        for name, definition in doc.get("$defs", {}).items():
            out[component(path.name, name)] = _draft07(definition, path.name)
    out["notification-dead-letter.v1"] = NOTIFICATION_DEAD_LETTER
    return out


def _example(name: str) -> dict[str, Any] | None:
    valid = sorted((SCHEMAS / "examples" / name / "valid").glob("*.json"))
    if not valid:
        return None
    return {"name": valid[0].stem, "payload": json.loads(valid[0].read_text(encoding="utf-8"))}


def _messages(catalogue: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The messages, and which travel on each topic."""
    content_types = {t["name"]: t["content_type"] for t in catalogue}
    messages: dict[str, Any] = {}
    on_topic: dict[str, list[str]] = {t["name"]: [] for t in catalogue}
    for path in sorted(SCHEMAS.glob(f"*{_SUFFIX}")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        topic = doc.get("x-topic")
        if topic is None:
            continue
        if topic not in on_topic:
            raise ValueError(f"{path.name}: x-topic {topic!r} is not in topics.json")
        name = component(path.name)
        message: dict[str, Any] = {
            "name": name,
            "title": doc["title"],
            "summary": doc["description"],
            "contentType": content_types[topic],
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"$ref": "#/components/schemas/kafka-key"}}},
        }
        example = _example(name)
        if example is not None:
            message["examples"] = [example]
        messages[name] = message
        on_topic[topic].append(name)
    dead_letter = "notification-dead-letter.v1"
    messages[dead_letter] = {
        "name": dead_letter,
        "title": NOTIFICATION_DEAD_LETTER["title"],
        "summary": NOTIFICATION_DEAD_LETTER["description"],
        "contentType": content_types["care.notifications.dlq"],
        "payload": {"$ref": f"#/components/schemas/{dead_letter}"},
        "bindings": {"kafka": {"key": {"$ref": "#/components/schemas/kafka-key"}}},
    }
    on_topic["care.notifications.dlq"].append(dead_letter)
    for topic, same in SAME_AS.items():
        on_topic[topic] = list(on_topic[same])
    empty = sorted(t for t, names in on_topic.items() if not names)
    if empty:
        raise ValueError(f"no schema in {SCHEMAS} says what travels on {empty} (x-topic)")
    return messages, on_topic


def document() -> dict[str, Any]:
    raw = json.loads((SCHEMAS / "topics.json").read_text(encoding="utf-8"))
    catalogue: list[dict[str, Any]] = raw["topics"]
    messages, on_topic = _messages(catalogue)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in catalogue:
        name = topic["name"]
        partitions = int(topic.get("partitions", raw["partitions"]))
        channels[name] = {
            "address": name,
            "title": name,
            "description": f"{topic['carries'][0].upper()}{topic['carries'][1:]}. Key: {topic['key']}. "
            f"Every record's content-type header: {topic['content_type']}.",
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in on_topic[name]},
            "bindings": {
                "kafka": {
                    "topic": name,
                    "partitions": partitions,
                    "topicConfiguration": {
                        "cleanup.policy": [topic["cleanup_policy"]],
                        "retention.ms": int(topic["retention_ms"]),
                    },
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
        operations[f"write.{name}"] = {
            "action": "send",
            "title": f"Write {name}",
            "summary": f"carepath writes {name}: {topic['carries']}.",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in on_topic[name]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "carepath topics",
            "version": "1.0.0",
            "description": "Every Kafka topic carepath reads or writes, and the events on each, generated "
            "from schemas/ (the event JSON Schemas and topics.json) by python -m tools.asyncapi. The patient "
            "id is the record key everywhere; CloudEvents travel in the Kafka protocol binding's structured "
            "mode (the whole event is the record's value).",
        },
        "defaultContentType": "application/cloudevents+json; charset=UTF-8",
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "The Kafka cluster named by KAFKA_BOOTSTRAP_SERVERS (docker-compose: kafka:9092).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {
                "kafka-key": {
                    "type": "string",
                    "description": "The patient id (UTF-8): one patient's records stay in order on one "
                    "partition. Dead letters of input whose patient is unknown have no key.",
                },
                **schemas(),
            },
        },
    }


def render() -> str:
    header = "# Generated by `python -m tools.asyncapi` from schemas/: do not edit by hand.\n"
    return header + yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.asyncapi", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file differs")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} differs from its sources: run python -m tools.asyncapi")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(OUTPUT.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
