"""effaug: efficient data augmentation via subsampling (Kuchnik & Smith,
ICLR 2019), a Snakemake workflow and this library.

The Python API (docs/api.md), loaded on first use so that ``import effaug``
stays free of NumPy, h5py, scikit-learn, TensorFlow and Snakemake:

- :func:`select`: the indices of the training points to augment.
- :func:`scores` (also :func:`point_scores`): the per-point scores;
  ``effaug.scores`` is the scores module, made callable.
- :class:`AugmentationSelector`: ``fit(X, y)``, then ``select(budget)``.
- :data:`SCORES`, :data:`POLICY_NAMES`, :data:`POLICY_PATTERNS`: valid names.
"""

_API = ("select", "point_scores", "AugmentationSelector", "NotFittedError", "SCORES", "POLICY_NAMES",
        "POLICY_PATTERNS")

__all__ = [*_API, "__version__"]


def __getattr__(name):
    # only the API's names: anything else (the submodules) takes the normal path
    if name in _API:
        from effaug import api

        return getattr(api, name)
    if name == "scores":  # the scores module, made callable by the API
        from effaug import api

        return api.S
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("effaug")
        except PackageNotFoundError:
            return "0+unknown"
    raise AttributeError(f"module 'effaug' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
