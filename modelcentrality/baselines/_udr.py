"""UDR, the Unsupervised Disentanglement Ranking baseline (Duan et al., ICLR 2020).

Semantics follow disentanglement_lib's ``compute_udr_sklearn``:

1. every model encodes the same n observations;
2. every dim is standardised (zero mean, unit variance; a constant dim becomes 0) and
   only *informative* dims take part: for a VAE, dims whose mean KL to the prior is
   >= ``kl_threshold`` (0.01); for a GAN, which has no KL, the code dims whose spread over
   the data is not ~0 (see :data:`SPREAD_EPS`). A VAE's dims without a log-variance (a
   categorical latent's class probabilities) follow the spread rule too;
3. for every ordered pair (a, b) a similarity matrix R, rows = a's informative dims,
   columns = b's: |coef| of a Lasso(alpha) regressing b's representation on a's, or
   |Spearman rank correlation| of every pair of dims;
4. pair score = :func:`relative_strength` of R;
5. model score = median over the other models of the pair scores.

Orientation and edge cases, as in disentanglement_lib unless noted:

- ``pairwise[a, b]`` is the score of R(a -> b) (b regressed on a). The Lasso is not
  symmetrised; model b's score is the median of column b, i.e. of the fits that predict
  b from each other model. Spearman matrices are symmetric, so both orders agree.
- the diagonal of ``pairwise`` is NaN: a model is not compared with itself.
- with Lasso, two identical representations score ``1 - alpha`` (0.9), not 1: the L1
  penalty shrinks every coefficient by alpha on standardised data.
- a pair where either model has no informative dim scores 0 (disentanglement_lib
  raises on the empty matrix).
- KL dims are kept when KL >= threshold, dims below it dropped (disentanglement_lib keeps
  KL > threshold; they differ only at exact equality).
- dims may differ in number between models (disentanglement_lib requires equal sizes).

The Lasso fits of one model a against all others share a's design matrix, and
scikit-learn fits every target column independently, so they run as one multi-target
fit per model (targets: the dims of all the other models). These N fits give exactly the
N (N - 1) pair matrices of pair-by-pair fitting, whatever ``n_jobs`` is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from scipy.stats import rankdata

from .._progress import ProgressBar
from .._seeding import check_random_state
from .._validation import check_choice, check_float, check_int
from .._version import __version__
from ..contract import call_or_skip, filter_by_shape
from ..errors import ParameterError, ZooError
from ..io import write_json

#: Methods of building the similarity matrix R.
METHODS = ("lasso", "spearman")

#: Default KL threshold of disentanglement_lib (nats per dim, mean over observations).
KL_THRESHOLD = 0.01

#: A dim without KL is informative iff std > SPREAD_EPS * max(1, max |value|): float32
#: network outputs carry ~1e-7 relative rounding noise, which must not count as spread.
SPREAD_EPS = 1e-6


def kl_rule(threshold: float) -> str:
    """Description of the VAE informative-dim rule."""
    return f"VAE rule: dims whose mean KL to the prior is >= {threshold:g}"


def _spread_text(eps: float) -> str:
    return f"non-zero spread (std > {eps:g} * max(1, max |value|))"


def spread_rule(eps: float = SPREAD_EPS) -> str:
    """Description of the GAN informative-dim rule."""
    return f"GAN rule: code dims with {_spread_text(eps)}"


def mixed_rule(threshold: float, eps: float = SPREAD_EPS) -> str:
    """Description of the rule for a VAE whose log-variance covers only some dims.

    One clause, without the ``"; "`` that joins a zoo's distinct rules
    (:attr:`UDRResult.informative_rule`).
    """
    return (
        "VAE rule with a partial log-variance: dims with a log-variance and a mean KL to "
        f"the prior >= {threshold:g}, the other dims with {_spread_text(eps)}"
    )


def relative_strength(matrix: Any) -> float:
    """Relative-strength disentanglement of a non-negative similarity matrix.

    ``(mean over columns of max^2 / sum + mean over rows of max^2 / sum) / 2``, where a
    column or row whose ratio is NaN (all zeros, or NaN entries) contributes 0. The
    entries are not normalised first, so the score also reflects their size: the
    identity scores 1, ``0.5 * identity`` scores 0.5.

    Parameters
    ----------
    matrix : array-like of shape (d_a, d_b)
        Non-negative similarities (NaN allowed), rows = dims of model a.

    Returns
    -------
    float
        In [0, 1] for entries in [0, 1]; 0 for an empty matrix.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ParameterError(f"matrix must be 2-D, got shape {matrix.shape}")
    if matrix.size == 0:
        return 0.0
    if (matrix < 0).any():
        raise ParameterError("matrix must be non-negative (absolute similarities)")
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = np.max(matrix, axis=0) ** 2 / np.sum(matrix, axis=0)
        rows = np.max(matrix, axis=1) ** 2 / np.sum(matrix, axis=1)
    columns = np.where(np.isfinite(columns), columns, 0.0)
    rows = np.where(np.isfinite(rows), rows, 0.0)
    return float((columns.mean() + rows.mean()) / 2)


