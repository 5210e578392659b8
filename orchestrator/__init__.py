"""perfctl: describe load tests once, run them with real k6, gate on Prometheus."""

__version__ = "0.1.0"
