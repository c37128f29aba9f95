"""The outcome of a ranking, and its JSON form."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._version import __version__
from ..engine import CentralityUncertainty, Protocol
from ..errors import ModelCentralityError
from ..io import FieldProblem, SchemaError, check_field, read_json, write_json


def json_matrix(values: np.ndarray) -> list:
    """A float array as nested lists, with NaN (a missing value) as null."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), None, values).tolist()


@dataclass
class RankResult:
    """Outcome of :func:`~modelcentrality.rank`.

    Attributes
    ----------
    names : list of str, length N
        Model names in input order; every array below follows this order.
    scores : ndarray of shape (N,)
        Centrality M_i: mean similarity of model i to the other models (to those it
        was compared with, when the search evaluated only some pairs; the adaptive
        search reports its own estimates, see
        :class:`~modelcentrality.selection.AdaptiveSearch`).
    cross : ndarray of shape (N, N)
        ``cross[i, j]``: the cell value of encoder j on model i (under FactorVAE, the
        score of the encoder on the model's generated groups); NaN where the search
        did not evaluate the pair. The diagonal is each model's
        self-consistency (not used by the centrality).
    similarity : ndarray of shape (N, N)
        ``(cross + cross.T) / 2``.
    revised_cross : ndarray of shape (N, N)
        Like ``cross`` with the paper's revised score (K largest vote-table rows);
        NaN under a similarity whose cells have none.
    protocol : Protocol or None
        None only for a result read from a file that does not record it.
    seed : int
    skipped : dict of str to str
        Models left out (name -> reason).
    uncertainty : CentralityUncertainty, StoredUncertainty or None
        Bootstrap intervals (``scores_ci``) and top-model probabilities (``p_top``);
        a result read back by :meth:`from_json` has only these (StoredUncertainty).
    votes : ndarray of shape (N, N) or None
        Training votes of source i behind ``cross[i, j]``; 0 where not evaluated.
    encoder_passes : int
        Observations encoded by this call (``encoder_passes_computed`` in the JSON).
    encoder_passes_cached : int
        Observations that the pairs served from the on-disk cache cost when they were
        computed: the work behind the result is the sum of the two.
    pairs_computed, pairs_cached : int
        Pair evaluations computed by this call, and served from the on-disk cache (a
        search that grows a pair's votes evaluates it once per vote count).
    precision : float or None
        The target standard error of the precision-targeted search, if used.
    search : str
        The search strategy's name.
    stop_reason : str
        Why the search stopped.
    target_reached : bool
        False when the search ran out of budget before its stopping rule held.
    details : dict
        Strategy-specific facts (e.g. the undecided candidates of an adaptive search).
    budget : dict
        The work actually behind the cells (which may differ from the protocol's
        defaults): ``votes_per_pair`` and ``scale_samples`` as [least, most] over the
        evaluated pairs, ``group_size``, and ``protocol_votes`` (the protocol's own
        votes per model kind in this zoo).
    tied : list of str
        Models a search could not separate from the leader within its budget (the
        leader included; their ``p_top`` says how often each came out on top); empty
        unless the search stopped on a tie.
    similarity_measure : str
        Name of the similarity behind ``cross`` (``"similarity_measure"`` in the JSON,
        whose ``"similarity"`` is the matrix); by default the protocol's, and
        ``"factorvae"`` for files that do not record it.
    """

    names: list[str]
    scores: np.ndarray
    cross: np.ndarray
    similarity: np.ndarray
    revised_cross: np.ndarray
    protocol: Protocol | None
    seed: int
    skipped: dict[str, str] = field(default_factory=dict)
    uncertainty: CentralityUncertainty | StoredUncertainty | None = None
    votes: np.ndarray | None = None
    encoder_passes: int = 0
    encoder_passes_cached: int = 0
    pairs_computed: int = 0
    pairs_cached: int = 0
    precision: float | None = None
    search: str = "full"
    stop_reason: str = "every pair evaluated"
    target_reached: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    tied: list[str] = field(default_factory=list)
    similarity_measure: str | None = None

    def __post_init__(self) -> None:
        if self.similarity_measure is None:
            self.similarity_measure = (
                "factorvae" if self.protocol is None else self.protocol.similarity
            )

    @property
    def scores_ci(self) -> np.ndarray | None:
        """Bootstrap interval of each score, shape (N, 2), or None."""
        return None if self.uncertainty is None else self.uncertainty.scores_ci

    @property
    def p_top(self) -> np.ndarray | None:
        """Probability that each model is the most central one, shape (N,), or None."""
        return None if self.uncertainty is None else self.uncertainty.p_top

    @property
    def order(self) -> np.ndarray:
        """Indices into ``names``, most central first (ties keep input order; models
        without a score last)."""
        return np.argsort(-np.nan_to_num(self.scores, nan=-np.inf), kind="stable")

    @property
    def ranking(self) -> list[str]:
        """Model names, most central (selected) first."""
        return [self.names[i] for i in self.order]

    @property
    def selected(self) -> str:
        """Name of the selected model (the medoid)."""
        return self.ranking[0]

    @property
    def self_consistency(self) -> np.ndarray:
        """``cross[i, i]``, shape (N,)."""
        return np.diag(self.cross).copy()

    @property
    def pairs_evaluated(self) -> int:
        """Number of cross cells behind the result."""
        return int(np.count_nonzero(self.votes)) if self.votes is not None else self.cross.size

    def summary_table(self) -> tuple[list[str], list[list[Any]]]:
        """The ranking as a table, best first: headers and rows of rank, name,
        centrality, the 95% interval and p_top (when there is a bootstrap), and
        self-consistency. Scores are floats (NaN: not estimated); the interval and p_top
        are text with 4 and 3 decimals."""
        headers = ["rank", "name", "centrality"]
        if self.uncertainty is not None:
            headers += ["95% interval", "p_top"]
        headers.append("self-consistency")
        self_consistency = self.self_consistency
        rows = []
        for place, i in enumerate(self.order, start=1):
            row = [place, self.names[i], float(self.scores[i])]
            if self.uncertainty is not None:
                low, high = self.scores_ci[i]
                row += [f"{low:.4f}-{high:.4f}", f"{self.p_top[i]:.3f}"]
            rows.append([*row, float(self_consistency[i])])
        return headers, rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the CLI's output file); missing cells are null."""
        payload = {
            "names": list(self.names),
            "scores": json_matrix(self.scores),
            "ranking": self.ranking,
            "self_consistency": json_matrix(self.self_consistency),
            "cross": json_matrix(self.cross),
            "similarity": json_matrix(self.similarity),
            "revised_cross": json_matrix(self.revised_cross),
            "protocol": None if self.protocol is None else self.protocol.to_dict(),
            "similarity_measure": self.similarity_measure,
            "seed": self.seed,
            "skipped": dict(self.skipped),
            "version": __version__,
            "votes": None if self.votes is None else self.votes.tolist(),
            # "encoder_passes" (the same number) is kept for readers of older files.
            "encoder_passes": self.encoder_passes,
            "encoder_passes_computed": self.encoder_passes,
            "encoder_passes_cached": self.encoder_passes_cached,
            "pairs_computed": self.pairs_computed,
            "pairs_cached": self.pairs_cached,
            "precision": self.precision,
            "budget": dict(self.budget),
            "tied": list(self.tied),
            "search": {
                "name": self.search,
                "stop_reason": self.stop_reason,
                "target_reached": self.target_reached,
                "pairs_evaluated": self.pairs_evaluated,
                **self.details,
            },
        }
        if self.uncertainty is not None:
            payload["scores_ci"] = json_matrix(self.uncertainty.scores_ci)
            if self.uncertainty.sampling_ci is not None:
                payload["sampling_ci"] = json_matrix(self.uncertainty.sampling_ci)
            payload["p_top"] = self.uncertainty.p_top.tolist()
            payload["bootstrap"] = {
                "replicates": self.uncertainty.n_boot,
                "confidence": self.uncertainty.confidence,
            }
        return payload

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, source: str | os.PathLike | dict[str, Any]) -> RankResult:
        """A ranking read back from its JSON form (a ``rank -o`` file, or its dict).

        Every known field is checked (type, length, finite numbers); only ``names``,
        ``scores`` and ``similarity`` are required, so files of older versions and
        hand-made ones load, and unknown fields (from newer versions) are ignored. A
        file without ``cross`` gets NaN cells with ``self_consistency`` on the
        diagonal. A stored interval and p_top come back as a
        :class:`StoredUncertainty` (the replicates are not stored).

        Raises
        ------
        ModelCentralityError
            One line naming the file and the field that is wrong.
        """
        label = "ranking" if isinstance(source, dict) else str(source)
        payload = source if isinstance(source, dict) else read_json(source, what="ranking")
        try:
            return cls._from_payload(payload)
        except ValueError as exc:  # SchemaError, FieldProblem, or a bad number
            raise ModelCentralityError(f"{label} is not a `rank -o` result: {exc}") from None

    @classmethod
    def _from_payload(cls, payload: Any) -> RankResult:
        if not isinstance(payload, dict):
            raise FieldProblem("not a JSON object")
        names = check_field(payload, "names", _names, required=True)
        n = len(names)

        def get(key: str, check: Callable[[Any], Any], **kwargs: Any) -> Any:
            return check_field(payload, key, check, **kwargs)

        scores = get("scores", _vector(n), required=True)
        similarity = get("similarity", _matrix(n, n), required=True)
        diagonal = get("self_consistency", _vector(n), default=np.full(n, np.nan))
        cross = get("cross", _matrix(n, n), default=None)
        if cross is None:
            cross = np.full((n, n), np.nan)
            np.fill_diagonal(cross, diagonal)
        search = get("search", _search, default={})
        uncertainty = None
        ci = get("scores_ci", _matrix(n, 2), default=None)
        sampling_ci = get("sampling_ci", _matrix(n, 2), default=None)
        p_top = get("p_top", _probabilities(n), default=None)
        bootstrap = get("bootstrap", _bootstrap, default={})
        if (ci is None) != (p_top is None):
            raise SchemaError("scores_ci", "scores_ci and p_top come together")
        if ci is not None:
            uncertainty = StoredUncertainty(ci, p_top, sampling_ci=sampling_ci, **bootstrap)
        get("ranking", _ranking(names))
        get("version", _text)
        plain = {
            key: get(key, check(n), default=default(n))
            for key, (check, default) in _PLAIN_FIELDS.items()
        }
        return cls(
            names=names,
            scores=scores,
            cross=cross,
            similarity=similarity,
            uncertainty=uncertainty,
            search=search.get("name", "full"),
            stop_reason=search.get("stop_reason", "every pair evaluated"),
            target_reached=search.get("target_reached", True),
            details=search.get("details", {}),
            tied=get("tied", _tied(names), default=[]),
            **plain,
        )


