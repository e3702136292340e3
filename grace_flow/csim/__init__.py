"""C-simulation: g++ builds of the rendered engines, their self-tests, and the whole decoder run
by the board-side runtime on the emulated engines."""
