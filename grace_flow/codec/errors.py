"""The one exception type of the codec: a malformed bitstream or a bad argument from the caller."""

from grace_flow.errors import FlowError


class CodecError(FlowError):
    """A bitstream that cannot be decoded, or arguments that cannot be encoded.

    The message is one line; file-level wrappers prefix it with the file name.
    """
