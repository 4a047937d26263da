"""Augmentations: each maps one image to a fixed list of K images, one per
transform (a "copy"); every selected point gets all K.

Built-in, deterministic and exhaustive (docs/method.md, "Augmentations"),
selected by the augmentation's name; parameters (config keys):

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
OpenCV backend for uint8).

Any other name, or any name whose parameters hold ``imgaug``, is a *custom*
augmentation: ``{imgaug: [{Affine: {rotate: [-10, 10]}}, {Fliplr: 0.5}],
copies: 4, seed: 0}`` applies those imgaug augmenters as one ``Sequential``,
``copies`` times per image, each copy a seeded random draw: copy ``k`` of the
image with point id ``i`` is drawn with the seed ``SeedSequence([seed,
stream, i, k])``, so it is the same whichever other images are augmented
with it (a retrained model sees exactly the cached copies). The arguments
(:func:`build_imgaug`) are YAML values: a list of two numbers is imgaug's
uniform range (a tuple), ``{choice: [...]}`` a discrete choice (a list), a
list of one-key mappings naming augmenters a list of child augmenters (for
``Sometimes``, ``OneOf``, ``SomeOf``, ``Sequential``). Only augmenter classes
are looked up by name; nothing in a config is evaluated.

Augmented arrays are *source-major*: row ``i * K + k`` is transform ``k``
of image ``i``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

AUGMENTATIONS = ("translate", "rotate", "crop")
# An augmentation's name is a folder of results/: the whole name must match (no trailing newline).
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Not constructible from a config: they take functions, write files or only check.
EXCLUDED_AUGMENTERS = frozenset({"Augmenter", "Lambda", "AssertLambda", "AssertShape", "SaveDebugImageEveryNBatches"})
CHOICE = "choice"
# The ``stream`` of :func:`augment`: a custom augmentation draws training points' and test images' copies apart.
TRAIN_STREAM, TEST_STREAM = 0, 1


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
    ``[{"dx": 2, "dy": 2}, ...]`` for translate, ``[{"copy": 0}, ...]`` for a
    custom augmentation."""
    check_name(name)
    if is_custom(name, params):
        return [{"copy": k} for k in range(custom_copies(params))]
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
    raise AugmentationError(f"unknown augmentation {name!r}: a built-in name ({', '.join(AUGMENTATIONS)}) "
                            "or a custom augmentation with an imgaug list")


def check_name(name: str) -> None:
    """AugmentationError unless the whole name is letters, digits, ``_`` and ``-``, starting with a letter."""
    if not (isinstance(name, str) and NAME.fullmatch(name)):
        raise AugmentationError(f"augmentation name {name!r}: use letters, digits, _ and - only, starting with a "
                                "letter (no spaces or line breaks)")


def is_custom(name: str, params: Mapping) -> bool:
    """A custom (imgaug-spec) augmentation rather than a built-in one."""
    return isinstance(params, Mapping) and "imgaug" in params


def custom_copies(params: Mapping) -> int:
    copies = params.get("copies", 1)
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise AugmentationError(f"copies must be an integer >= 1, got {copies!r}")
    return copies


def augmenter_names() -> list[str]:
    """The imgaug augmenter classes a custom augmentation may name."""
    from effaug._imgaug_compat import iaa

    base = iaa.meta.Augmenter
    return sorted(n for n in dir(iaa) if n not in EXCLUDED_AUGMENTERS and not n.startswith("_")
                  and isinstance(getattr(iaa, n), type) and issubclass(getattr(iaa, n), base))


def _is_augmenter_list(value) -> bool:
    return (isinstance(value, list) and len(value) > 0
            and all(isinstance(v, Mapping) and len(v) == 1 and str(next(iter(v)))[:1].isupper() for v in value))


