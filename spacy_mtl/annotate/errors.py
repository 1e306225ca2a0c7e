"""The error of an annotation run that cannot start or go on (a bad input, output or setting)."""


class AnnotateError(ValueError):
    """The input, the output or the settings of an annotation run are wrong."""
