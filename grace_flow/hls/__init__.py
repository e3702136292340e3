"""HLS engine sources: kernels/ templates rendered for an engine spec."""
