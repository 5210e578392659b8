"""What a k6 version supports (K6Features): the renderer, the runtimes and the flags perfctl
passes all follow it. Detecting the version is the binary's job (k6/binary.py detect_features)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class K6Features:
    """What the detected k6 version supports; rendering and flags follow it."""

    version: tuple[int, int, int]

    @property
    def websocket_module(self) -> str:
        # k6/websockets left experimental in 1.6; before that only the experimental path exists.
        return "k6/websockets" if self.version >= (1, 6, 0) else "k6/experimental/websockets"

    @property
    def text(self) -> str:
        return "v" + ".".join(map(str, self.version))

    @property
    def summary_off_args(self) -> list[str]:
        # --summary-mode exists since v1.0, but v1.1 knows only compact/full/legacy ("invalid
        # summary mode" for disabled, checked with the real binary); --no-summary works up to v2,
        # which removed it for --summary-mode=disabled (grafana/k6#5119).
        return ["--summary-mode=disabled"] if self.version >= (2, 0, 0) else ["--no-summary"]

    @property
    def live_control(self) -> bool:
        """`k6 pause` / `k6 resume` / `k6 scale` exist (removed in v2 with the externally-controlled executor)."""
        return self.version < (2, 0, 0)

    def missing(self, needs: dict[str, tuple[int, int, int]]) -> list[str]:
        """The needs (feature -> minimum version) this k6 lacks, as sentences."""
        return [
            f"{what} needs k6 >= v{'.'.join(map(str, minimum))}"
            for what, minimum in needs.items()
            if self.version < minimum
        ]
