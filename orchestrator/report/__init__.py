"""A verdict written for people and machines: terminal, Markdown, JSON, JUnit, HTML."""
