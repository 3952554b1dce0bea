"""SimPy extensions that know nothing of hosts or guests.

Fair share (processor sharing with per-job caps), weighted fair share (cgroup
``cpu.weight``), solo runs (a sequence of steps as one event while nothing can
slow it down) and the phase log. The model builds hosts out of these.
"""
