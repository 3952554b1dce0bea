"""Optional mechanisms: services, cgroups, migration, faults and energy.

Each one subscribes to the world's lifecycle hooks, owns its records and its
per-guest state, and is chosen from the scenario; the world does not import
them.
"""
