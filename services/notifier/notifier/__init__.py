"""notifier: delivers escalations and reminders to the hospital's paging, messaging and FHIR endpoints."""
