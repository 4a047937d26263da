"""The one place that imports imgaug: imgaug 0.4.0 predates NumPy 2.

imgaug reads ``np.sctypes`` at import time and uses ``np.complex`` in two
parameter samplers; NumPy 2 removed both. We restore exactly these two names
(with NumPy 1 semantics) before importing imgaug, and nothing else.
"""

import numpy as np

if not hasattr(np, "sctypes"):
    np.sctypes = {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }
if "complex" not in np.__dict__:
    np.complex = complex

import imgaug  # noqa: E402
import imgaug.augmenters as iaa  # noqa: E402

__all__ = ["imgaug", "iaa"]