def gaussian_kl(mean: Any, logvar: Any) -> np.ndarray:
    """Mean KL divergence of N(mean, exp(logvar)) to N(0, 1), per dim.

    Parameters
    ----------
    mean, logvar : array-like of shape (n, d)
        A VAE encoder's posterior means and log-variances.

    Returns
    -------
    ndarray of shape (d,)
        ``mean over n of 0.5 * (mean^2 + exp(logvar) - logvar - 1)``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mean.ndim != 2 or mean.shape != logvar.shape:
        raise ParameterError(
            f"mean and logvar must both have shape (n, d), got {mean.shape} and {logvar.shape}"
        )
    if mean.shape[0] == 0:
        raise ParameterError("mean and logvar have no rows")
    return np.mean(0.5 * (mean**2 + np.exp(logvar) - logvar - 1.0), axis=0)


@dataclass(frozen=True)
class UDRResult:
    """UDR scores of N models.

    Attributes
    ----------
    scores : ndarray of shape (N,)
        Model scores: median over the other models b of ``pairwise[b, i]``.
    pairwise : ndarray of shape (N, N)
        ``pairwise[a, b]`` = relative strength of R(a -> b); the diagonal is NaN.
    informative : tuple of N bool ndarrays of shape (d_i,)
        Which dims of each model took part in the score.
    rules : tuple of N str
        The informative-dim rule applied to each model (VAE KL rule or GAN spread rule).
    method : str
        "lasso" or "spearman".
    names : tuple of N str
    alpha : float
        Lasso penalty (recorded for both methods, used by "lasso" only).
    kl_threshold : float
    skipped : dict of str to str
        Models left out by ``skip_bad`` (name -> reason).
    settings : dict
        How the representations were made (dataset, samples, seed), for the JSON.
    """

    scores: np.ndarray
    pairwise: np.ndarray
    informative: tuple[np.ndarray, ...]
    rules: tuple[str, ...]
    method: str
    names: tuple[str, ...]
    alpha: float
    kl_threshold: float
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def informative_rule(self) -> str:
        """The rule used, or the distinct rules joined by '; ' for a mixed zoo."""
        return "; ".join(dict.fromkeys(self.rules))

    def ranking(self) -> np.ndarray:
        """Model indices, best score first (ties keep the input order)."""
        return np.argsort(-self.scores, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: per-model entries keyed by name, NaN diagonal as None."""
        ranks = np.empty(len(self.scores), dtype=int)
        ranks[self.ranking()] = np.arange(1, len(self.scores) + 1)
        models = {
            name: {
                "rank": int(ranks[i]),
                "udr": float(self.scores[i]),
                "informative_dims": np.flatnonzero(self.informative[i]).tolist(),
                "n_dims": int(self.informative[i].size),
                "rule": self.rules[i],
            }
            for i, name in enumerate(self.names)
        }
        matrix = [
            [None if a == b else float(self.pairwise[a, b]) for b in range(len(self.names))]
            for a in range(len(self.names))
        ]
        return {
            "version": __version__,
            **self.settings,
            "method": self.method,
            "alpha": self.alpha if self.method == "lasso" else None,
            "kl_threshold": self.kl_threshold,
            "informative_rule": self.informative_rule,
            "models": models,
            "pairwise": {
                "orientation": "matrix[a][b] = relative strength of R(a -> b), "
                "b's dims predicted from a's; a model's score is the median of its column",
                "names": list(self.names),
                "matrix": matrix,
            },
            "skipped": dict(self.skipped),
        }

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(path, self.to_dict())


