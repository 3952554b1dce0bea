"""SimPy extensions that know nothing of hosts or guests.

Fair share (processor sharing with per-job caps), weighted fair share (cgroup
``cpu.weight``), solo runs (a sequence of steps as one event while nothing can
slow it down), the FIFO server (``c`` workers taking requests first come, first
served: a container daemon, the rtnl lock, a toolstack's worker pool) and the
phase log. The model builds hosts out of these.
"""
