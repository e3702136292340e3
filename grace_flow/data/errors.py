"""The one exception class for user mistakes in the data stage."""


class DataError(ValueError):
    """A bad `data:` setting or input file; the one-line message names the key/file and the fix."""
