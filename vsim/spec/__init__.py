"""Specifications: what to simulate, read from YAML and checked before anything runs.

Field types, YAML reading, error messages that name the field, the platform
profiles, the Scenario and its service and operations sections, cross-checks
and ``--set`` overrides. Nothing here knows SimPy; the model receives a
validated, immutable Scenario.
"""
