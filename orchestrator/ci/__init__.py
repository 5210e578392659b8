"""CI pipeline files that `perfctl ci init` writes."""
