"""Perfctl.yaml, read and checked: types, sources, limits, ${VAR}, profiles."""
