"""The board-side runtime: opens an overlay package and decodes AGC bitstreams on its engines.

It runs on the target with numpy (and pynq on a board; pillow-heif for the key frames), from the
copy the overlay package carries: it imports only the hardware contract (grace_flow.engines), the
codec's decode side, and grace_flow's error and file helpers, never a host-side stage.
"""
