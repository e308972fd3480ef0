"""Development tools: they read and write the repository, never run inside a service."""
