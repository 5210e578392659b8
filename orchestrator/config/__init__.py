"""perfctl.yaml, read and checked. One job per module, each importing only those above it here:

limits, durations, types   the ranges and value types k6 and Prometheus accept
source                     reading the file within limits (size, nesting, aliases, duplicate keys)
env                        `${VAR}` substitution, where it applies, and its messages; redact_url
base                       the models' base class and shared value types (Duration, Name, ...)
k6_terms                   k6's own vocabulary: executors, stages, thresholds, system tags
profiles                   named load shapes (the Profile model) -> executor options
scenario                   a scenario: requests, WebSocket flow, auth, data pools
objectives                 objectives and the gate's settings
prometheus_settings        `prometheus:` and the checks of what cannot work together
settings                   target, k6, Grafana, rollback, k8s
model                      Config (the whole file) and LoadedConfig
messages                   pydantic's errors as one plain line per field
load                       load_config / validate_data: the one way in
schema                     the JSON Schema (`perfctl schema`)
"""
