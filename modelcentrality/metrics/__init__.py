"""Supervised disentanglement metrics on ground-truth datasets (disentanglement_lib semantics).

Every metric is a function
``compute_<metric>(representation_function, dataset, random_state=0, **settings) -> dict``
where ``representation_function`` maps observations (B, *observation_shape) float32 to
codes (B, E) (a model's ``encode`` method is one) and ``dataset`` is a
:class:`~modelcentrality.datasets.GroundTruthDataset`. Defaults are disentanglement_lib's;
sample counts can be lowered through keyword arguments for quick runs.

:func:`evaluate` runs several metrics on one representation.

scikit-learn, joblib and scipy.stats are imported inside the functions that use them:
they take about a second to import, and the CLI imports this package on every start.
"""

from ._evaluate import (
    METRIC_INFO,
    METRICS,
    MetricInfo,
    check_metric_names,
    evaluate,
    metric_settings,
)
from ._zoo import ZooEvaluation, evaluate_zoo
from .beta_vae import compute_beta_vae
from .dci import compute_dci
from .factor_vae import compute_factor_vae
from .mig import compute_mig
from .modularity import compute_modularity
from .sap import compute_sap

__all__ = [
    "METRICS",
    "METRIC_INFO",
    "MetricInfo",
    "check_metric_names",
    "compute_beta_vae",
    "compute_dci",
    "compute_factor_vae",
    "compute_mig",
    "compute_modularity",
    "compute_sap",
    "ZooEvaluation",
    "evaluate",
    "evaluate_zoo",
    "metric_settings",
]
