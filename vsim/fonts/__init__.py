"""Fonts vsim ships: ``vsim-cjk.otf``, the Chinese glyphs of its labels (SIL OFL 1.1, see OFL.txt;
made by tools/subset_cjk_font.py). :func:`vsim.plots.use_cjk_font` puts it behind matplotlib's default."""
