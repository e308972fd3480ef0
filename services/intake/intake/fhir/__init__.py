"""FHIR R4 input: resources and transaction/batch Bundles become carepath input events.

The resources are parsed and validated with the ``fhir.resources`` R4B models, read through the code
map (``codes.yaml``, extendable by a site) and handed to intake's use case like any other channel.
Problems come back as OperationOutcome issues whose ``expression`` names the failing element.
"""
