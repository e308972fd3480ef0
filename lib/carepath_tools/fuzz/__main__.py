"""``python -m carepath_tools.fuzz [--inputs N] [--seed S] [--time-limit SECONDS] [--json]``: start an
embedded broker and intake, send the inputs, print the summary; exit 1 when any check failed."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from carepath_tools.devstack import development_defaults
from carepath_tools.fuzz.harness import Config, run


def main(argv: list[str] | None = None) -> int:
    development_defaults()
    parser = argparse.ArgumentParser(prog="python -m carepath_tools.fuzz", description=__doc__)
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs to send in all (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="the run's seed: the same seed, the same inputs")
    parser.add_argument(
        "--time-limit", type=float, default=300.0, help="stop sending after this many seconds (default 300)"
    )
    parser.add_argument("--log-dir", type=Path, default=Path(".run/fuzz"), help="broker and intake logs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.inputs < 1:
        parser.error("--inputs must be at least 1")
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))  # stop intake and the broker too
    config = Config(inputs=args.inputs, seed=args.seed, time_limit_s=args.time_limit, log_dir=args.log_dir)
    found = run(config, progress=lambda text: print(f"fuzz: {text}", file=sys.stderr, flush=True))
    print(json.dumps(found.as_json(), indent=2) if args.json else found.summary(), flush=True)
    return 0 if found.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
