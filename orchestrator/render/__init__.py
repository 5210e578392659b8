"""Perfctl.yaml scenarios -> k6 JavaScript (Jinja2; values enter as JSON)."""
