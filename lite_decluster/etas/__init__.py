"""Space-time ETAS fitted by maximum likelihood, and stochastic declustering (issue 12).

numpy and scipy only. Modules: ``kernels`` (productivity, Omori-Utsu, spatial kernel),
``geometry`` (positions, distances, region, kernel shares), ``pairs`` (pruned parent-child
pairs), ``likelihood`` (log-likelihood and gradient), ``background`` (homogeneous or
kernel-smoothed background), ``params`` (results, JSON), ``fit`` (:func:`decluster_etas`).
See ``docs/etas.md``.
"""

from lite_decluster.etas.errors import EtasError
from lite_decluster.etas.fit import decluster_etas
from lite_decluster.etas.kernels import PARAM_NAMES
from lite_decluster.etas.params import EtasResult, load_etas_params, save_etas_params

__all__ = [
    "PARAM_NAMES",
    "EtasError",
    "EtasResult",
    "decluster_etas",
    "load_etas_params",
    "save_etas_params",
]
