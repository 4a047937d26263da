"""Deterministic, exhaustive augmentations (METHOD.md, "Augmentations").

Each augmentation maps one image to a fixed list of K images, one per
transform; every selected point gets all K. Parameters (config keys):

=========  =====================  ==========================================
name       parameters             transforms (K)
=========  =====================  ==========================================
translate  ``shift`` (m)          ``Affine(translate_px={"x": dx, "y": dy})``
                                  for (dx, dy) in (+m,+m), (-m,+m), (+m,-m),
                                  (-m,-m) (the code's diagonal shifts); K=4
rotate     ``max_angle`` (M),     ``Affine(rotate=a)`` for a in
           ``n_angles`` (n)       ``linspace(-M, M, n)`` without exact zeros
crop       ``px`` (list of c)     ``Crop(px=c, keep_size=True)`` per c
=========  =====================  ==========================================

Affine uses ``mode="edge"`` and imgaug's defaults otherwise (bilinear,
OpenCV backend for uint8). Augmented arrays are *source-major*: row
``i * K + k`` is transform ``k`` of image ``i``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

AUGMENTATIONS = ("translate", "rotate", "crop")


class AugmentationError(ValueError):
    """Unknown augmentation or invalid parameters."""


def translate_shifts(shift: int) -> list[tuple[int, int]]:
    """The four diagonal (dx, dy) shifts of the authors' code."""
    m = int(shift)
    return [(m, m), (-m, m), (m, -m), (-m, -m)]


def rotate_angles(max_angle: float, n_angles: int) -> list[float]:
    """``linspace(-M, M, n)`` with exact zeros removed."""
    angles = np.linspace(-float(max_angle), float(max_angle), int(n_angles))
    return [float(a) for a in angles if a != 0.0]


def transforms(name: str, params: Mapping) -> list[dict]:
    """One description per transform, in transform-index order, e.g.
    ``[{"dx": 2, "dy": 2}, ...]`` for translate."""
    try:
        if name == "translate":
            shift = int(params["shift"])
            if shift < 1:
                raise AugmentationError(f"translate.shift must be >= 1, got {shift}")
            return [{"dx": dx, "dy": dy} for dx, dy in translate_shifts(shift)]
        if name == "rotate":
            if int(params["n_angles"]) < 1 or float(params["max_angle"]) <= 0:
                raise AugmentationError("rotate needs max_angle > 0 and n_angles >= 1")
            angles = rotate_angles(params["max_angle"], params["n_angles"])
            if not angles:
                raise AugmentationError("rotate: every angle is zero; raise n_angles")
            return [{"angle": a} for a in angles]
        if name == "crop":
            px = [int(c) for c in params["px"]]
            if not px or min(px) < 1:
                raise AugmentationError(f"crop.px must be a non-empty list of ints >= 1, got {px}")
            return [{"px": c} for c in px]
    except KeyError as err:
        raise AugmentationError(f"{name}: missing parameter {err}") from err
    raise AugmentationError(f"unknown augmentation {name!r}; expected one of {', '.join(AUGMENTATIONS)}")


def augmenters(name: str, params: Mapping) -> list:
    """The imgaug augmenters, one per transform."""
    from effaug._imgaug_compat import iaa

    described = transforms(name, params)
    if name == "translate":
        return [iaa.Affine(translate_px={"x": t["dx"], "y": t["dy"]}, mode="edge") for t in described]
    if name == "rotate":
        return [iaa.Affine(rotate=t["angle"], mode="edge") for t in described]
    return [iaa.Crop(px=t["px"], keep_size=True) for t in described]


def n_transforms(name: str, params: Mapping) -> int:
    """K, the number of augmented copies per image."""
    return len(transforms(name, params))


def augment(images: np.ndarray, name: str, params: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply every transform to every image.

    Parameters
    ----------
    images : uint8 array of shape (N, H, W, C)

    Returns
    -------
    augmented : uint8 array of shape (N * K, H, W, C), source-major
    source : int64 array of shape (N * K,), the index of each row's image
    transform : int64 array of shape (N * K,), the index of each row's transform
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise AugmentationError(f"expected uint8 images of shape (N, H, W, C), got {images.dtype} {images.shape}")
    steps = augmenters(name, params)
    n, k = len(images), len(steps)
    if n == 0:
        empty = np.empty(0, np.int64)
        return np.empty((0, *images.shape[1:]), np.uint8), empty, empty
    per_transform = np.stack([step(images=images) for step in steps], axis=1)
    augmented = per_transform.reshape(n * k, *images.shape[1:])
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    transform = np.tile(np.arange(k, dtype=np.int64), n)
    return augmented, source, transform
