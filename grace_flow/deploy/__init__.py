"""Deployment: the overlay package onto the emulated board or a board over SSH, atomically."""
