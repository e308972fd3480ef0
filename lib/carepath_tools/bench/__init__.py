"""``make bench``: throughput, latency percentiles and peak memory, beside the raw broker ceiling.

One run measures, one phase at a time (never two heavy phases at once), each on a fresh embedded broker
unless ``KAFKA_BOOTSTRAP_SERVERS`` points at a cluster:

1. a deterministic synthetic workload of realistic clinical events (:mod:`carepath_tools.bench.workload`);
2. jsonschema-rs and jsonschema on the same events, in-process, and their agreement
   (:mod:`carepath_tools.bench.phase_validators`);
3. the raw broker ceiling with plain clients (:mod:`carepath_tools.bench.phase_raw`);
4. a naive one-event-per-iteration Faust stage (:mod:`carepath_tools.bench.phase_naive`);
5. one triage worker draining a backlog, and the triage core in-process
   (:mod:`carepath_tools.bench.phase_triage`);
6. intake, triage and followup as processes under sustained HTTP load
   (:mod:`carepath_tools.bench.phase_pipeline`);
7. escalation latency at a paced 1,000 events/s (:mod:`carepath_tools.bench.phase_latency`);
8. reminder lateness on a fast clock (:mod:`carepath_tools.bench.phase_reminders`);

then prints every figure beside the project's targets and writes them all to a JSON file. It is a
measurement, not a test: a missed target is reported as MISSED and the run still succeeds.

    python -m carepath_tools.bench            # the default run (a few minutes)
    python -m carepath_tools.bench --quick    # about a minute, smaller numbers
"""
