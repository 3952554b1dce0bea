"""The project carries its own copy of what it cites (docs/measurements.md).

Every "measurements.md section N" in a profile, scenario, notebook or module
must name a section that the shipped file has.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "docs" / "measurements.md"
CITED = [*ROOT.glob("vsim/profiles/*.yaml"), *ROOT.glob("scenarios/*.yaml"), *ROOT.glob("notebooks/*.ipynb"),
         *ROOT.glob("vsim/**/*.py"), ROOT / "README.md"]


def test_the_references_ship_with_the_project():
    assert REF.exists()
    text = REF.read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\.", text, re.M))
    assert {"1", "2", "3", "8", "9"} <= sections
    cited = {}
    for f in CITED:
        for n in re.findall(r"measurements\.md,? section (\d+)", f.read_text(encoding="utf-8")):
            cited.setdefault(n, []).append(f.name)
    assert cited, "nothing cites the references?"
    missing = {n: files for n, files in cited.items() if n not in sections}
    assert not missing, missing


def test_no_citation_points_outside_the_project():
    for f in CITED:
        assert "shared/reference" not in f.read_text(encoding="utf-8"), f
