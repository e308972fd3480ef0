"""carepath platform library: contracts, topic catalogue, broker profile and process plumbing.

Clinical logic does not live here: it lives in the triage and followup cores and in ``pathways/``.
"""
