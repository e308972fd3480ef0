"""HL7 v2 over MLLP into carepath: parse a message, map it by code to carepath input events, answer an ACK.

The modules, in the order a message meets them:

- ``framing``   reading MLLP frames with a size limit
- ``message``   decoding, segment separators normalised, python-hl7 parsing, typed field access
- ``times``     HL7 timestamps (with or without an offset) to instants
- ``codes``     the code mapping (``codes.yaml`` plus a site's own file), validated at start-up
- ``mapping``   which mappers a message type goes through; event ids and envelopes
- ``observations``, ``diagnoses``, ``medications``: the mappers, one per kind of content
- ``radiology`` findings read from free-text reports (rules in ``radiology.yaml``)
- ``ack``       the ACK message
- ``handler``   one message in, one ACK out: map, hand to :class:`intake.service.Intake`, answer
- ``server``    the MLLP listener
"""
