"""``int_sqrt`` (``lib/math/int_sqrt.c``), Linux 6.18: the integer square root, rounded down.

The kernel finds it bit by bit; the result is the same as the floor of the real square root,
which this takes from the FPU and corrects by one where a double's rounding is off (values
above 2**53). Compiled, so reclaim's ``inactive_is_low`` calls it; Python callers (the
watermark set-up's ``min_free_kbytes``) call it too.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def int_sqrt(x):
    r = np.int64(np.sqrt(np.float64(x)))
    while r * r > x:
        r -= 1
    while (r + 1) * (r + 1) <= x:
        r += 1
    return r
