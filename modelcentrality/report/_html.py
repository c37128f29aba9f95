"""The report page: one self-contained HTML file (figures inline as base64 PNG)."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..contract import Model
from ..errors import ModelCentralityError, printable
from ..io import atomic_write, unwritable_folder_reason
from ._figures import heatmap_scale, pyplot, similarity_heatmap, traversal_figure
from ._ground_truth import GroundTruth
from ._traversals import traversal_grid

REPORT_FILE = "index.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th.name, td.name { text-align: left; font-family: monospace; }
th.left, td.left { text-align: left; }
td.left .bar { display: inline-block; vertical-align: middle; margin-right: 0.5em; }
tr.pick td { background: #eef6ee; font-weight: 600; }
.bar { position: relative; width: 220px; height: 14px; background: #f0f0f0; }
.bar .ci { position: absolute; top: 3px; height: 8px; background: #8fb3d9; }
.bar .mark { position: absolute; top: 0; width: 2px; height: 14px; background: #1b4f8a; }
.note { color: #555; font-size: 0.9em; }
.banner { background: #fff4e0; border-left: 4px solid #e0a030; padding: 0.5em 0.8em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; }
"""


def write_report(
    result: Any,
    models: Sequence[Model] | Mapping[str, Model] | None,
    out_dir: str | os.PathLike,
    udr: Any = None,
    ground_truth: GroundTruth | None = None,
    *,
    columns: int = 9,
    random_state: int = 0,
) -> Path:
    """Write a self-contained HTML report of a ranking into ``out_dir/index.html``.

    The page holds the ranking (centrality with its bootstrap interval drawn as a bar,
    p_top, self-consistency; UDR and ground truth beside it when given), the
    similarity heatmap ordered by centrality, and the latent traversals of the three
    most central models and of the least central one. Figures are PNG images inlined
    as base64, so the file opens from disk, offline, and can be mailed alone.

    Parameters
    ----------
    result : RankResult or dict
        A ranking, or its JSON form (:meth:`RankResult.to_dict`, the ``rank -o`` file).
    models : sequence or mapping of Model, optional
        The zoo's models, to draw traversals; models missing here get none.
    out_dir : path-like
        Created if needed.
    udr : UDRResult or dict, optional
        UDR scores of the same zoo (a result, or its ``udr -o`` JSON form).
    ground_truth : GroundTruth, optional
        Supervised scores (:func:`read_ground_truth`).
    columns : int
        Traversal columns (prior quantiles).
    random_state : int
        Seed of the latent draw the traversals start from.

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    ModelCentralityError
        When matplotlib is missing (``pip install 'modelcentrality[report]'``).
    """
    pyplot()
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    names = [str(n) for n in data["names"]]
    scores = _array(data["scores"])
    order = [int(i) for i in np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")]
    if isinstance(models, Mapping):
        by_name = dict(models)
    else:
        by_name = {m.name: m for m in models or []}
    udr_scores = _udr_scores(udr, names)
    sections = [
        _header(data, names),
        _ranking_table(data, names, scores, order, udr_scores, ground_truth),
    ]
    if ground_truth is not None:
        for warning in ground_truth.warnings(protocol_name(data)):
            sections.append(f"<p class='banner'>Warning: {_escape(warning)}.</p>")
        sections.append(_ground_truth_section(ground_truth, names, scores, udr_scores))
    similarity = _array(data["similarity"])
    scale = low, centre, high = heatmap_scale(similarity)
    sections.append("<h2>Similarity</h2>")
    heatmap = similarity_heatmap(similarity, names, order, scale)
    sections.append(_image(heatmap, "similarity heatmap"))
    sections.append(
        "<p class='note'>Colours: white at the zoo's mean similarity "
        f"{centre:.4f}, blue down to the lowest cell {low:.4f}, red up to the highest "
        f"{high:.4f}. The scale spans only this range, so when it is narrow, small "
        "differences still show as strong colours. Rows and columns are ordered by "
        "centrality; a model's centrality is the mean of its row. The diagonal (grey) is "
        "left out: it would be each model's self-consistency (its encoder on its own "
        "traversals, shown in the table), which is not part of the centrality.</p>"
    )
    sections.append(_traversal_section(order, names, by_name, columns, random_state))
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>ModelCentrality report</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + f"\n<p class='note'>modelcentrality {_escape(__version__)}</p></body></html>\n"
    )
    out_dir = Path(out_dir)
    reason = unwritable_folder_reason(out_dir, REPORT_FILE)
    if reason:
        raise ModelCentralityError(printable(f"cannot write the report into {out_dir}: {reason}"))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelCentralityError(
            printable(f"cannot create {out_dir}: {exc.strerror or exc}")
        ) from None
    path = out_dir / REPORT_FILE
    atomic_write(path, lambda handle: handle.write(page.encode("utf-8")))
    return path


