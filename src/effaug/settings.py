"""The experiment's model settings (config key ``experiment``): one field per
config key, named like it (``svm.C_grid`` is ``svm_C_grid``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import effaug.scores as S  # the module itself: effaug.__getattr__ would load the API (a cycle)

# Deprecated values of ``hessian_l2``: the old name -> the name that replaces it (same behaviour).
HESSIAN_L2_ALIASES = {"paper": "code"}


def hessian_l2_value(value: str | float, key: str = "hessian_l2") -> str | float:
    """``value`` with a deprecated name replaced by its new one, with a
    FutureWarning naming ``key`` (the config key or parameter) and the new value."""
    if isinstance(value, str) and value in HESSIAN_L2_ALIASES:
        new = HESSIAN_L2_ALIASES[value]
        warnings.warn(f"{key}: {value!r} is deprecated, use {key.rsplit('.', 1)[-1]}: {new} (the same value, the "
                      "authors' code's 2e-10)", FutureWarning, stacklevel=2)
        return new
    return value


@dataclass(frozen=True)
class Settings:
    """The experiment's model settings (config key ``experiment``)."""

    C: float = 1.0
    solver: str = "newton"
    tol: float = 1e-10
    max_iter: int = 100
    hessian_l2: str | float = "code"
    hessian_sample_weights: bool = False
    svm_C_grid: tuple = (0.01, 0.1, 1.0, 10.0, 100.0)
    svm_folds: int = 4
    clustered_n_init: int = 10
    clustered_seed: int = 0
    hessian_structure: str = "full"
    kdpp_feature_scale: float = 1e3

    @classmethod
    def from_config(cls, cfg: Mapping) -> Settings:
        """The settings of the config's ``experiment`` mapping (the schema's defaults filled in)."""
        return cls(
            C=float(cfg["C"]),
            solver=cfg["solver"],
            tol=float(cfg["tol"]),
            max_iter=int(cfg["max_iter"]),
            hessian_l2=hessian_l2_value(cfg["hessian_l2"], "experiment.hessian_l2"),
            hessian_sample_weights=bool(cfg["hessian_sample_weights"]),
            svm_C_grid=tuple(float(c) for c in cfg["svm"]["C_grid"]),
            svm_folds=int(cfg["svm"]["folds"]),
            clustered_n_init=int(cfg["clustered"]["n_init"]),
            clustered_seed=int(cfg["clustered"]["seed"]),
            hessian_structure=cfg["hessian_structure"],
            kdpp_feature_scale=float(cfg["kdpp"]["feature_scale"]),
        )

    @property
    def l2(self) -> float:
        return S.hessian_l2(self.hessian_l2, self.C)
