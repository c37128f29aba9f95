"""Progress on stderr (no dependency): a redrawn bar on a terminal, plain lines in a log.

Every enabled bar also prints one *estimate* line, from a timing probe that is part of
the real work: once ``probe`` seconds of it have run, the rate so far is extrapolated
to the planned total. A bar that finishes sooner prints none (the work was short).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: Seconds between two plain progress lines when stderr is not a terminal.
LINE_INTERVAL = 15.0

#: Seconds of work timed before a bar prints its estimate of the whole.
PROBE_SECONDS = 5.0


class ProgressBar:
    """Counts units of work and reports them on stderr.

    On a terminal one line is redrawn at most every ``interval`` s. Elsewhere (a log
    file, a pipe, a notebook) an enabled bar writes a plain line with done/total, the
    rate, the elapsed time and an ETA at most every ``line_interval`` s, and a last
    line when it closes if it wrote any, so runs shorter than ``line_interval`` stay
    silent. Either way, once ``probe`` seconds of work have run, one line states the
    estimated time of the whole (the rate so far, extrapolated); a bar that printed it
    ends with a line of the actual time.

    Parameters
    ----------
    total : int
        Units expected (e.g. observations to encode).
    label : str
        Names the work; unique per round of a multi-round job.
    enabled : bool or None
        None: report only when stderr is a terminal; True: also as plain lines
        elsewhere; False: never.
    stream : text stream, optional
        Default: ``sys.stderr``.
    interval : float
        Seconds between redraws on a terminal.
    line_interval : float
        Seconds between plain lines.
    unit : str
        Name of a unit in rates and estimates (e.g. "encoder passes").
    probe : float
        Seconds of work timed before the estimate line; 0: no estimate.

    Attributes
    ----------
    estimate : float or None
        The estimated seconds of the whole, once printed.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float = 0.5,
        line_interval: float = LINE_INTERVAL,
        unit: str = "",
        probe: float = PROBE_SECONDS,
    ) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        tty = _isatty(self.stream)
        self.enabled = tty if enabled is None else bool(enabled)
        self.plain = self.enabled and not tty
        self.interval = line_interval if self.plain else interval
        self.unit = unit
        self.probe = float(probe)
        self.estimate: float | None = None
        self.done = 0
        self.postfix = ""
        self._start = time.monotonic()
        self._last = self._start if self.plain else 0.0
        self._lines = 0
        self._shown = -1
        self._drawn = False
        self._first: tuple[float, int] | None = None

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.done += n
        if postfix is not None:
            self.postfix = postfix
        if not self.enabled:
            return
        now = time.monotonic()
        if self._first is None and self.done > 0:
            self._first = (now, self.done)
        elif (
            self.estimate is None
            and self.probe > 0
            and now - self._start >= self.probe
            and self.done < self.total
        ):
            self._estimate(now)
        due = now - self._last >= self.interval
        if due or (not self.plain and self.done >= self.total):
            self._last = now
            self._draw(now)

    def estimate_now(
        self, done: int | None = None, since: tuple[float, int] | None = None
    ) -> None:
        """Print the estimate, if not printed yet: for a probe that ends at a natural
        point, e.g. the first of several similar items.

        Parameters
        ----------
        done : int, optional
            The units finished by now, when the caller knows them before the bar has
            counted them.
        since : (float, int), optional
            ``(time.monotonic(), done)`` where the probe began; the rate from there to
            now is extrapolated. Default: the rate of all the work so far, one-time
            costs included.
        """
        now = time.monotonic()
        done = self.done if done is None else int(done)
        if self.enabled and self.estimate is None and 0 < done < self.total:
            self._estimate(now, whole=since is None, done=done, since=since)

    def note(self, text: str) -> None:
        """Print one line (e.g. the planned work) if the bar is enabled."""
        if self.enabled:
            self._line(f"{self.label}: {text}")

    def _units(self, count: float) -> str:
        return f"{count:,.0f} {self.unit}".rstrip()

    def _rate(self, elapsed: float) -> str:
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        digits = 0 if rate >= 10 else 2
        return f"{rate:,.{digits}f} {self.unit}/s".replace(" /s", "/s")

    def _estimate(
        self,
        now: float,
        whole: bool = False,
        done: int | None = None,
        since: tuple[float, int] | None = None,
    ) -> None:
        elapsed = now - self._start
        done = self.done if done is None else done
        first_time, first_done = since or self._first or (self._start, 0)
        if not whole and done > first_done and now > first_time:
            # The rate after the first update leaves out one-time costs (compilation,
            # warm-up) that the first unit of work carries; they stay in the elapsed time.
            rate = (done - first_done) / (now - first_time)
        else:
            rate = done / elapsed
        self.estimate = elapsed + (self.total - done) / rate
        self._line(
            f"{self.label}: estimated {_clock(self.estimate)} ({self.estimate:.1f} s) in all for "
            f"{self._units(self.total)} (probe: the first {self._units(done)} took "
            f"{elapsed:.1f} s)"
        )

    def _line(self, text: str) -> None:
        # On a terminal, a full line goes above the redrawn bar.
        if not self.plain and self._drawn:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text[:300] + "\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        fraction = min(self.done / self.total, 1.0)
        elapsed = now - self._start
        eta = elapsed / fraction - elapsed if fraction > 0 else float("nan")
        if self.plain:
            self._lines += 1
            self._shown = self.done
            text = (
                f"{self.label}: {self.done}/{self.total} ({100 * fraction:.0f}%), "
                f"{self._rate(elapsed)}, {_clock(elapsed)} elapsed, ETA {_clock(eta)} "
                f"{self.postfix}"
            )
            self.stream.write(text[:200].rstrip() + "\n")
        else:
            bar = "#" * int(30 * fraction)
            text = (
                f"\r{self.label} [{bar:<30}] {100 * fraction:5.1f}% {self._rate(elapsed)} "
                f"{_clock(elapsed)} elapsed, {_clock(eta)} left {self.postfix}"
            )
            self.stream.write(text[:200])
            self._drawn = True
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.plain:
            if self._lines and self._shown != self.done:
                self._draw(now)
        else:
            self._draw(now)
            self.stream.write("\n")
            self._drawn = False
        if self.estimate is not None:
            elapsed = now - self._start
            self._line(
                f"{self.label}: took {_clock(elapsed)} ({elapsed:.1f} s) for "
                f"{self._units(self.done)} (estimated {self.estimate:.1f} s)"
            )
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
