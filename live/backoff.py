"""How long a supervised process (the recorder's ffmpeg, a simulcast push) waits before it
runs again."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    """The wait before a supervised ffmpeg runs again: ``initial`` seconds, doubling up to
    ``most`` with each failure, and back to ``initial`` once a run had been up for ``most``
    seconds (a source that ran well and then dropped is retried soon)."""

    initial: float
    most: float
    delay: float = field(init=False)

    def __post_init__(self) -> None:
        self.delay = self.initial

    def after(self, up_for: float) -> float:
        """The wait after a run that was up for ``up_for`` seconds (0: never up)."""
        if up_for >= self.most:
            self.delay = self.initial
        return self.delay

    def grow(self) -> None:
        self.delay = min(self.delay * 2, self.most)
