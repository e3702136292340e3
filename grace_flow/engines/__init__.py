"""The hardware contract every stage may import: register table, engine specs, program format.

Nothing here imports a stage; compile, csim, synth, overlay and the board-side runtime all read the
engines through these modules, so the contract is written once.
"""
