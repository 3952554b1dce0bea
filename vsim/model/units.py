"""Units and the conversions between them.

Every field of a scenario carries its unit in its name (``memory_gib``,
``read_mb_s``, ``network_gbit_s``); inside the model memory is in MiB, disk in
MB (10^6 bytes), rates in MB/s and time in seconds. These are the factors.
"""

from __future__ import annotations

GBIT_TO_MB_S = 125.0  # 1 Gbit/s = 125 MB/s
MIB_PER_GIB = 1024.0
MB_PER_MIB = 1.048576
KIB_PER_MB = 1e6 / 1024  # 976.5625 KiB in one MB
FOUR_KIB_MB = 4096 / 1e6  # one 4 KiB request, in MB

# Unpacking a compressed layer (gzip) costs CPU. assumption: single-threaded
# gunzip runs at about 100 MB/s of output on a server core, i.e. 0.01 s/MB.
EXTRACT_CPU_S_PER_MB = 0.01
