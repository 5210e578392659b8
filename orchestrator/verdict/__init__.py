"""Objectives -> values from Prometheus -> grades -> the verdict; baselines and guards."""
