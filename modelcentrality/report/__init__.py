"""A visual report of a ranking, and ground truth to compare it with.

:func:`write_report` writes one self-contained HTML page (the ranking with intervals,
the similarity heatmap, latent traversals of the top and bottom models, optional UDR
and ground-truth columns); :func:`read_ground_truth` reads supervised scores from a
``train-zoo`` manifest or an ``evaluate -o`` file; :func:`report_ranking` compares a
ranking with UDR and ground truth and writes its report; :func:`ranking_notes` says how
its search ended. Figures need matplotlib (``pip install 'modelcentrality[report]'``):
:func:`pyplot` returns it, or raises the one-line error that says so.
"""

from ._figures import pyplot
from ._ground_truth import GroundTruth, read_ground_truth
from ._html import REPORT_FILE, write_report
from ._outcome import RankingReport, ranking_notes, report_ranking
from ._traversals import prior_quantiles, traversal_columns, traversal_grid

__all__ = [
    "REPORT_FILE",
    "GroundTruth",
    "RankingReport",
    "prior_quantiles",
    "pyplot",
    "ranking_notes",
    "read_ground_truth",
    "report_ranking",
    "traversal_columns",
    "traversal_grid",
    "write_report",
]
