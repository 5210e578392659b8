"""Prometheus and Grafana: the client, the local and docker stacks, readiness."""
