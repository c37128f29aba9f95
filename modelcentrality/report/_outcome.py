"""What follows a ranking: notes on how it ended, UDR and ground truth beside it, and
its HTML report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import Model
from ..errors import ModelCentralityError
from ._ground_truth import GroundTruth
from ._html import budget_text, certainty_banner, protocol_name, write_report


def ranking_notes(result: Any, *, budget: bool = True) -> list[str]:
    """One-line notes on a finished ranking (a RankResult or its JSON dict): the
    search's stop reason (and a warning when its target was not reached), the budget
    spent (if ``budget``), and a warning naming the contenders when the leader is
    uncertain."""
    data = _data(result)
    notes = []
    search = data.get("search") or {}
    if search.get("name", "full") != "full" and search.get("stop_reason"):
        notes.append(f"search stopped: {search['stop_reason']}")
        if not search.get("target_reached", True):
            notes.append("warning: the search's target was not reached")
    if budget:
        notes.append(f"budget: {budget_text(data)}")
    banner = certainty_banner(data)
    if banner:
        notes.append(f"warning: {banner}")
    return notes


@dataclass
class RankingReport:
    """A ranking compared with UDR and ground truth, and where its page went.

    Attributes
    ----------
    udr : UDRResult or None
        UDR (Lasso) of the ranked models on dSprites observations, when asked and
        possible.
    ground_truth : dict or None
        :meth:`GroundTruth.compare` of the centralities with the ground truth's
        FactorVAE scores, when a ground truth was given.
    lines : list of str
        The comparisons as one line each (UDR's ranking, Kendall tau and the pick).
    warnings : list of str
        Why UDR is missing, and where the ground truth does not match the ranking
        (another FactorVAE protocol or dataset version).
    path : Path or None
        The report's ``index.html``, when one was written.
    """

    udr: Any = None
    ground_truth: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None


def report_ranking(
    result: Any,
    models: Sequence[Model],
    *,
    report_dir: str | os.PathLike | None = None,
    ground_truth: GroundTruth | None = None,
    udr: bool = False,
    udr_samples: int = 500,
    random_state: int = 0,
    progress: bool | None = True,
) -> RankingReport:
    """Compare a ranking with UDR and ground truth, and write its HTML report.

    Parameters
    ----------
    result : RankResult or dict
        The ranking (or its JSON form).
    models : sequence of Model
        The zoo's models; those in the ranking are scored by UDR and traversed in the
        report.
    report_dir : path-like, optional
        Write the report (``index.html``) into this folder.
    ground_truth : GroundTruth, optional
        Supervised scores to compare the centralities with.
    udr : bool
        Also score the ranked models by UDR (Lasso) on ``udr_samples`` dSprites
        observations. The ranking stands without it: a zoo that cannot encode dSprites
        images gets a warning, not an error.
    udr_samples : int
    random_state : int
        Seed of the UDR observations and fits.
    progress : bool or None
        UDR's progress on stderr (see :func:`~modelcentrality.baselines.udr_for_models`).

    Returns
    -------
    RankingReport
    """
    data = _data(result)
    outcome = RankingReport()
    if udr:
        _add_udr(outcome, models, data["names"], udr_samples, random_state, progress)
    if ground_truth is not None:
        _add_ground_truth(outcome, ground_truth, data)
    if report_dir is not None:
        outcome.path = write_report(
            result, models, report_dir, udr=outcome.udr, ground_truth=ground_truth
        )
    return outcome


def _add_udr(
    outcome: RankingReport,
    models: Sequence[Model],
    names: list[str],
    n_samples: int,
    random_state: int,
    progress: bool | None,
) -> None:
    from ..baselines import udr_for_models
    from ..datasets import get_dataset

    dataset = get_dataset("dsprites")
    ranked = set(names)
    try:
        outcome.udr = udr_for_models(
            [m for m in models if m.name in ranked],
            dataset.sample_observations(n_samples, random_state),
            random_state=random_state,
            progress=progress,
        )
    except ModelCentralityError as exc:
        outcome.warnings.append(f"no UDR on dSprites: {exc}")
        return
    ranking = ", ".join(outcome.udr.names[i] for i in outcome.udr.ranking())
    outcome.lines.append(f"UDR (lasso), best first: {ranking}")


def _add_ground_truth(outcome: RankingReport, truth: GroundTruth, data: dict) -> None:
    outcome.warnings += truth.warnings(protocol_name(data))
    scores = [float("nan") if v is None else float(v) for v in data["scores"]]
    summary = outcome.ground_truth = truth.compare(data["names"], scores)
    if not summary["models"]:
        outcome.lines.append(f"ground truth: no ranked model is scored in {truth.source}")
        return
    tau = summary["kendall_tau"]
    outcome.lines.append(
        f"ground truth ({summary['models']} models, FactorVAE, "
        f"{truth.version or 'no dataset version'}): Kendall tau "
        f"{'n/a' if tau is None else f'{tau:.2f}'}; pick {summary['pick']} "
        f"{summary['pick_score']:.3f}, best {summary['best']} {summary['best_score']:.3f}"
    )


def _data(result: Any) -> dict:
    return result.to_dict() if hasattr(result, "to_dict") else result
