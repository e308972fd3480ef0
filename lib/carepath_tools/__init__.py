"""carepath's development and measurement tooling, beside the runtime library :mod:`carepath`.

The embedded broker (:mod:`carepath_tools.broker`), a whole stack on one machine
(:mod:`carepath_tools.devstack`, :mod:`carepath_tools.processes`), ``make run``'s demo
(:mod:`carepath_tools.demo`), ``make bench`` (:mod:`carepath_tools.bench`), ``make chaos``
(:mod:`carepath_tools.chaos`) and ``make fuzz`` (:mod:`carepath_tools.fuzz`). It starts services as a
deployment does (``python -m intake`` and so on) and uses :mod:`carepath`; no service imports it, and
nothing in :mod:`carepath` does (tests/contract/test_runtime_package.py).
"""