@dataclass(frozen=True)
class StoredUncertainty:
    """The bootstrap summary a ``rank -o`` file keeps: intervals and p_top.

    Attributes
    ----------
    scores_ci : ndarray of shape (N, 2)
    p_top : ndarray of shape (N,)
    sampling_ci : ndarray of shape (N, 2) or None
        The interval of the draws' noise alone, when the file has it.
    n_boot : int or None
        Replicates behind them, when the file says.
    confidence : float
        Coverage of ``scores_ci``.
    """

    scores_ci: np.ndarray
    p_top: np.ndarray
    sampling_ci: np.ndarray | None = None
    n_boot: int | None = None
    confidence: float = 0.95


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(n, str) for n in value):
        raise FieldProblem("must be a non-empty list of model names")
    if len(set(value)) != len(value):
        raise FieldProblem("must not repeat a name")
    return list(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _vector(n: int) -> Callable[[Any], np.ndarray]:
    def check(value: Any) -> np.ndarray:
        if not isinstance(value, list) or len(value) != n:
            raise FieldProblem(f"must list {n} values, one per name")
        for i, item in enumerate(value):
            if item is not None and not _is_number(item):
                raise FieldProblem(f"item {i} must be a number or null, got {_short(item)}")
        return np.array([np.nan if v is None else v for v in value], dtype=np.float64)

    return check


def _matrix(rows: int, columns: int) -> Callable[[Any], np.ndarray]:
    row_check = _vector(columns)

    def check(value: Any) -> np.ndarray:
        if not isinstance(value, list) or len(value) != rows:
            raise FieldProblem(f"must be a {rows} x {columns} matrix (a list of {rows} rows)")
        out = np.empty((rows, columns))
        for i, row in enumerate(value):
            try:
                out[i] = row_check(row)
            except ValueError as exc:
                raise FieldProblem(f"row {i} {exc}") from None
        return out

    return check


def _probabilities(n: int) -> Callable[[Any], np.ndarray]:
    vector = _vector(n)

    def check(value: Any) -> np.ndarray:
        values = vector(value)
        if not np.all((values >= 0) & (values <= 1)):
            raise FieldProblem("must hold probabilities in [0, 1]")
        return values

    return check


def _votes(n: int) -> Callable[[Any], np.ndarray | None]:
    matrix = _matrix(n, n)

    def check(value: Any) -> np.ndarray | None:
        if value is None:
            return None
        votes = matrix(value)
        if not np.all(np.isfinite(votes) & (votes >= 0) & (votes == np.round(votes))):
            raise FieldProblem("must hold non-negative whole vote counts")
        return votes.astype(np.int64)

    return check


def _count(value: Any) -> int:
    if not _is_count(value):
        raise FieldProblem(f"must be an integer >= 0, got {_short(value)}")
    return value


def _optional_number(value: Any) -> float | None:
    if value is not None and not _is_number(value):
        raise FieldProblem(f"must be a number or null, got {_short(value)}")
    return None if value is None else float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldProblem(f"must be a string, got {_short(value)}")
    return value


def _skipped(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise FieldProblem("must map model names to reasons (strings)")
    return dict(value)


def _ranking(names: list[str]) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list) or sorted(map(str, value)) != sorted(names):
            raise FieldProblem("must list the same model names")
        return value

    return check


def _tied(names: list[str]) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list) or not all(v in names for v in value):
            raise FieldProblem("must list names of ranked models")
        return list(value)

    return check


