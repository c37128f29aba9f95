"""Exceptions raised for bad input. Every message is one line that names the culprit."""

from __future__ import annotations

import re

# C0/C1 control characters (newlines, ANSI escapes...) and Unicode line separators.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` on one line, with control characters shown as escapes (``\\n``, ``\\x1b``).

    Model names and file names come from the zoo: printed raw, a newline would split an
    error into two lines and an ANSI escape would repaint the terminal.
    """
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


class ModelCentralityError(Exception):
    """Base class: an error the CLI reports as one line, without a traceback."""


class ModelError(ModelCentralityError):
    """A single model (its files, metadata or outputs) is unusable.

    Attributes
    ----------
    model : str
        Name of the offending model (its folder name for a zoo on disk).
    problem : str
        What is wrong, without the model name.
    """

    def __init__(self, model: str, problem: str) -> None:
        self.model = model
        self.problem = problem
        super().__init__(f"model '{model}': {problem}")

    def __reduce__(self):
        # Rebuild from both arguments, so the error survives pickling (e.g. from a Ray worker).
        return (type(self), (self.model, self.problem))


class ZooError(ModelCentralityError):
    """The zoo as a whole is unusable (missing folder, too few valid models...).

    Attributes
    ----------
    summary : str
        The problem, without the skip reasons.
    skipped : dict of str to str
        Model name -> why it was left out, when that is why too few models remain; the
        message lists them after the summary.
    """

    def __init__(self, summary: str, skipped: dict[str, str] | None = None) -> None:
        self.summary = summary
        self.skipped = dict(skipped or {})
        reasons = "".join(f"; skipped '{name}': {why}" for name, why in self.skipped.items())
        super().__init__(summary + reasons)

    def __reduce__(self):
        return (type(self), (self.summary, self.skipped))


class ParameterError(ModelCentralityError, ValueError):
    """A parameter value is out of its valid range or of the wrong type.

    A ``ValueError`` too, so callers that catch ``ValueError`` keep working.
    """
