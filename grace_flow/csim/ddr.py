"""A simulated DDR image with placed operands, and the one exact comparison of C-sim results.

Operands go at random offsets (random gaps, given alignment) in a buffer of random bytes: an
engine that reads the wrong address or skips writing an output element then shows as a
mismatch instead of reading or leaving a lucky zero.
"""

import numpy as np

#: Default bytes of a DDR image (large enough for every hand-built test instruction).
DDR_BYTES = 1 << 21
#: Largest random gap before an operand, in bytes.
MAX_GAP = 255


def first_mismatch(got: np.ndarray, want: np.ndarray) -> str | None:
    """None when equal (shape, dtype and values), else where and how they first differ."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"shape/dtype {got.shape} {got.dtype}, want {want.shape} {want.dtype}"
    if np.array_equal(got, want):
        return None
    index = tuple(int(i) for i in np.argwhere(got != want)[0])
    return f"first difference at {index}: got {got[index]}, want {want[index]}"


def bytes_needed(arrays, align: int = 8) -> int:
    """A DDR size that always fits ``arrays`` (or byte counts) placed by Ddr with their gaps."""
    sizes = [a if isinstance(a, int) else np.asarray(a).nbytes for a in arrays]
    return sum(size + MAX_GAP + align for size in sizes) + align


class Ddr:
    """A random-filled uint8 DDR image; operands go at random aligned offsets, never overlapping."""

    def __init__(self, rng: np.random.Generator, size: int = DDR_BYTES):
        self.rng = rng
        self.bytes = rng.integers(0, 256, size, dtype=np.uint8)
        self._cursor = 0
        self.outputs: list[tuple[int, int]] = []

    def _reserve(self, nbytes: int, align: int) -> int:
        start = self._cursor + int(self.rng.integers(0, MAX_GAP + 1))
        start = -(-start // align) * align
        if start + nbytes > self.bytes.size:
            raise ValueError(f"DDR image of {self.bytes.size} bytes too small for this case")
        self._cursor = start + nbytes
        return start

    def put(self, array: np.ndarray, align: int = 8) -> int:
        """Copy ``array`` (little-endian, C order) into DDR; return its byte offset."""
        data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        offset = self._reserve(data.size, align)
        self.bytes[offset : offset + data.size] = data
        return offset

    def output(self, dtype, shape, align: int = 8) -> int:
        """Reserve an output region (left random, so an unwritten element shows); return offset."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        offset = self._reserve(nbytes, align)
        self.outputs.append((offset, nbytes))
        return offset

    def get(self, offset: int, dtype, shape) -> np.ndarray:
        """The array of ``dtype`` and ``shape`` stored at ``offset``."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self.bytes[offset : offset + nbytes].view(dtype).reshape(shape).copy()

    def stray_write(self, before: np.ndarray) -> str | None:
        """Compare with ``before`` (a copy of the image) outside the output regions.

        None when nothing outside them changed, else first_mismatch's text whose index is the
        DDR byte address of the first stray write.
        """
        outside = np.ones(self.bytes.size, dtype=bool)
        for offset, nbytes in self.outputs:
            outside[offset : offset + nbytes] = False
        return first_mismatch(np.where(outside, self.bytes, before), before)
