"""The run folders: records, atomic writes, locks, pins."""
