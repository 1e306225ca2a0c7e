"""The one error `init vectors` reports: what is wrong, with the file or setting to fix."""


class VectorsError(ValueError):
    """Bad input to `init vectors`: a corpus, a transformer folder, a setting or the output."""
