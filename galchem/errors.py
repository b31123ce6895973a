"""Exceptions galchem raises for problems a user can fix."""


class GalchemError(Exception):
    """A problem with the user's input or set-up, reported as one clear line."""


class ContractError(GalchemError, ValueError):
    """A catalogue does not obey the input contract (:mod:`galchem.data.contract`)."""


class FitError(GalchemError, ValueError):
    """Data that a line fit cannot use (:mod:`galchem.analysis.fitting`)."""
