"""A results folder with many synthetic runs shaped like perfctl's own (run.json, verdict.json)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

OBJECTIVES = [("error_ratio", 0.001, "< 0.01"), ("http_p95_seconds", 0.12, "< 0.25"), ("checks", 1.0, ">= 0.99"),
              ("backend_loop_hz_min", 99.0, ">= 95"), ("kafka_lag_max", 12.0, "< 500"), ("ws_reply_success", 1.0, ">= 0.99")]
SCENARIOS = ("demo", "chat-http", "websocket", "health")


def run_ids(count: int, *, start: datetime | None = None) -> list[str]:
    """Ids in perfctl's format (UTC start time first), one run every 10 minutes."""
    start = start or datetime(2025, 1, 1, tzinfo=timezone.utc)
    return [f"{(start + timedelta(minutes=10 * i)).strftime('%Y%m%d-%H%M%S')}-{SCENARIOS[i % 4]}-{i % 65536:04x}"
            for i in range(count)]


def write_ledger(root: Path, count: int, *, seed: int = 8) -> list[str]:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    ids = run_ids(count)
    for index, run_id in enumerate(ids):
        start = datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc).timestamp()
        end = start + 20 + rng.random()
        result = "pass" if rng.random() < 0.8 else rng.choice(["fail", "warning", "inconclusive"])
        objectives = [
            {"name": name, "query": f"q_{name}", "value": round(typical * (0.8 + 0.4 * rng.random()), 6),
             "criterion": criterion, "warning": None, "weight": 1.0, "key": name in ("error_ratio", "backend_loop_hz_min"),
             "result": "pass", "score": 1.0, "baseline": None, "reason": ""}
            for name, typical, criterion in OBJECTIVES
        ]
        verdict = {
            "schema": "perfctl.verdict/v1", "run_id": run_id, "scenario": SCENARIOS[index % 4], "result": result,
            "score": 6.0, "max_score": 6.0, "percent": 100.0 if result == "pass" else 66.7,
            "window": {"start": start, "end": end, "seconds": round(end - start, 2)}, "reasons": [],
            "objectives": objectives,
            "summary": {"requests": 1500 + rng.randint(0, 500), "request_rate": 80.0, "failed_ratio": 0.0,
                        "p95_ms": round(100 + 50 * rng.random(), 2), "p99_ms": 180.0},
        }
        record = {
            "schema": "perfctl.run/v1", "id": run_id, "scenario": SCENARIOS[index % 4], "status": "finished",
            "created": run_id, "perfctl_version": "0.1.0", "k6_version": "v1.1.0", "runtime": "local",
            "start": start, "end": end, "k6_exit_code": 0, "final_status": "finished", "result": result,
            "score": verdict["percent"], "exit_code": 0 if result in ("pass", "warning") else 99,
        }
        run_dir = root / run_id
        run_dir.mkdir(exist_ok=True)
        (run_dir / "run.json").write_text(json.dumps(record, indent=2))
        (run_dir / "verdict.json").write_text(json.dumps(verdict, indent=2))
    return ids
