"""Fuzzing of intake's three ways in (JSON events and FHIR over HTTP, HL7 v2 over MLLP) on a real intake
process and a real embedded broker: ``python -m carepath_tools.fuzz`` (``make fuzz``). See
:mod:`carepath_tools.fuzz.harness` for what is checked."""
