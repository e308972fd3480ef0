"""Chaos: SIGKILL and restart workers at random under a steady feed, then compare with a fault-free run.

    python -m carepath_tools.chaos --events 10000 --patients 1000 --kills 20

A whole stack per run (embedded broker unless ``KAFKA_BOOTSTRAP_SERVERS`` is set; two triage and two
followup workers in one group each, intake, the notifier delivering to a local webhook receiver), the same
feed through both runs on the same steered clock, and a comparison by the deterministic escalation and
reminder ids. See :mod:`carepath_tools.chaos.run` for one run and :mod:`carepath_tools.chaos.compare` for the
promises.
"""
