"""The model: hosts, guests, placement and the lifecycle, run by the World.

Units, :class:`~vsim.model.host.Host` (shared CPU, disk and network; memory
and disk reservations; an image cache), :class:`~vsim.model.guest.Guest`,
placement, and the World that turns a Scenario into a SimPy run and calls its
mechanisms through one interface.
"""