def _argument(value, where: str):
    """A YAML value as an imgaug argument (see the module docstring)."""
    if isinstance(value, Mapping):
        if set(value) == {CHOICE}:
            if not isinstance(value[CHOICE], list) or not value[CHOICE]:
                raise AugmentationError(f"{where}.{CHOICE} must be a non-empty list")
            return [_argument(v, f"{where}.{CHOICE}") for v in value[CHOICE]]
        return {str(k): _argument(v, f"{where}.{k}") for k, v in value.items()}
    if _is_augmenter_list(value):
        return [_augmenter(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return tuple(value)
        return [_argument(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _augmenter(entry: Mapping, where: str):
    from effaug._imgaug_compat import iaa

    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise AugmentationError(f"{where}: expected one augmenter as {{Name: arguments}}, got {entry!r}")
    (name, arguments), = entry.items()
    allowed = augmenter_names()
    if name not in allowed:
        import difflib

        close = difflib.get_close_matches(str(name), allowed, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see imgaug.augmenters for the names"
        raise AugmentationError(f"{where}: unknown imgaug augmenter {name!r}{hint}")
    at = f"{where}.{name}"
    try:
        if arguments is None:
            return getattr(iaa, name)()
        if isinstance(arguments, Mapping):
            return getattr(iaa, name)(**{str(k): _argument(v, f"{at}.{k}") for k, v in arguments.items()})
        return getattr(iaa, name)(_argument(arguments, at))
    except AugmentationError:
        raise
    except Exception as err:  # imgaug raises TypeError, ValueError, AssertionError, ... on bad arguments
        raise AugmentationError(f"{at}: invalid arguments {arguments!r} ({type(err).__name__}: {err})") from None


def build_imgaug(spec) -> object:
    """The ``imgaug`` list of a custom augmentation as one ``iaa.Sequential``.

    Raises AugmentationError naming the entry for an unknown augmenter or
    arguments imgaug rejects."""
    from effaug._imgaug_compat import iaa

    if not isinstance(spec, list) or not spec:
        raise AugmentationError("imgaug must be a non-empty list of augmenters, e.g. [{Fliplr: 0.5}]")
    return iaa.Sequential([_augmenter(entry, f"imgaug[{i}]") for i, entry in enumerate(spec)])


CUSTOM_KEYS = {"imgaug", "copies", "seed"}


def check_custom(params: Mapping, channels: int = 1, size: tuple[int, int] = (32, 32)) -> None:
    """Validate a custom augmentation: its keys, its augmenters, and that a
    probe image of ``size`` and ``channels`` keeps its shape and dtype."""
    unknown = set(params) - CUSTOM_KEYS
    if unknown:
        raise AugmentationError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                                f"a custom augmentation has {', '.join(sorted(CUSTOM_KEYS))}")
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AugmentationError(f"seed must be an integer >= 0, got {seed!r}")
    custom_copies(params)
    probe = np.random.default_rng(0).integers(0, 256, (1, *size, channels), dtype=np.uint8)
    augment(probe, "custom", params)


def _custom_augment(images: np.ndarray, params: Mapping, ids: np.ndarray, stream: int) -> np.ndarray:
    """(N, K, H, W, C): K seeded draws of the Sequential per image."""
    sequence = build_imgaug(params["imgaug"])
    seed, k = int(params.get("seed", 0)), custom_copies(params)
    out = np.empty((len(images), k, *images.shape[1:]), np.uint8)
    for row, (image, point) in enumerate(zip(images, ids)):
        for copy in range(k):
            sequence.seed_(int(np.random.SeedSequence([seed, stream, int(point), copy]).generate_state(1)[0]))
            augmented = sequence(image=image)
            if augmented.shape != image.shape or augmented.dtype != np.uint8:
                raise AugmentationError(
                    f"the imgaug sequence turns a {image.shape} uint8 image into {augmented.dtype} "
                    f"{augmented.shape}; every copy must keep the image's shape (use keep_size: true where "
                    "an augmenter offers it)")
            out[row, copy] = augmented
    return out


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


def most_copies(augmentations: Mapping[str, Mapping]) -> str:
    """The name of the augmentation with the most copies per image (the
    first of those, in the mapping's order)."""
    copies = {name: n_transforms(name, params) for name, params in augmentations.items()}
    return max(copies, key=copies.__getitem__)


def augment(images: np.ndarray, name: str, params: Mapping, ids: np.ndarray | None = None,
            stream: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply every transform to every image.

    Parameters
    ----------
    images : uint8 array of shape (N, H, W, C)
    ids : int array of shape (N,), optional
        The images' point ids (default ``arange(N)``); a custom augmentation's
        copies are a function of the id, not of the position in ``images``.
    stream : int
        Separates the draws of different image sets (``TRAIN_STREAM``: training
        points, ``TEST_STREAM``: test images) for a custom augmentation.

    Returns
    -------
    augmented : uint8 array of shape (N * K, H, W, C), source-major
    source : int64 array of shape (N * K,), the index of each row's image
    transform : int64 array of shape (N * K,), the index of each row's transform
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise AugmentationError(f"expected uint8 images of shape (N, H, W, C), got {images.dtype} {images.shape}")
    n, k = len(images), n_transforms(name, params)
    if n == 0:
        empty = np.empty(0, np.int64)
        return np.empty((0, *images.shape[1:]), np.uint8), empty, empty
    if is_custom(name, params):
        ids = np.arange(n) if ids is None else np.asarray(ids, dtype=np.int64)
        if ids.shape != (n,):
            raise AugmentationError(f"ids has shape {ids.shape}, expected ({n},)")
        per_transform = _custom_augment(images, params, ids, stream)
    else:
        per_transform = np.stack([step(images=images) for step in augmenters(name, params)], axis=1)
    augmented = per_transform.reshape(n * k, *images.shape[1:])
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    transform = np.tile(np.arange(k, dtype=np.int64), n)
    return augmented, source, transform
