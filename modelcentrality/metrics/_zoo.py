"""Supervised metrics of every model of a zoo, with the skip-bad policy of the toolkit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..contract._model import Model
from ..contract._screening import filter_by_shape, skip_reason
from ..datasets.base import GroundTruthDataset
from ..errors import ModelCentralityError, ZooError
from ..io._files import write_json
from . import evaluate


@dataclass
class ZooEvaluation:
    """Supervised scores of a zoo.

    Attributes
    ----------
    results : dict of str to dict
        Model name -> metric name -> that metric's result dict.
    skipped : dict of str to str
        Models left out (name -> reason).
    settings : dict
        Dataset, its ``ground_truth_version`` (dataset and renderer), seed, samples
        scale, metrics and their settings, for the JSON.
    """

    results: dict[str, dict[str, dict[str, float]]]
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the ``evaluate`` command's output file)."""
        return {
            "version": __version__,
            **self.settings,
            "results": self.results,
            "skipped": dict(self.skipped),
        }

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(path, self.to_dict())


def evaluate_zoo(
    models: Sequence[Model],
    dataset: GroundTruthDataset,
    metrics: Sequence[str],
    random_state: int = 0,
    *,
    settings: Mapping[str, Mapping[str, Any]],
    skip_bad: bool = False,
    on_model: Callable[[int, int, str, float | None], None] | None = None,
    record: Mapping[str, Any] | None = None,
) -> ZooEvaluation:
    """Score every model's encoder with supervised metrics on a dataset.

    Parameters
    ----------
    models : sequence of Model
    dataset : GroundTruthDataset
    metrics : sequence of str
        Metric names (see :data:`METRICS`).
    random_state : int
    settings : mapping
        Resolved metric settings (:func:`metric_settings`).
    skip_bad : bool
        Leave out models whose shape does not match the dataset or whose encoder fails.
    on_model : callable, optional
        Progress: called ``(position, total, name, seconds or None)`` before (None) and
        after each model.
    record : mapping, optional
        Extra settings for the JSON (e.g. the dataset spec).

    Returns
    -------
    ZooEvaluation
    """
    usable, skipped = filter_by_shape(
        models, dataset.observation_shape, f"dataset '{dataset.name}'", skip_bad=skip_bad
    )
    results = {}
    for position, model in enumerate(usable, start=1):
        if on_model is not None:
            on_model(position, len(usable), model.name, None)
        start = time.perf_counter()
        try:
            results[model.name] = evaluate(
                model.encode, dataset, metrics, random_state, settings=settings
            )
        except ModelCentralityError as exc:
            if not skip_bad:
                raise
            skipped.update([skip_reason(exc, model.name)])
            continue
        if on_model is not None:
            on_model(position, len(usable), model.name, time.perf_counter() - start)
    if not results:
        raise ZooError("no usable model to evaluate")
    return ZooEvaluation(
        results,
        skipped,
        {
            **dict(record or {}),
            "ground_truth_version": dataset.ground_truth_version,
            "seed": random_state,
            "metrics": list(metrics),
            "settings": {name: dict(values) for name, values in settings.items()},
        },
    )
