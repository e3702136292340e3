"""Overlay packaging: the folder the board installs, with its manifest and register map."""
