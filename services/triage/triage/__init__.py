"""triage: per-patient clinical state and the red-flag rules."""