def _check_inputs(
    representations: Sequence[Any], kl: Sequence[Any] | None, names: Sequence[str] | None
) -> tuple[list[np.ndarray], list[np.ndarray | None], tuple[str, ...]]:
    if isinstance(representations, np.ndarray) or not isinstance(representations, Sequence):
        raise ParameterError("representations must be a list of (n, d_i) arrays, one per model")
    count = len(representations)
    if count < 2:
        raise ParameterError(f"UDR needs at least 2 models, got {count}")
    if names is None:
        names = tuple(f"model{i}" for i in range(count))
    else:
        names = tuple(str(name) for name in names)
        if len(names) != count:
            raise ParameterError(f"got {len(names)} names for {count} representations")
    reps = []
    for name, rep in zip(names, representations):
        rep = np.asarray(rep, dtype=np.float64)
        if rep.ndim != 2 or rep.shape[1] < 1:
            raise ParameterError(f"{name}: representation must have shape (n, d), got {rep.shape}")
        if rep.shape[0] < 2:
            raise ParameterError(f"{name}: representation needs >= 2 rows, got {rep.shape[0]}")
        if reps and rep.shape[0] != reps[0].shape[0]:
            raise ParameterError(
                f"{name}: representation has {rep.shape[0]} rows, {names[0]} has "
                f"{reps[0].shape[0]} (every model must encode the same observations)"
            )
        if not np.isfinite(rep).all():
            raise ParameterError(f"{name}: representation contains NaN or inf")
        reps.append(rep)
    if kl is None:
        kls: list[np.ndarray | None] = [None] * count
    else:
        if len(kl) != count:
            raise ParameterError(f"got {len(kl)} KL vectors for {count} representations")
        kls = []
        for name, rep, vector in zip(names, reps, kl):
            if vector is not None:
                vector = np.asarray(vector, dtype=np.float64)
                if vector.shape != (rep.shape[1],):
                    raise ParameterError(
                        f"{name}: KL vector must have shape ({rep.shape[1]},), got {vector.shape}"
                    )
                if np.isinf(vector).any():
                    raise ParameterError(f"{name}: KL vector contains inf")
                if np.isnan(vector).all():
                    raise ParameterError(f"{name}: KL vector is all NaN (pass None for no KL)")
            kls.append(vector)
    return reps, kls, names


def _informative(
    rep: np.ndarray, kl: np.ndarray | None, kl_threshold: float
) -> tuple[np.ndarray, str]:
    if kl is not None and not np.isnan(kl).any():
        return kl >= kl_threshold, kl_rule(kl_threshold)
    spread = rep.std(axis=0)
    spread_mask = spread > SPREAD_EPS * np.maximum(1.0, np.abs(rep).max(axis=0))
    if kl is None:
        return spread_mask, spread_rule()
    has_kl = ~np.isnan(kl)
    mask = np.where(has_kl, np.nan_to_num(kl) >= kl_threshold, spread_mask)
    return mask, mixed_rule(kl_threshold)


