"""Helpers of the C-sim tests: a DDR byte buffer with placed operands, exact comparison."""

import numpy as np

#: Bytes of the simulated DDR of one case; operands are placed at random aligned offsets in it.
DDR_BYTES = 1 << 21


class Ddr:
    """A random-filled uint8 DDR image; operands go at random aligned offsets, never overlapping."""

    def __init__(self, rng: np.random.Generator, size: int = DDR_BYTES):
        self.rng = rng
        self.bytes = rng.integers(0, 256, size, dtype=np.uint8)
        self._cursor = 0
        self.outputs: list[tuple[int, int]] = []

    def _reserve(self, nbytes: int, align: int) -> int:
        start = self._cursor + int(self.rng.integers(0, 256))
        start = -(-start // align) * align
        if start + nbytes > self.bytes.size:
            raise ValueError("test DDR too small for this case")
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

    def outside_outputs(self) -> np.ndarray:
        """A copy of every byte that is not in a reserved output region."""
        keep = np.ones(self.bytes.size, dtype=bool)
        for offset, nbytes in self.outputs:
            keep[offset : offset + nbytes] = False
        return self.bytes[keep].copy()


def first_mismatch(got: np.ndarray, want: np.ndarray) -> str | None:
    """None when equal (shape, dtype and values), else where and how they first differ."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"shape/dtype {got.shape} {got.dtype}, want {want.shape} {want.dtype}"
    if np.array_equal(got, want):
        return None
    index = tuple(int(i) for i in np.argwhere(got != want)[0])
    return f"first difference at {index}: got {got[index]}, want {want[index]}"


def assert_exact(engine: str, case: int, tensor: str, got: np.ndarray, want: np.ndarray) -> None:
    """Assert bit-exact equality, naming engine, case, tensor and the first differing index."""
    problem = first_mismatch(got, want)
    assert problem is None, f"{engine} case {case} tensor {tensor}: {problem}"


def run_case(library, ddr: Ddr, regs: dict[str, int]) -> None:
    """Run one instruction and check that nothing outside the output regions changed."""
    before = ddr.outside_outputs()
    library.run(ddr.bytes, regs)
    stray = first_mismatch(ddr.outside_outputs(), before)
    assert stray is None, f"{library.engine}: wrote outside its output ({stray})"
