"""intake: the front door. Parse, validate, publish durably, then answer."""
