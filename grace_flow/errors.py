"""The root of every error a user can cause; doit tasks turn these into one-line failures."""


class FlowError(Exception):
    """A mistake in the input (workflow, file, checkpoint, bitstream): message is one line."""
