"""Exceptions raised for bad input. Every message is one line that names the culprit."""

from __future__ import annotations


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
    """The zoo as a whole is unusable (missing folder, too few valid models...)."""


class ParameterError(ModelCentralityError, ValueError):
    """A parameter value is out of its valid range or of the wrong type.

    A ``ValueError`` too, so callers that catch ``ValueError`` keep working.
    """
