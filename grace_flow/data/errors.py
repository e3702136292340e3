"""The one exception class for user mistakes in the data stage."""

from grace_flow.errors import FlowError


class DataError(FlowError):
    """A bad `data:` setting or input file; the one-line message names the key/file and the fix."""
