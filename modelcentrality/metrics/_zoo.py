"""Supervised metrics of every model of a zoo, with the skip-bad policy of the toolkit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .._progress import ProgressBar
from .._version import __version__
from ..contract import Model, call_or_skip, filter_by_shape
from ..datasets.base import GroundTruthDataset
from ..errors import ZooError
from ..io import write_json
from ._evaluate import evaluate


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
        Dataset, its ``ground_truth_version`` (dataset and renderer), seed, sample
        multiplier (``samples_scale`` in the file), metrics and their settings, for the
        JSON.
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


def _counted(
    encode: Callable[[Any], Any], bar: ProgressBar, prefix: str, planned: Mapping[str, int]
) -> Callable[[Any], Any]:
    """``encode``, advancing ``bar`` by the observations of every call and naming the
    metric being computed (metrics run in ``planned``'s order, each encoding its plan)."""
    ends = dict(zip(planned, np.cumsum(list(planned.values()))))
    seen = 0

    def counted(observations: Any) -> Any:
        nonlocal seen
        codes = encode(observations)
        seen += len(observations)
        metric = next((name for name, end in ends.items() if seen <= end), "")
        bar.update(len(observations), f"{prefix}: {metric}")
        return codes

    return counted


def planned_observations(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Observations each metric encodes per model under resolved ``settings``."""
    counts = {}
    for name, values in settings.items():
        if name == "factorvae":
            votes = values["votes"] + values["eval_votes"]
            counts[name] = votes * values["group_size"] + values["scale_samples"]
        elif name == "betavae":
            # Each training point is batch_size pairs of observations.
            counts[name] = 2 * values["batch_size"] * (values["n_train"] + values["n_eval"])
        else:
            counts[name] = values["n_train"] + values.get("n_test", 0)
    return counts


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
    progress: bool | None = False,
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
    progress : bool or None
        Observations encoded so far, over the whole zoo, on stderr (None: only on a
        terminal; True: also plain lines with count, rate and ETA in a log), naming the
        model and metric being computed. After the first model, its time extrapolated
        to the zoo is printed as the estimate (models of a zoo cost about the same;
        the classifier fits of some metrics are not encoder work, so the first model is
        the probe, not the first seconds).

    Returns
    -------
    ZooEvaluation
    """
    usable, skipped = filter_by_shape(
        models, dataset.observation_shape, f"dataset '{dataset.name}'", skip_bad=skip_bad
    )
    results = {}
    counts = planned_observations(settings)
    planned = {name: counts[name] for name in metrics}
    per_model = sum(planned.values())
    bar = ProgressBar(
        per_model * len(usable), "evaluate", enabled=progress, unit="observations", probe=0
    )
    bar.note(
        f"{len(usable)} models x {per_model:,} observations ("
        + ", ".join(f"{name} {planned[name]:,}" for name in metrics)
        + ") plus the metrics' classifier fits"
    )
    with bar:
        for position, model in enumerate(usable, start=1):
            if on_model is not None:
                on_model(position, len(usable), model.name, None)
            start = time.perf_counter()
            before = bar.done
            counted = _counted(model.encode, bar, f"{position}/{len(usable)} {model.name}", planned)
            try:
                run = partial(evaluate, counted, dataset, metrics, random_state, settings=settings)
                scores = call_or_skip(run, model.name, skipped, skip_bad)
            finally:
                # A model's count is its plan, whatever it encoded before finishing or failing.
                bar.update(before + per_model - bar.done)
            if scores is None:
                continue
            results[model.name] = scores
            if len(results) == 1:  # the first evaluated model is the probe
                bar.estimate_now()
            if on_model is not None:
                on_model(position, len(usable), model.name, time.perf_counter() - start)
    if not results:
        raise ZooError("no usable model to evaluate", skipped)
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
