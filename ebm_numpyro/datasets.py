"""Small binary data sets for tests, tutorials and benchmarks.

* :func:`bars_and_stripes` - every bars-and-stripes image of a given size (MacKay 2003);
* :func:`digits_binary` - scikit-learn's 8×8 handwritten digits, thresholded to {0,1}
  (needs the optional ``scikit-learn``).
"""

from __future__ import annotations

import itertools

import numpy as np

from ._checks import check_int

__all__ = ["bars_and_stripes", "digits_binary"]


def bars_and_stripes(size: int) -> np.ndarray:
    """All distinct ``size × size`` bars-and-stripes images, flattened: shape ``(2^(size+1) - 2, size²)``, int8.

    Each image has every row constant (stripes) or every column constant (bars).
    """
    size = check_int(size, "size", 1)
    patterns = set()
    for bits in itertools.product((0, 1), repeat=size):
        rows = np.repeat(np.array(bits)[:, None], size, axis=1)
        patterns.add(tuple(rows.ravel()))
        patterns.add(tuple(rows.T.ravel()))
    return np.array(sorted(patterns), dtype=np.int8)


def digits_binary(threshold: int = 8, test_size: float = 0.2, seed: int = 0):
    """scikit-learn's digits (1,797 images of 8×8 pixels, values 0..16) as {0,1} vectors.

    Pixel i of an image is 1 when its intensity exceeds ``threshold``. Returns
    ``(train, test)`` int8 arrays of shape ``(N, 64)``, split by
    ``sklearn.model_selection.train_test_split(test_size=test_size, random_state=seed)``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x = (load_digits().data > threshold).astype(np.int8)
    train, test = train_test_split(x, test_size=test_size, random_state=seed)
    return train, test
