"""The worklist page: open escalations and pending expectations for clinicians, live, with acknowledgement."""
