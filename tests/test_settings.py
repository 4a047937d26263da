"""The experiment's settings: one name per config key, and the deprecated hessian_l2 name."""

import dataclasses
import warnings

import numpy as np
import pytest
import yaml

from effaug import scores as S
from effaug.api import AugmentationSelector
from effaug.settings import Settings
from tests.conftest import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
EXPERIMENT = SCHEMA["properties"]["experiment"]["properties"]


def config_keys() -> dict[str, object]:
    """Every key of ``experiment`` with its schema default, a nested key as ``group_key`` (``svm_C_grid``)."""
    keys = {}
    for name, spec in EXPERIMENT.items():
        if spec.get("type") == "object" and "properties" in spec:
            keys |= {f"{name}_{key}": sub.get("default") for key, sub in spec["properties"].items()}
        else:
            keys[name] = spec.get("default")
    return keys


def default_experiment(**changes) -> dict:
    """The ``experiment`` mapping of the schema's defaults, nested like the config."""
    cfg = {name: spec.get("default") for name, spec in EXPERIMENT.items() if spec.get("type") != "object"}
    for name, spec in EXPERIMENT.items():
        if spec.get("type") == "object" and "properties" in spec:
            cfg[name] = {key: sub.get("default") for key, sub in spec["properties"].items()}
    return {**cfg, **changes}


def test_every_setting_is_named_like_its_config_key():
    keys = config_keys()
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert [f for f in fields if f not in keys] == []
    assert Settings.from_config(default_experiment()) == Settings()  # and the schema's defaults are the fields'


def test_hessian_l2_paper_is_a_deprecated_name_of_code():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = Settings.from_config(default_experiment(hessian_l2="code"))
    with pytest.warns(FutureWarning, match=r"experiment\.hessian_l2: 'paper' is deprecated, use hessian_l2: code"):
        paper = Settings.from_config(default_experiment(hessian_l2="paper"))
    assert paper == code and paper.l2 == code.l2 == 2e-10
    with pytest.raises(S.ScoreError, match="hessian_l2 must be 'code'"):
        S.hessian_l2("paper", 1.0)  # below the settings, one name only


def test_the_api_takes_the_deprecated_name_too():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    code = AugmentationSelector("influence", "det-prop", hessian_l2="code").fit(X, y).scores_
    with pytest.warns(FutureWarning, match="hessian_l2: 'paper' is deprecated, use hessian_l2: code"):
        paper = AugmentationSelector("influence", "det-prop", hessian_l2="paper").fit(X, y).scores_
    np.testing.assert_array_equal(paper, code)
