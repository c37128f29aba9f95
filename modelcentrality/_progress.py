"""A minimal progress bar on stderr (no dependency; silent when stderr is not a terminal
unless forced)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Counts units of work and redraws one stderr line at most every ``interval`` s.

    Parameters
    ----------
    total : int
        Units expected (e.g. observations to encode).
    label : str
    enabled : bool or None
        None: draw only when stderr is a terminal.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float = 0.5,
    ) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.interval = interval
        self.done = 0
        self.postfix = ""
        self._start = time.monotonic()
        self._last = 0.0

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.done += n
        if postfix is not None:
            self.postfix = postfix
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.interval or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = min(self.done / self.total, 1.0)
        elapsed = now - self._start
        eta = elapsed / fraction - elapsed if fraction > 0 else float("nan")
        bar = "#" * int(30 * fraction)
        text = (
            f"\r{self.label} [{bar:<30}] {100 * fraction:5.1f}% "
            f"{_clock(elapsed)} elapsed, {_clock(eta)} left {self.postfix}"
        )
        self.stream.write(text[:200])
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _clock(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
