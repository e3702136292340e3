"""The one performance model beneath compile and synth: board, cycles, resources, frame, search.

compile uses it to choose the engines' folding and to write the overlap schedule; synth uses it
to report the frame; both see the same cycle count for the same program.
"""