def _array(values: Any) -> np.ndarray:
    return np.array(
        [[np.nan if v is None else v for v in row] for row in values]
        if values and isinstance(values[0], list)
        else [np.nan if v is None else v for v in values],
        dtype=np.float64,
    )


def _udr_scores(udr: Any, names: list[str]) -> np.ndarray | None:
    if udr is None:
        return None
    if hasattr(udr, "names"):
        found = dict(zip(udr.names, np.asarray(udr.scores, dtype=np.float64)))
    else:  # the `udr -o` JSON
        found = {name: entry["udr"] for name, entry in dict(udr["models"]).items()}
    return np.array([found.get(name, np.nan) for name in names], dtype=np.float64)


def _image(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f"<img alt='{_escape(alt)}' src='data:image/png;base64,{encoded}'>"


def _header(data: dict, names: list[str]) -> str:
    search = data.get("search") or {}
    facts = [
        f"{len(names)} models",
        f"seed {data.get('seed', '?')}",
        f"search {search.get('name', 'full')}",
    ]
    if data.get("precision") is not None:
        facts.append(f"target standard error {data['precision']}")
    lines = [
        "<h1>ModelCentrality report</h1>",
        "<p>The selected model is the most central one: its encoder and the others "
        "agree best on each other's latent traversals (Lin et al., ICML 2020).</p>",
        f"<p class='note'>{_escape(', '.join(facts))}</p>",
        f"<p class='note'>budget: {_escape(budget_text(data))}</p>",
    ]
    if search.get("stop_reason"):
        reached = "" if search.get("target_reached", True) else " (target not reached)"
        lines.append(
            f"<p class='note'>search stopped: {_escape(str(search['stop_reason']))}"
            f"{reached}</p>"
        )
    banner = certainty_banner(data)
    if banner:
        lines.append(f"<p class='banner'>{_escape(banner)}</p>")
    for name, reason in (data.get("skipped") or {}).items():
        lines.append(f"<p class='note'>skipped {_escape(name)}: {_escape(reason)}</p>")
    return "\n".join(lines)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def protocol_name(data: dict) -> str | None:
    """The ranking's FactorVAE protocol name, or None when its JSON does not say."""
    name = _mapping(data.get("protocol")).get("name")
    return name if isinstance(name, str) else None


def _span(values: Any) -> str:
    """``[least, most]`` or one number as "a" or "a-b" (anything else as it is: the
    JSON may come from elsewhere)."""
    low, high = values if isinstance(values, list) and len(values) == 2 else (values, values)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        return str(values)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def budget_text(data: dict) -> str:
    """The work actually behind a ranking, in one line: protocol (and whether its
    budget was overridden), votes per pair, scale set S, group size L, passes."""
    protocol = _mapping(data.get("protocol"))
    budget = _mapping(data.get("budget"))
    votes = budget.get("votes_per_pair")
    if votes is None:
        matrix = data.get("votes") if isinstance(data.get("votes"), list) else []
        evaluated = [
            v for row in matrix if isinstance(row, list) for v in row if isinstance(v, int) and v
        ]
        votes = [min(evaluated), max(evaluated)] if evaluated else protocol.get("votes")
    scale = budget.get("scale_samples", protocol.get("scale_samples"))
    parts = []
    own = budget.get("protocol_votes")
    name = protocol.get("name", "?")
    overridden = (
        isinstance(own, list) and bool(own) and isinstance(votes, list)
        and votes != [min(own), max(own)]
    )
    parts.append(f"protocol {name}" + (" (budget overridden)" if overridden else ""))
    if votes is not None:
        parts.append(f"{_span(votes)} votes per pair")
    if protocol.get("scale_from_groups"):
        parts.append("scale from the vote groups")
    elif scale is not None:
        parts.append(f"scale set S = {_span(scale)}")
    group = budget.get("group_size", protocol.get("group_size"))
    if group is not None:
        parts.append(f"group size L = {group}")
    computed = data.get("encoder_passes_computed", data.get("encoder_passes"))
    if computed is not None:
        passes = f"{_span(computed)} encoder passes computed"
        if data.get("encoder_passes_cached"):
            passes += f", {_span(data['encoder_passes_cached'])} from the cache"
        parts.append(passes)
    return ", ".join(parts)


#: Below this p_top the leader is reported as uncertain.
CERTAIN_P_TOP = 0.95
#: A model with at least this p_top is named among the contenders.
CONTENDER_P_TOP = 0.05


def contenders(data: dict) -> list[str]:
    """Names of the models that could be the most central one, leader first: those with
    ``p_top`` >= 0.05 and those whose 95% interval overlaps the leader's."""
    names = [str(n) for n in data["names"]]
    scores = _array(data["scores"])
    if not np.isfinite(scores).any():
        return []
    leader = int(np.nanargmax(scores))
    found = {leader}
    if data.get("p_top"):
        p_top = _array(data["p_top"])
        found.update(np.flatnonzero(np.nan_to_num(p_top) >= CONTENDER_P_TOP).tolist())
    if data.get("scores_ci"):
        ci = _array(data["scores_ci"])
        if np.all(np.isfinite(ci[leader])):
            overlap = np.isfinite(ci).all(axis=1) & (ci[:, 1] >= ci[leader, 0])
            found.update(np.flatnonzero(overlap).tolist())
    order = sorted(found, key=lambda i: (i != leader, -np.nan_to_num(scores[i], nan=-np.inf)))
    return [names[i] for i in order]


def certainty_banner(data: dict) -> str | None:
    """A warning naming the contenders when the leader is uncertain (p_top < 0.95) or
    tied (the search reported a tie); None when the pick is clear or no bootstrap ran."""
    if not data.get("p_top"):
        return None
    names = [str(n) for n in data["names"]]
    scores = _array(data["scores"])
    if not np.isfinite(scores).any():
        return None
    leader = names[int(np.nanargmax(scores))]
    p_top = float(_array(data["p_top"])[names.index(leader)])
    tied = data.get("tied", _mapping(data.get("search")).get("tied"))
    if p_top >= CERTAIN_P_TOP and not tied:
        return None
    if isinstance(tied, list) and tied:
        rivals = [str(name) for name in tied]
    else:
        rivals = contenders(data)
    others = ", ".join(name for name in rivals if name != leader)
    if tied:
        text = f"Tie: the leader {leader} (p_top {p_top:.3f}) could not be separated"
        text += f" from {others}" if others else ""
        return text + " at the budget the search could reach."
    text = f"Uncertain leader: {leader} has p_top {p_top:.3f} (< {CERTAIN_P_TOP:g})"
    if others:
        text += f"; contenders (p_top >= {CONTENDER_P_TOP:g} or an overlapping 95% interval): "
        text += others
    return text + ". More votes (a smaller --precision target) would tell them apart."


def _ranking_table(
    data: dict,
    names: list[str],
    scores: np.ndarray,
    order: list[int],
    udr: np.ndarray | None,
    truth: GroundTruth | None,
) -> str:
    ci = _array(data["scores_ci"]) if data.get("scores_ci") else None
    p_top = _array(data["p_top"]) if data.get("p_top") else None
    self_consistency = _array(data["self_consistency"])
    finite = scores[np.isfinite(scores)]
    bounds = ci[np.all(np.isfinite(ci), axis=1)] if ci is not None else np.empty((0, 2))
    if len(bounds):  # a hand-made file may hold no finite interval
        low, high = float(bounds[:, 0].min()), float(bounds[:, 1].max())
    else:
        low, high = float(finite.min(initial=0.0)), float(finite.max(initial=1.0))
    span = max(high - low, 1e-9)
    low, span = low - 0.05 * span, 1.1 * span

    def position(value: float) -> float:
        return 100.0 * (value - low) / span

    headers = ["rank", "<th class='name'>model</th>", "centrality"]
    headers.append("<th class='left'>95% interval</th>")
    if p_top is not None:
        headers.append("p_top")
    headers.append("self-consistency")
    if udr is not None:
        headers.append("UDR")
    if truth is not None:
        headers += ["FactorVAE (GT)", "MIG (GT)"]
    head = "".join(h if h.startswith("<th") else f"<th>{h}</th>" for h in headers)
    rows = []
    for place, i in enumerate(order, start=1):
        cells = [f"<td>{place}</td>", f"<td class='name'>{_escape(names[i])}</td>"]
        cells.append(f"<td>{_fmt(scores[i])}</td>")
        bar = ""
        if ci is not None and np.all(np.isfinite(ci[i])):
            left, right = position(ci[i, 0]), position(ci[i, 1])
            bar = (
                f"<span class='ci' style='left:{left:.1f}%;width:{max(right - left, 0.5):.1f}%'>"
                f"</span>"
            )
        if np.isfinite(scores[i]):
            bar += f"<span class='mark' style='left:{position(scores[i]):.1f}%'></span>"
        interval = f"{_fmt(ci[i, 0])}-{_fmt(ci[i, 1])}" if ci is not None else ""
        cells.append(f"<td class='left'><div class='bar'>{bar}</div>{interval}</td>")
        if p_top is not None:
            cells.append(f"<td>{p_top[i]:.3f}</td>")
        cells.append(f"<td>{_fmt(self_consistency[i])}</td>")
        if udr is not None:
            cells.append(f"<td>{_fmt(udr[i])}</td>")
        if truth is not None:
            known = truth.scores.get(names[i], {})
            cells += [f"<td>{_fmt(known.get(m, np.nan))}</td>" for m in ("factorvae", "mig")]
        style = " class='pick'" if place == 1 else ""
        rows.append(f"<tr{style}>{''.join(cells)}</tr>")
    note = (
        "<p class='note'>95% interval: where the centrality at unlimited votes lies, "
        "given this run's finite budget (every noise source of the cells bootstrapped, "
        "the small-vote bias bracketed; not the variation between training seeds), "
        "drawn as a bar with the dark mark at the value. p_top: probability of being the "
        "most central model. Self-consistency: the model's encoder scored on its own "
        "traversals, cross[i, i] (a sanity check, not part of the centrality).</p>"
    )
    return (
        f"<h2>Ranking</h2>\n<table><thead><tr>{head}</tr></thead><tbody>\n"
        + "\n".join(rows)
        + f"\n</tbody></table>\n{note}"
    )


def _ground_truth_section(
    truth: GroundTruth, names: list[str], scores: np.ndarray, udr: np.ndarray | None
) -> str:
    lines = [
        "<h2>Ground truth</h2>",
        f"<p class='note'>from {_escape(truth.source)}, scored on "
        f"{_escape(truth.version or 'an unrecorded dataset version')}</p><ul>",
    ]
    rankings = [("ModelCentrality", scores)] + ([("UDR", udr)] if udr is not None else [])
    for label, values in rankings:
        for metric, title in (("factorvae", "FactorVAE"), ("mig", "MIG")):
            summary = truth.compare(names, values, metric)
            if not summary["models"]:
                continue
            tau = summary["kendall_tau"]
            lines.append(
                f"<li>{label} vs {title}: Kendall tau "
                f"{'n/a' if tau is None else f'{tau:.2f}'} over {summary['models']} models; "
                f"pick {_escape(summary['pick'])} scores {summary['pick_score']:.3f}, "
                f"the best ({_escape(summary['best'])}) {summary['best_score']:.3f}</li>"
            )
    lines.append("</ul>")
    return "\n".join(lines)


def _traversal_section(
    order: list[int],
    names: list[str],
    models: dict[str, Model],
    columns: int,
    random_state: int,
) -> str:
    chosen = [(place, i) for place, i in enumerate(order[:3], start=1)]
    if len(order) > 3:
        chosen.append((len(order), order[-1]))
    figures = []
    for place, i in chosen:
        name = names[i]
        caption = f"rank {place}: {_escape(name)}"
        model = models.get(name)
        if model is None:
            figures.append(f"<figure><figcaption>{caption}: model not loaded</figcaption></figure>")
            continue
        grid = traversal_grid(model, columns, random_state)
        png = traversal_figure(grid, f"rank {place}: {name}", list(model.code_dims))
        figures.append(f"<figure>{_image(png, f'traversals of {name}')}</figure>")
    return (
        "<h2>Latent traversals</h2>\n<p class='note'>The three most central models and "
        "the least central one: one row per code dim, swept over its prior's quantiles "
        "(a categorical code over its classes) while every other latent dim stays at one "
        "draw.</p>\n<div class='grid'>"
        + "".join(figures)
        + "</div>"
    )


def _escape(text: str) -> str:
    """Text for the page: HTML-escaped, control characters shown as escapes (a name
    may hold a newline or a terminal escape, which HTML would keep raw)."""
    return html.escape(printable(str(text)))


def _fmt(value: float) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4f}"
