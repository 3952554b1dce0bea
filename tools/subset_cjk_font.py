"""Make the small CJK font vsim ships for its Chinese figure labels.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs, so the course's
labels (启动时间, 系统支持量, ...) would render as boxes. A full CJK font is
16 MB; vsim needs only the few hundred characters its own labels, notebooks
and the course text use. This script collects every character above U+2000 in
``vsim/``, ``notebooks/`` and the course text, keeps those glyphs (and ASCII)
from Noto Sans CJK SC (SIL Open Font License 1.1, which allows subsetting and
redistribution under the same licence with the licence text beside it), and
renames the family to ``vsim CJK`` (a modified version must not take the
original's name) into ``vsim/fonts/vsim-cjk.otf``.

Run it again after adding Chinese text with new characters (the test
``tests/test_figures.py`` says which are missing):

    python tools/subset_cjk_font.py /path/to/NotoSansCJKsc-Regular.otf [--course ../shared/seed]
    python tools/subset_cjk_font.py --fetch [--course ../shared/seed]   # downloads the source (85 MB)

The source font comes with Debian's ``fonts-noto-cjk``
(/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc) or inside the
``mplfonts`` wheel on PyPI (``mplfonts/fonts/NotoSansCJKsc-Regular.otf``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "vsim" / "fonts" / "vsim-cjk.otf"
FAMILY = "vsim CJK"


def wanted_characters(extra: list[Path]) -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    files = [*ROOT.joinpath("vsim").rglob("*.py"), *ROOT.joinpath("vsim").rglob("*.yaml"),
             *ROOT.joinpath("notebooks").glob("*.ipynb"), ROOT / "README.md"]
    for d in extra:
        files += [p for p in d.rglob("*") if p.is_file()]
    for p in files:
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        chars |= {c for c in text if ord(c) > 0x2000}
    return chars


def main() -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    ap = argparse.ArgumentParser()
    ap.add_argument("source", nargs="?", help="Noto Sans CJK SC (.otf, or a .ttc with --font-number)")
    ap.add_argument("--fetch", action="store_true", help="download the source font (the mplfonts wheel) first")
    ap.add_argument("--font-number", type=int, default=0)
    ap.add_argument("--course", action="append", type=Path, default=[], help="more folders whose text to cover")
    args = ap.parse_args()
    chars = wanted_characters(args.course)
    source = args.source
    if args.fetch:
        source = _fetch()
    if not source:
        ap.error("give the source font, or --fetch")
    font = TTFont(source, fontNumber=args.font_number)
    opts = subset.Options()
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    names = font["name"]
    for rec in names.names:
        if rec.nameID in (1, 4, 16):
            rec.string = FAMILY
        elif rec.nameID in (3, 6):
            rec.string = "vsimCJK-Regular"
    cmap = font.getBestCmap()
    covered = sum(1 for c in chars if ord(c) in cmap)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(f"{OUT}: {covered} of {len(chars)} characters, {OUT.stat().st_size / 1024:.0f} KiB")


def _fetch() -> str:
    """Noto Sans CJK SC Regular out of the mplfonts 0.0.11 wheel from PyPI, into a temporary folder."""
    import subprocess
    import sys
    import tempfile
    import zipfile

    tmp = Path(tempfile.mkdtemp(prefix="vsim-font-"))
    subprocess.run([sys.executable, "-m", "pip", "download", "mplfonts==0.0.11", "--no-deps", "-d", str(tmp)],
                   check=True)
    wheel = next(tmp.glob("mplfonts-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        return z.extract("mplfonts/fonts/NotoSansCJKsc-Regular.otf", tmp)


if __name__ == "__main__":
    main()
