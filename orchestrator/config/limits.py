"""The ranges perfctl accepts, one definition read by the config models, the config loader
and the CLI's options, so a value k6 or Prometheus would refuse (or choke on) is refused
first, with the field or flag named.

Each bound is far beyond any real test and well inside what k6 (Go int64 durations, JSON
numbers read by JavaScript) and Prometheus take.
"""

from __future__ import annotations

# perfctl.yaml itself. The largest shipped example is ~6 KiB; 1 MiB leaves room for inline
# data pools, and keeps a wrong `-c` (/dev/zero, a log file) from filling memory.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_TEXT = "1 MiB"
# A data pool file (CSV/JSON, read whole to count its rows) and a --script: far beyond real
# ones, and a wrong path (/dev/zero) cannot fill memory.
MAX_DATA_FILE_BYTES = 256 * 1024 * 1024
MAX_DATA_FILE_TEXT = "256 MiB"
# YAML nodes after every alias is expanded: what the loaded config really holds. A few
# hundred in real configs; an alias "bomb" of 453 bytes reaches 10**7.
MAX_YAML_NODES = 100_000
# Mappings and lists inside each other: the config's own tree is ~7 deep; request bodies add theirs.
MAX_NESTING = 64

# k6 itself: one k6 process runs tens of thousands of VUs; 10**6 is a big distributed test.
MAX_VUS = 1_000_000
# Iterations, arrival rates and other counts: whole numbers JavaScript holds exactly.
MAX_COUNT = 10**12
# Every duration: finite, and at most a year (Go's time.Duration ends at ~292 years; the
# longest soak test is days).
MAX_DURATION_SECONDS = 365 * 24 * 3600.0
MAX_DURATION_TEXT = "8760h (365 days)"
# --instances: local k6 processes; each gets the segment sequence of all of them on its
# command line, which the kernel caps (E2BIG at ~15,000).
MAX_INSTANCES = 256
# k8s.parallelism and --instances with --runtime k8s: k6-operator runner pods.
MAX_K8S_RUNNERS = 1000
MAX_PORT = 65535