def _standardise(values: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per column (ddof 0); constant columns become 0, not NaN."""
    centred = values - values.mean(axis=0)
    std = centred.std(axis=0)
    return centred / np.where(std > 0, std, 1.0)


def _lasso_rows(design: np.ndarray, targets: np.ndarray, alpha: float, seed: int) -> np.ndarray:
    """|coef| of Lasso(alpha) regressing every target column on ``design``: (d_x, d_y)."""
    from sklearn.linear_model import Lasso

    if design.shape[1] == 0 or targets.shape[1] == 0:
        return np.zeros((design.shape[1], targets.shape[1]))
    # One RandomState object per fit, as disentanglement_lib passes: an int would be turned
    # into a fresh RandomState for every target column, which costs more than the fit.
    model = Lasso(alpha=alpha, random_state=np.random.RandomState(seed))
    model.fit(design, targets)
    return np.abs(np.atleast_2d(model.coef_).reshape(targets.shape[1], design.shape[1]).T)


def _lasso_pairwise(
    blocks: list[np.ndarray], alpha: float, seed: int, n_jobs: int | None
) -> np.ndarray:
    from joblib import Parallel, delayed

    count = len(blocks)
    others = [[b for b in range(count) if b != a] for a in range(count)]
    # The coordinate-descent loops release the GIL; threads avoid shipping every target
    # matrix to worker processes.
    coefs = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_lasso_rows)(
            blocks[a], np.concatenate([blocks[b] for b in others[a]], axis=1), alpha, seed
        )
        for a in range(count)
    )
    pairwise = np.full((count, count), np.nan)
    for a in range(count):
        edges = np.cumsum([0] + [blocks[b].shape[1] for b in others[a]])
        for position, b in enumerate(others[a]):
            pairwise[a, b] = relative_strength(coefs[a][:, edges[position] : edges[position + 1]])
    return pairwise


def _spearman_pairwise(blocks: list[np.ndarray]) -> np.ndarray:
    count = len(blocks)
    n = blocks[0].shape[0]
    # Spearman = Pearson of ranks: rank each model's dims once, then one product.
    ranks = [_standardise(rankdata(block, axis=0)) if block.shape[1] else block for block in blocks]
    stacked = np.concatenate(ranks, axis=1)
    correlation = np.abs(stacked.T @ stacked) / n
    edges = np.cumsum([0] + [block.shape[1] for block in blocks])
    pairwise = np.full((count, count), np.nan)
    for a in range(count):
        for b in range(a + 1, count):
            block = correlation[edges[a] : edges[a + 1], edges[b] : edges[b + 1]]
            pairwise[a, b] = pairwise[b, a] = relative_strength(block)
    return pairwise


def udr_scores(
    representations: Sequence[Any],
    kl: Sequence[Any] | None = None,
    method: str = "lasso",
    random_state: Any = 0,
    alpha: float = 0.1,
    kl_threshold: float = KL_THRESHOLD,
    n_jobs: int | None = None,
    names: Sequence[str] | None = None,
) -> UDRResult:
    """UDR scores of N models from their encodings of the same observations.

    Parameters
    ----------
    representations : list of N array-likes of shape (n, d_i)
        Model i's encoding of the same n observations (for a VAE the posterior mean).
    kl : list of N (array-like of shape (d_i,) or None), optional
        Mean KL to the prior per dim (see :func:`gaussian_kl`). Models with a KL vector
        use the VAE rule (informative iff KL >= ``kl_threshold``); models without one
        (GANs) use the GAN rule: code dims with non-zero spread. NaN entries mark dims
        without a log-variance (a categorical latent's outputs), which take the spread
        rule; a vector may not be all NaN.
    method : {"lasso", "spearman"}
    random_state : None, int or numpy Generator
        Seeds scikit-learn's Lasso; its default cyclic coordinate descent draws nothing,
        so results do not depend on it (kept for the disentanglement_lib signature).
    alpha : float
        Lasso penalty.
    kl_threshold : float
    n_jobs : int, optional
        Parallel Lasso fits (joblib threads; None: 1, -1: all cores). Results do not
        depend on it.
    names : list of N str, optional
        Model names for the result and error messages (default ``model0`` ...).

    Returns
    -------
    UDRResult
    """
    check_choice("method", method, METHODS)
    check_float("alpha", alpha, minimum=0, open_minimum=True)
    check_float("kl_threshold", kl_threshold, minimum=0)
    reps, kls, names = _check_inputs(representations, kl, names)
    informative, rules, blocks = [], [], []
    for rep, vector in zip(reps, kls):
        mask, rule = _informative(rep, vector, kl_threshold)
        informative.append(mask)
        rules.append(rule)
        # Dropping a column equals disentanglement_lib's zeroing it: a zero regressor gets
        # a zero coefficient and leaves the other coefficients unchanged.
        blocks.append(np.asfortranarray(_standardise(rep[:, mask])))
    if method == "lasso":
        seed = int(check_random_state(random_state).integers(2**31 - 1))
        pairwise = _lasso_pairwise(blocks, float(alpha), seed, n_jobs)
    else:
        pairwise = _spearman_pairwise(blocks)
    scores = np.array(
        [np.median(np.delete(pairwise[:, i], i)) for i in range(len(reps))], dtype=np.float64
    )
    return UDRResult(
        scores=scores,
        pairwise=pairwise,
        informative=tuple(informative),
        rules=tuple(rules),
        method=method,
        names=names,
        alpha=float(alpha),
        kl_threshold=float(kl_threshold),
    )


def encode_representation(
    model: Any,
    observations: np.ndarray,
    batch_size: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Encode observations with one model for UDR, in batches (``progress``, if given,
    receives the size of each finished batch).

    Returns
    -------
    codes : ndarray of shape (n, E)
    kl : ndarray of shape (E,) or None
        :func:`gaussian_kl` of the posterior for a VAE with a log-variance output;
        None for a GAN or a VAE without one (the GAN spread rule then applies). When
        the log-variance covers only the first E_c < E codes (a model with a
        categorical latent), the other E - E_c entries are NaN: no KL, spread rule.
    """
    check_int("batch_size", batch_size, minimum=1)
    want_logvar = model.kind == "vae"
    codes, logvars = [], []
    for start in range(0, len(observations), batch_size):
        batch_codes, batch_logvar = model.encode_with_logvar(
            observations[start : start + batch_size], want_logvar=want_logvar
        )
        codes.append(batch_codes)
        logvars.append(batch_logvar)
        if progress is not None:
            progress(len(batch_codes))
    if not codes:
        raise ParameterError("observations are empty")
    codes = np.concatenate(codes, axis=0)
    if any(lv is None for lv in logvars) or not want_logvar:
        return codes, None
    logvar = np.concatenate(logvars, axis=0)
    covered = logvar.shape[1]
    kl = np.full(codes.shape[1], np.nan)
    kl[:covered] = gaussian_kl(codes[:, :covered], logvar)
    return codes, kl


def udr_for_models(
    models: Sequence[Any],
    observations: np.ndarray,
    method: str = "lasso",
    random_state: Any = 0,
    batch_size: int = 1024,
    alpha: float = 0.1,
    kl_threshold: float = KL_THRESHOLD,
    n_jobs: int | None = None,
    *,
    skip_bad: bool = False,
    settings: dict[str, Any] | None = None,
    progress: bool | None = None,
) -> UDRResult:
    """UDR of a zoo: every model encodes the same observations once, then :func:`udr_scores`.

    Parameters
    ----------
    models : list of N :class:`~modelcentrality.contract.Model`
        VAEs with a log-variance output use the KL rule, the others the GAN spread rule;
        a VAE's outputs beyond its log-variance's width (a categorical latent's class
        probabilities) take the spread rule.
    observations : ndarray of shape (n, *observation_shape)
        Real data, e.g. ``dataset.sample_observations(1000, seed)``.
    method, random_state, alpha, kl_threshold, n_jobs :
        See :func:`udr_scores`.
    batch_size : int
        Rows per encoder call.
    skip_bad : bool
        Leave out models whose shape does not match or whose encoder fails (recorded
        in ``skipped``) instead of raising.
    settings : dict, optional
        Recorded in the result's JSON (e.g. dataset, samples, seed).
    progress : bool or None
        Models encoded so far, on stderr (None: only on a terminal; True: also plain
        lines in a log).

    Returns
    -------
    UDRResult
        Named after the models that took part.
    """
    observations = np.asarray(observations, dtype=np.float32)
    usable, skipped = filter_by_shape(
        models, observations.shape[1:], "the observations'", skip_bad=skip_bad
    )
    names, reps, kls = [], [], []
    n_obs = len(observations)
    with ProgressBar(
        len(usable) * n_obs, "udr: encoding", enabled=progress, unit="observations"
    ) as bar:
        bar.note(f"{len(usable)} models x {n_obs:,} observations, then {method} similarities")
        for model in usable:
            bar.update(0, model.name)
            before = bar.done
            try:
                encode = partial(encode_representation, model, observations, batch_size, bar.update)
                encoded = call_or_skip(encode, model.name, skipped, skip_bad)
            finally:
                bar.update(before + n_obs - bar.done)
            if encoded is None:
                continue
            codes, kl = encoded
            names.append(model.name)
            reps.append(codes)
            kls.append(kl)
    if len(names) < 2:
        raise ZooError(f"UDR needs at least 2 usable models, got {len(names)}", skipped)
    result = udr_scores(
        reps,
        kls,
        method=method,
        random_state=random_state,
        alpha=alpha,
        kl_threshold=kl_threshold,
        n_jobs=n_jobs,
        names=names,
    )
    return replace(result, skipped=skipped, settings=dict(settings or {}))
