"""The audit log: who did what to which record, for security and compliance."""
