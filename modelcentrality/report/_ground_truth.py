"""Ground-truth scores of a zoo, read from a train-zoo manifest or an ``evaluate`` JSON."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from ..errors import ModelCentralityError, printable
from ..io import read_json

#: Ground-truth metrics read from either file: column name -> (manifest key, evaluate
#: key, result key).
METRICS = {
    "factorvae": ("factorvae_paper", "factorvae", "score"),
    "mig": ("mig", "mig", "discrete_mig"),
}


@dataclass
class GroundTruth:
    """Supervised scores of some models of a zoo.

    Attributes
    ----------
    scores : dict of str to dict of str to float
        Model name -> metric (``"factorvae"``, ``"mig"``) -> score. Models that a file
        lists without scores (e.g. still training) are absent.
    source : str
        The file they were read from.
    factorvae_protocol : str or None
        The FactorVAE protocol of the ``factorvae`` scores ("paper" for a train-zoo
        manifest; an ``evaluate`` file's setting), None when the file does not say.
    version : str or None
        Dataset and renderer the scores were computed on (e.g.
        ``"dsprites/procedural-v2"``); None for files written before it was recorded.
    """

    scores: dict[str, dict[str, float]]
    source: str = ""
    factorvae_protocol: str | None = None
    version: str | None = None

    def protocol_warning(self, ranking_protocol: str | None) -> str | None:
        """One line when the ground truth's FactorVAE protocol differs from the
        ranking's (their scores are then on different scales); None otherwise."""
        mine = self.factorvae_protocol
        if mine is None or ranking_protocol is None or mine == ranking_protocol:
            return None
        return (
            f"the ground truth's FactorVAE scores use the {mine} protocol, the ranking "
            f"the {ranking_protocol} protocol; compare with a ground truth of the same "
            f"protocol (evaluate --factorvae-protocol {ranking_protocol})"
        )

    def version_warning(self) -> str | None:
        """A one-line warning when the scores come from other images than the current
        procedural dataset (another renderer version, or no version recorded)."""
        from ..datasets import DatasetError, dataset_version

        if self.version is None:
            return (
                f"ground truth in {self.source} records no dataset version: it was "
                "scored on dSprites renderer v1 (before versions were recorded), so it does "
                "not match scores on the current images; rescore it"
            )
        try:
            current = dataset_version(self.version.partition("/")[0])
        except DatasetError:
            return None
        if self.version.endswith("/official-file") or self.version == current:
            return None
        return (
            f"ground truth in {self.source} was scored on {self.version}, the "
            f"current images are {current}: the scores are not comparable; rescore it"
        )

    def warnings(self, ranking_protocol: str | None) -> list[str]:
        """The protocol and dataset-version warnings that apply, one line each."""
        found = (self.protocol_warning(ranking_protocol), self.version_warning())
        return [warning for warning in found if warning]

    def compare(self, names: list[str], centrality: Any, metric: str = "factorvae") -> dict:
        """How a ranking agrees with the ground truth.

        Parameters
        ----------
        names : list of str, length N
        centrality : array-like of shape (N,)
            Higher is better (ModelCentrality, UDR...).
        metric : str

        Returns
        -------
        dict
            ``models`` (how many have a ground-truth score), ``kendall_tau`` (between
            the ranking's scores and the metric over those models; None below 2),
            ``pick`` / ``pick_score`` (the best-ranked model with a ground truth) and
            ``best`` / ``best_score`` (the best model by ground truth).
        """
        centrality = np.asarray(centrality, dtype=np.float64)
        # Only finite scores on both sides: a NaN must never be the pick or the best.
        known = [
            i
            for i, name in enumerate(names)
            if np.isfinite(self.scores.get(name, {}).get(metric, np.nan))
            and np.isfinite(centrality[i])
        ]
        if not known:
            return {"metric": metric, "models": 0}
        truth = np.array([self.scores[names[i]][metric] for i in known])
        ranked = centrality[known]
        pick = known[int(np.argmax(ranked))]
        best = known[int(np.argmax(truth))]
        tau = float(kendalltau(ranked, truth)[0]) if len(known) >= 2 else None
        return {
            "metric": metric,
            "models": len(known),
            "kendall_tau": None if tau is None or np.isnan(tau) else tau,
            "pick": names[pick],
            "pick_score": self.scores[names[pick]][metric],
            "best": names[best],
            "best_score": self.scores[names[best]][metric],
        }


def read_ground_truth(path: str | os.PathLike) -> GroundTruth:
    """Read ground-truth scores from a ``train-zoo`` manifest or an ``evaluate -o`` JSON.

    A manifest (``{"spec", "models": [...]}``) gives each finished model's
    ``scores``: FactorVAE (paper protocol) and MIG. An ``evaluate`` file
    (``{"results": {name: {metric: {...}}}}``) gives the metrics it computed. Models
    without scores (older manifests listed pending models among the finished ones) are
    left out, and so are scores that are not finite numbers (NaN, Infinity), so that
    such a model can never be named the best.

    Raises
    ------
    ModelCentralityError
        One line naming the file, when it cannot be read or holds neither form.
    """
    path = Path(path)
    # A score that is NaN, infinite or beyond float64 is no ground truth: missing.
    payload = read_json(path, what="ground truth", non_finite="null")
    scores: dict[str, dict[str, float]] = {}
    protocol = None
    if isinstance(payload, dict) and isinstance(payload.get("models"), list):
        # train-zoo scores FactorVAE under the paper protocol only (factorvae_paper).
        protocol = "paper"
        for entry in payload["models"]:
            # Entries without a name or scores are not ground truth (e.g. hand-edited).
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            found = _pick(entry.get("scores"), 0)
            if found:
                scores[str(entry["name"])] = found
    elif isinstance(payload, dict) and isinstance(payload.get("results"), dict):
        settings = payload.get("settings")
        factorvae = settings.get("factorvae") if isinstance(settings, dict) else None
        if isinstance(factorvae, dict) and isinstance(factorvae.get("protocol"), str):
            protocol = factorvae["protocol"]
        for name, entry in payload["results"].items():
            found = _pick(entry if isinstance(entry, dict) else {}, 1)
            if found:
                scores[str(name)] = found
    else:
        raise ModelCentralityError(
            printable(f"{path} is neither a train-zoo manifest nor an `evaluate -o` result")
        )
    if not scores:
        raise ModelCentralityError(
            printable(f"{path} holds no ground-truth scores (FactorVAE or MIG)")
        )
    return GroundTruth(scores, str(path), protocol, _version(payload, path))


def _version(payload: dict, path: Path) -> str | None:
    """The one ground-truth version of a file; an error when its entries mix versions."""
    if isinstance(payload.get("results"), dict):
        version = payload.get("ground_truth_version")
        return version if isinstance(version, str) else None
    versions = {
        entry.get("ground_truth_version")
        for entry in payload["models"]
        if isinstance(entry, dict) and entry.get("scores")
    }
    if len(versions) > 1:
        names = ", ".join(sorted(str(v) for v in versions))
        raise ModelCentralityError(
            printable(
                f"{path} mixes ground truth of different dataset versions ({names}); rescore it"
            )
        )
    version = versions.pop() if versions else None
    return version if isinstance(version, str) else None


def _pick(entry: object, which: int) -> dict[str, float]:
    found: dict[str, float] = {}
    if not isinstance(entry, dict):
        return found
    for metric, keys in METRICS.items():
        scores = entry.get(keys[which])
        value = scores.get(keys[2]) if isinstance(scores, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if np.isfinite(float(value)):
                found[metric] = float(value)
    return found
