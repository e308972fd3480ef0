"""``python -m carepath_tools.chaos``: the faulty run and the fault-free run of one feed, compared.

Exit status 0 when every promise was kept (see :mod:`carepath_tools.chaos.compare`), 1 when one was broken.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from carepath_tools.chaos.experiment import chaos
from carepath_tools.chaos.run import ROLES, Params
from carepath_tools.devstack import development_defaults


def main(argv: list[str] | None = None) -> int:
    development_defaults()
    p = argparse.ArgumentParser(prog="python -m carepath_tools.chaos", description=__doc__)
    d = Params()
    p.add_argument("--events", type=int, default=d.events, help="at least this many events")
    p.add_argument("--patients", type=int, default=d.patients, help="at least this many patients")
    p.add_argument("--kills", type=int, default=d.kills, help="SIGKILLs in the faulty run")
    p.add_argument("--rate", type=float, default=d.rate, help="events per second")
    p.add_argument("--seed", type=int, default=d.seed, help="the feed and the kills")
    p.add_argument("--scale", type=float, default=d.scale, help="simulated seconds per real second")
    p.add_argument("--lead", type=float, default=d.lead_s, help="real seconds a timeline ends ahead")
    p.add_argument("--window", type=float, default=d.window_s, help="real seconds of deadlines compared")
    p.add_argument("--victims", default=",".join(d.victims), help=f"roles killed, of {','.join(ROLES)}")
    p.add_argument("--out", type=Path, default=Path(".run/chaos"), help="logs and summary.json")
    a = p.parse_args(argv)
    victims = tuple(v for v in a.victims.split(",") if v)
    if not set(victims) <= set(ROLES):
        p.error(f"--victims: choose from {', '.join(ROLES)}")
    params = Params(
        events=a.events,
        patients=a.patients,
        rate=a.rate,
        scale=a.scale,
        lead_s=a.lead,
        window_s=a.window,
        kills=a.kills,
        seed=a.seed,
        victims=victims,
    )
    started = time.monotonic()
    outcome = chaos(params, a.out, say=lambda m: print(m, flush=True))
    print(outcome.summary)
    print(f"elapsed {time.monotonic() - started:.0f} s; logs and summary.json in {a.out}")
    return 0 if not outcome.broken else 1


if __name__ == "__main__":
    sys.exit(main())
