"""followup: durable expectations with deadlines, reminders and the acknowledgement chain."""
