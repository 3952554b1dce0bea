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


# -- docs/references.md: every source resolves to an entry -----------------------------

REFS = ROOT / "docs" / "references.md"


def _entries() -> dict[str, list[str]]:
    """key -> the phrases it is cited as, from the table of docs/references.md."""
    out = {}
    for line in REFS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("key", "---") and not cells[0].startswith("-"):
            out[cells[0]] = [p.strip() for p in cells[1].split(";") if p.strip()]
    return out


def test_references_have_unique_keys_and_phrases():
    entries = _entries()
    assert len(entries) >= 20
    assert all(entries.values()), "an entry without a 'cited as' phrase"
    assert {"felter2014", "plauth2017", "agache2020", "manco2017", "theory"} <= set(entries)


def _profile_sources():
    from vsim.spec.profile import builtin_profiles

    for p in builtin_profiles().values():
        for field, _value, prov in p.sources():
            if prov.startswith("source:"):
                yield p.name, field, prov[len("source:"):].strip()
        if p.default_clone_provenance.startswith("source:"):
            yield p.name, "default_clone", p.default_clone_provenance[len("source:"):].strip()


def test_every_profile_source_resolves_to_a_reference():
    phrases = [(k, ph.lower()) for k, phs in _entries().items() for ph in phs]
    unresolved = [(name, field, text[:80]) for name, field, text in _profile_sources()
                  if not any(ph in text.lower() for _, ph in phrases)]
    assert not unresolved, unresolved


def test_every_validation_source_is_a_reference_key():
    from vsim.experiments.check import cases

    keys = set(_entries())
    bad = [(g.group, c.name, c.source) for g in cases() for c in g.cases if c.source not in keys]
    assert not bad, bad
