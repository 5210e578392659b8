"""`python -X importtime` output -> the imports that cost the most. Pure parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S.*)$")


@dataclass(frozen=True)
class ImportEntry:
    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0: imported by the program itself


def parse(stderr: str) -> list[ImportEntry]:
    entries = []
    for line in stderr.splitlines():
        match = LINE.match(line)
        if match:
            # One leading space, then two per nesting level.
            depth = max(0, (len(match.group(3)) - 1) // 2)
            entries.append(ImportEntry(match.group(4).strip(), int(match.group(1)), int(match.group(2)), depth))
    return entries


def top_level(entries: list[ImportEntry], count: int = 10) -> list[ImportEntry]:
    """The program's own imports, costliest (cumulative) first."""
    return sorted((e for e in entries if e.depth == 0), key=lambda e: e.cumulative_us, reverse=True)[:count]


def top_self(entries: list[ImportEntry], count: int = 10) -> list[ImportEntry]:
    return sorted(entries, key=lambda e: e.self_us, reverse=True)[:count]


def total_us(entries: list[ImportEntry]) -> int:
    return sum(e.cumulative_us for e in entries if e.depth == 0)
