"""Tail any carepath topic in readable form.

python -m carepath.tail care.escalations            # new records from now on
python -m carepath.tail care.reminders --from-beginning
python -m carepath.tail clinical.events.dlq --raw   # the JSON as stored
"""

from __future__ import annotations

import argparse
import os
import sys

from carepath.render import render
from carepath.topics import catalogue


def main(argv: list[str] | None = None) -> int:
    names = [t.name for t in catalogue()]
    parser = argparse.ArgumentParser(
        prog="python -m carepath.tail",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("topic", choices=names)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--raw", action="store_true", help="print the stored JSON unchanged")
    parser.add_argument("--max", type=int, default=0, help="stop after this many records (0: follow forever)")
    parser.add_argument("--idle-timeout", type=float, default=0, help="stop after this many idle seconds")
    args = parser.parse_args(argv)

    from kafka import KafkaConsumer

    from carepath import kafka_security

    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap.split(","),
        group_id=None,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        consumer_timeout_ms=int(args.idle_timeout * 1000) if args.idle_timeout else float("inf"),
        **kafka_security.kafka_python_kwargs(kafka_security.from_environment()),
    )
    colour = sys.stdout.isatty()
    seen = 0
    try:
        for msg in consumer:
            if args.raw:
                print(msg.value.decode("utf-8", "replace"), flush=True)
            else:
                print(render(args.topic, msg.value, colour=colour), flush=True)
            seen += 1
            if args.max and seen >= args.max:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
