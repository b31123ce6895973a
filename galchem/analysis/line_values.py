"""A fitted line's numbers, whichever way they were estimated: one declaration for every kind of fit."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["LineValues", "VALUES"]

VALUES = ("m", "m_err", "b", "b_err", "lam", "lam_err")
"""The fitted numbers of a line: estimates and standard errors of m, b and lam."""


@dataclass(frozen=True)
class LineValues:
    """A line's fitted numbers (:data:`~galchem.analysis.line_values.VALUES`), however they were estimated."""

    m: float
    m_err: float
    b: float
    b_err: float
    lam: float
    lam_err: float

    def withheld(self) -> LineValues:
        """The same with its fitted numbers NaN: a result that is not to be used (any diagnostics stay)."""
        return replace(self, **dict.fromkeys(VALUES, np.nan))
