"""The arctangent the Monte Carlo kernel takes at every draw, inlined: within one ulp of the C library's.

The kernel of :mod:`galchem.physics.kinematics` needs each draw's azimuth
relative to the star's reference position, atan2(cross, dot); a call into
the C library per draw cost a quarter of the whole kernel.  Where dot > 0
(the draw within 90 degrees of the reference, nearly always) the angle is
atan(cross / dot), evaluated here as Cephes does (Moshier 1989, ``atan.c``):
the argument reduced to |t| <= 0.66, then a rational function of degree 4/5
in t^2; elsewhere the library's atan2.  Compiled with numba and inlined into
the caller.
"""
from __future__ import annotations

import math

import numba

__all__ = ["atan2"]

_P = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
      -1.228866684490136173410e2, -6.485021904942025371773e1)
_Q = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
      4.853903996359136964868e2, 1.945506571482613964425e2)
_MORE_BITS = 6.123233995736765886130e-17  # pi/2 - the double nearest it
_TAN_3PI_8 = 2.41421356237309504880


@numba.njit(cache=True, nogil=True, inline="always")
def _atan(t):  # pragma: no cover - compiled
    """atan(t) for any finite t (Cephes' reduction and rational approximation)."""
    sign = 1.0
    if t < 0.0:
        sign, t = -1.0, -t
    base, extra = 0.0, 0.0
    if t > _TAN_3PI_8:
        base, extra, t = 0.5 * math.pi, _MORE_BITS, -1.0 / t
    elif t > 0.66:
        base, extra, t = 0.25 * math.pi, 0.5 * _MORE_BITS, (t - 1.0) / (t + 1.0)
    z = t * t
    num = (((_P[0] * z + _P[1]) * z + _P[2]) * z + _P[3]) * z + _P[4]
    den = ((((z + _Q[0]) * z + _Q[1]) * z + _Q[2]) * z + _Q[3]) * z + _Q[4]
    return sign * (base + (t * (z * num / den) + t + extra))


@numba.njit(cache=True, nogil=True, inline="always")
def atan2(y, x):  # pragma: no cover - compiled
    """The angle of the point (x, y) [rad], in (-pi, pi]: inlined where x > 0, the C library's elsewhere."""
    if x > 0.0:
        return _atan(y / x)
    return math.atan2(y, x)
