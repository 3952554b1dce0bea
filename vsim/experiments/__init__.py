"""Experiments built on the model: comparison tables, density, boot storms,
capacity planning and sweeps. Each one builds scenarios, runs them through
:func:`vsim.simulate`, and returns a DataFrame."""
