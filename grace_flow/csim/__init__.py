"""C-simulation: g++ builds of the rendered engines and their ctypes bindings."""