def _budget(value: Any) -> dict[str, Any]:
    """The budget record: counts, or [least, most] pairs of counts."""
    if not isinstance(value, dict):
        raise FieldProblem(f"must be an object of counts, got {_short(value)}")
    for key, item in value.items():
        counts = item if isinstance(item, list) else [item]
        if not all(_is_count(c) for c in counts):
            raise FieldProblem(f"{key} must be a count or a list of counts, got {_short(item)}")
    return dict(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _protocol(value: Any) -> Protocol | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldProblem(f"must be an object of protocol settings, got {_short(value)}")
    try:
        return Protocol(**value)
    except TypeError:
        raise FieldProblem("holds unknown or missing protocol settings") from None
    except ValueError as exc:  # ParameterError: a value out of range
        raise FieldProblem(str(exc)) from None


#: The search section's own keys; the others are the strategy's details.
_SEARCH_KEYS = {"name": str, "stop_reason": str, "target_reached": bool, "pairs_evaluated": int}


def _search(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldProblem(f"must be an object (name, stop_reason...), got {_short(value)}")
    for key, kind in _SEARCH_KEYS.items():
        if key in value and (
            not isinstance(value[key], kind) or (kind is int and isinstance(value[key], bool))
        ):
            raise FieldProblem(f"{key} must be a {kind.__name__}, got {_short(value[key])}")
    out = {key: value[key] for key in _SEARCH_KEYS if key in value}
    out["details"] = {k: v for k, v in value.items() if k not in _SEARCH_KEYS}
    return out


def _bootstrap(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldProblem("must be an object (replicates, confidence)")
    out: dict[str, Any] = {}
    if "replicates" in value:
        out["n_boot"] = _count(value["replicates"])
    if "confidence" in value:
        confidence = value["confidence"]
        if not _is_number(confidence) or not 0 < confidence < 1:
            raise FieldProblem(f"confidence must be in (0, 1), got {_short(confidence)}")
        out["confidence"] = float(confidence)
    return out


#: Fields stored as they are: JSON key (= attribute) -> (its check and its default, each
#: given N). A new optional field of this kind is one line here.
_PLAIN_FIELDS: dict[str, tuple[Callable[[int], Callable], Callable[[int], Any]]] = {
    "revised_cross": (lambda n: _matrix(n, n), lambda n: np.full((n, n), np.nan)),
    "protocol": (lambda n: _protocol, lambda n: None),
    "seed": (lambda n: _count, lambda n: 0),
    "skipped": (lambda n: _skipped, lambda n: {}),
    "votes": (_votes, lambda n: None),
    "encoder_passes": (lambda n: _count, lambda n: 0),
    "encoder_passes_cached": (lambda n: _count, lambda n: 0),
    "pairs_computed": (lambda n: _count, lambda n: 0),
    "pairs_cached": (lambda n: _count, lambda n: 0),
    "budget": (lambda n: _budget, lambda n: {}),
    "precision": (lambda n: _optional_number, lambda n: None),
    "similarity_measure": (lambda n: _text, lambda n: None),
}


def _short(value: Any) -> str:
    """A value for an error message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
