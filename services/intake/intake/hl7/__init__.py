"""HL7 v2 over MLLP into carepath: parse a message, map it by code to carepath input events, answer an ACK.

The modules, in the order a message meets them:

- ``framing``   reading MLLP frames: exactly one start block, a size limit, idle and frame timeouts
- ``message``   decoding (MSH-18 binding), one message per frame, separators normalised, typed field access
- ``times``     HL7 timestamps (with or without an offset) to instants
- ``codes``     the code mapping (``codes.yaml`` plus a site's own file), validated at start-up
- ``mapping``   which mappers a message type goes through; event ids and envelopes
- ``observations``, ``diagnoses``, ``medications``: the mappers, one per kind of content
- ``radiology`` findings read from free-text reports (rules in ``radiology.yaml``)
- ``ack``       the ACK message
- ``handler``   one message in, one ACK out: map, check every event names the message's own patient, hand
  to :class:`intake.service.Intake`, answer
- ``logsafe``   what of a message may be logged (control id, message type, codes), checked and bounded
- ``server``    the MLLP listener, with a connection cap
- ``__main__``  ``python -m intake.hl7``: the listener in a process of its own
"""
