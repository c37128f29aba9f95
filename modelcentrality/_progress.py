"""Progress on stderr (no dependency): a redrawn bar on a terminal, plain lines in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: Seconds between two plain progress lines when stderr is not a terminal.
LINE_INTERVAL = 15.0


class ProgressBar:
    """Counts units of work and reports them on stderr.

    On a terminal one line is redrawn at most every ``interval`` s. Elsewhere (a log
    file, a pipe, a notebook) an enabled bar writes a plain line with done/total, the
    elapsed time and an ETA at most every ``line_interval`` s, and a last line when it
    closes if it wrote any, so runs shorter than ``line_interval`` stay silent.

    Parameters
    ----------
    total : int
        Units expected (e.g. observations to encode).
    label : str
    enabled : bool or None
        None: report only when stderr is a terminal; True: also as plain lines
        elsewhere; False: never.
    stream : text stream, optional
        Default: ``sys.stderr``.
    interval : float
        Seconds between redraws on a terminal.
    line_interval : float
        Seconds between plain lines.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float = 0.5,
        line_interval: float = LINE_INTERVAL,
    ) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        tty = _isatty(self.stream)
        self.enabled = tty if enabled is None else bool(enabled)
        self.plain = self.enabled and not tty
        self.interval = line_interval if self.plain else interval
        self.done = 0
        self.postfix = ""
        self._start = time.monotonic()
        self._last = self._start if self.plain else 0.0
        self._lines = 0
        self._shown = -1

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.done += n
        if postfix is not None:
            self.postfix = postfix
        if not self.enabled:
            return
        now = time.monotonic()
        due = now - self._last >= self.interval
        if due or (not self.plain and self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = min(self.done / self.total, 1.0)
        elapsed = now - self._start
        eta = elapsed / fraction - elapsed if fraction > 0 else float("nan")
        if self.plain:
            self._lines += 1
            self._shown = self.done
            text = (
                f"{self.label}: {self.done}/{self.total} ({100 * fraction:.0f}%), "
                f"{_clock(elapsed)} elapsed, ETA {_clock(eta)} {self.postfix}"
            )
            self.stream.write(text[:200].rstrip() + "\n")
        else:
            bar = "#" * int(30 * fraction)
            text = (
                f"\r{self.label} [{bar:<30}] {100 * fraction:5.1f}% "
                f"{_clock(elapsed)} elapsed, {_clock(eta)} left {self.postfix}"
            )
            self.stream.write(text[:200])
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self.plain:
            if self._lines and self._shown != self.done:
                self._draw(time.monotonic())
            return
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
