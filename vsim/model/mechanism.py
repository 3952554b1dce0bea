"""The one interface between the world and its optional mechanisms.

The core model (hosts, guests, placement, the lifecycle) knows nothing of
services, cgroups, migration, failures or energy. Each of those is a
:class:`Mechanism`: an object the world is given when it is built, whose
methods the world calls at the moments of a guest's and a host's life. Every
method here does nothing, so a mechanism overrides only the moments it cares
about, and the world calls only the methods that were overridden (a moment
no mechanism watches costs nothing). This is how Ciw's trackers work
(``ciw/trackers/state_tracker.py``).

The moments, in the order a guest meets them::

    request(g) -> Refusal    before placement; a Refusal (not None) rejects it
    no_room(g) -> event      no host has room; an event to wait for (a host
                             powering on) before placement is tried again
    ready(g)                 it finished booting and runs
    move(g, src, dst)        a running guest moved to another host
    stop(g)                  it starts stopping, or fails
    host_state(h, old, new)  a host changed state (on, booting, draining, off, failed)
    end()                    the run ended, before its tables are built

A mechanism keeps its own per-guest state (keyed by guest id), and writes
rows to the tables it names in ``tables`` (the world makes an empty list for
each, ``world.records[name]``; :mod:`vsim.results` turns them into
DataFrames with the documented columns).

A minimal mechanism that counts the guests that become ready::

    >>> class Count(Mechanism):
    ...     def __init__(self):
    ...         self.n = 0
    ...     def ready(self, g):
    ...         self.n += 1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

    from vsim.model.guest import Guest
    from vsim.model.host import Host
    from vsim.model.placement import Refusal
    from vsim.model.world import World

__all__ = ["Mechanism", "HOOKS"]

#: The moments a mechanism may watch, as the world calls them.
HOOKS = ("request", "no_room", "ready", "move", "stop", "host_state", "end")


class Mechanism:
    """Base class of optional mechanisms: every hook does nothing."""

    #: Tables (names documented in ``vsim.COLUMNS``) this mechanism writes rows to.
    tables: tuple[str, ...] = ()

    def attach(self, world: World) -> None:
        """Called once, when the world is built (start SimPy processes here)."""
        self.world = world

    def request(self, g: Guest) -> Refusal | None:
        """A guest is about to be placed: a :class:`~vsim.model.placement.Refusal`
        rejects it (its resource names what refused, its message why)."""
        return None

    def no_room(self, g: Guest) -> simpy.Event | None:
        """No host has room for ``g``: an event to wait for, or None."""
        return None

    def ready(self, g: Guest) -> None:
        """``g`` finished booting and runs."""

    def move(self, g: Guest, src: Host, dst: Host) -> None:
        """``g`` was moved from ``src`` to ``dst`` (a migration)."""

    def stop(self, g: Guest) -> None:
        """``g`` starts stopping (its life is over) or has failed."""

    def host_state(self, host: Host, old: str, new: str) -> None:
        """``host`` changed state from ``old`` to ``new``."""

    def end(self) -> None:
        """The run ended; write what is still pending."""

    def overrides(self, hook: str) -> bool:
        """Whether this mechanism watches ``hook`` (overrides the no-op)."""
        return getattr(type(self), hook) is not getattr(Mechanism, hook)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def dispatch(mechanisms: list[Mechanism], hook: str) -> list[Any]:
    """The bound methods of ``mechanisms`` that watch ``hook``, in order."""
    return [getattr(m, hook) for m in mechanisms if m.overrides(hook)]
