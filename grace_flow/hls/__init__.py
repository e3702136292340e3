"""HLS engine sources: the register interface and rendering of kernels/ templates for a spec."""
