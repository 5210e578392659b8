"""Which parts of the script template a scenario needs.

k6 runs a script's init context once per VU, so every function, regex, import and object the
template defines at top level is built again in each of them: 1,000 VUs pay for it 1,000 times
(bench/, memory per VU). The template therefore emits only the sections the plan uses. These
flags decide code shape only; config values still enter the script as PLAN's JSON data.
"""

from __future__ import annotations


def script_features(plan: dict) -> dict[str, bool]:
    """Template flags from a rendered plan (orchestrator/render/plan.py's `build_plan`)."""
    parts = list(plan["parts"].values())
    uses_http = any(part["protocol"] == "http" for part in parts)
    uses_auth = any(part["auth"] is not None for part in parts)
    shared_login = any(part["auth"] is not None and part["auth"]["mode"] == "shared" for part in parts)
    unique_rows = any(pool["order"] == "unique" for part in parts for pool in part["data"].values())
    return {
        "uses_http": uses_http,
        "uses_auth": uses_auth,
        # HTTP requests are sent by HTTP parts and by logins (a WebSocket part may log in).
        "uses_requests": uses_http or uses_auth,
        # k6/execution: `order: unique` rows (iterationInTest) and aborting a failed shared login.
        "uses_exec": shared_login or unique_rows,
    }
