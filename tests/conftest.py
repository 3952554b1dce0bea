import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
os.environ.setdefault("MPLBACKEND", "Agg")
