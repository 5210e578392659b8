"""Peak memory of a process tree: the sum of RSS over a process and all its descendants, sampled
from /proc while it runs. wait4's ru_maxrss gives only the largest single process, and a tool that
runs k6 (perfctl, Taurus) costs the sum of itself and k6."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Mapping

from bench.measure import rss_kb


def descendants(children: Mapping[int, list[int]], root: int) -> list[int]:
    """`root` and every process below it in a parent -> children map."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(children.get(pid, ()))
    return seen


def children_map() -> dict[int, list[int]]:
    """parent pid -> child pids, for every process now (from /proc/<pid>/stat)."""
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def tree_rss_kb(root: int) -> int:
    return sum(rss_kb(pid) or 0 for pid in descendants(children_map(), root))


class TreeRssWatch:
    """Samples a tree's total RSS every `interval` seconds in a thread; `peak_kb` is the largest."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, root: int) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self.peak_kb = max(self.peak_kb, tree_rss_kb(root))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak_kb
