"""The install's extras: the Python API needs only the base dependencies
(NumPy, h5py, SciPy, scikit-learn), the workflow and the CLI need
``effaug[workflow]``, the test suite ``effaug[test]``.

A base-only install cannot be built offline, so the API is run in a
subprocess of this environment in which every workflow-only module is made
unimportable (an import hook raises ``ModuleNotFoundError`` for it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

BASE = {"numpy", "h5py", "scipy", "scikit-learn"}
WORKFLOW_ONLY = {"snakemake", "tensorflow-cpu", "imgaug", "opencv-python", "scikit-image", "pandas", "matplotlib",
                 "mlxtend", "pyyaml", "jsonschema", "snakemake-executor-plugin-slurm",
                 "snakemake-executor-plugin-slurm-jobstep", "snakemake-executor-plugin-cluster-generic"}
# the import names of WORKFLOW_ONLY (and of TensorFlow's Keras)
BLOCKED_MODULES = ("snakemake", "tensorflow", "keras", "imgaug", "cv2", "skimage", "pandas", "matplotlib", "mlxtend",
                   "yaml", "jsonschema")

BLOCKER = textwrap.dedent(f"""
    import importlib.abc
    import sys

    BLOCKED = {BLOCKED_MODULES!r}

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (not a base dependency)", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
""")


def names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def run_without_workflow_modules(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def lock_pins() -> dict[str, str]:
    lines = (REPO / "requirements.lock").read_text().split()
    return {canonicalize_name(name): version for name, _, version in (line.partition("==") for line in lines)}


def test_base_dependencies_are_the_api_s_only():
    assert names(PYPROJECT["dependencies"]) == BASE


def test_workflow_extra_holds_snakemake_tensorflow_and_the_slurm_plugins():
    extras = PYPROJECT["optional-dependencies"]
    assert names(extras["workflow"]) == WORKFLOW_ONLY
    assert not names(extras["workflow"]) & BASE


def test_test_extra_is_the_workflow_plus_pytest_and_snakefmt():
    test = PYPROJECT["optional-dependencies"]["test"]
    assert names(test) == {"effaug", "pytest", "snakefmt"}
    assert Requirement(next(r for r in test if r.startswith("effaug"))).extras == {"workflow"}


def test_lock_file_pins_every_requirement_within_its_range():
    pins = lock_pins()
    groups = [PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"].values()]
    requirements = [Requirement(r) for group in groups for r in group if not r.startswith("effaug")]
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is required by pyproject.toml but not pinned in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement}"


def test_import_effaug_loads_no_numpy():
    result = run_without_workflow_modules("""
        import effaug
        assert "numpy" not in sys.modules, "import effaug loaded NumPy"
        print(effaug.__version__)
    """)
    assert result.returncode == 0, result.stderr


def test_api_runs_without_the_workflow_modules():
    result = run_without_workflow_modules("""
        import json

        import numpy as np

        import effaug

        rng = np.random.default_rng(0)
        X = rng.normal(size=(60, 5))
        y = np.arange(60) % 3
        chosen = effaug.select(X, y, "20%", score="influence", policy="rand-prop", seed=0)
        clustered = effaug.select(X, y, 6, score="loss", policy="clustered-rand-prop-c3", seed=0)
        margins = effaug.scores(X, y, "svm_margin")
        augmented = X.repeat(2, axis=0) + rng.normal(scale=0.1, size=(120, 5))
        selector = effaug.AugmentationSelector(score="loss", policy="det-prop-update", update_budgets=2)
        updated = selector.fit(X, y, augmented, np.arange(60).repeat(2)).select(6)
        loaded = sorted({name.partition(".")[0] for name in sys.modules} & set(BLOCKED))
        print(json.dumps({"chosen": len(set(chosen.tolist())), "clustered": len(set(clustered.tolist())),
                          "margins": margins.shape, "updated": len(set(updated.tolist())), "loaded": loaded}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"chosen": 12, "clustered": 6, "margins": [60], "updated": 6, "loaded": []}


def test_blocker_really_blocks():
    result = run_without_workflow_modules("import tensorflow")
    assert result.returncode != 0 and "No module named 'tensorflow' (not a base dependency)" in result.stderr


def test_cli_names_the_workflow_extra_when_it_is_missing(tmp_path):
    result = run_without_workflow_modules(f"""
        from effaug.cli import main

        sys.exit(main(["run", "--dry-run", "--directory", {str(tmp_path)!r}]))
    """)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "effaug run needs the workflow extra (yaml is not installed): pip install 'effaug[workflow]'"]
