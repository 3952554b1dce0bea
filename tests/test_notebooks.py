"""Every notebook runs top to bottom (outputs are stored stripped)."""

import os

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# Run first in the kernel: every figure shown is checked before it is closed.
# A legend entry must be something drawn: an artist of the axes that is
# visible and has data inside the axes' view (a line that runs off the plot,
# or a label for bars never drawn, is a legend entry one cannot find).
LEGEND_CHECK = """
import matplotlib.pyplot as _plt
import numpy as _np
_vsim_legend_faults = []
def _vsim_inside(ax, artist):
    if artist.get_transform() != ax.transData:  # axhline, axvspan: placed in axes coordinates, always in view
        return True
    x0, x1 = sorted(ax.get_xlim()); y0, y1 = sorted(ax.get_ylim())
    if hasattr(artist, "get_xydata"):
        xy = _np.asarray(artist.get_xydata(), dtype=float)
    elif hasattr(artist, "get_offsets") and len(artist.get_offsets()):
        xy = _np.asarray(artist.get_offsets(), dtype=float)
    elif hasattr(artist, "get_segments"):
        segs = artist.get_segments()
        xy = _np.concatenate([_np.asarray(s, dtype=float) for s in segs]) if segs else _np.empty((0, 2))
    elif hasattr(artist, "get_paths") or hasattr(artist, "get_bbox"):
        return True
    else:
        return True
    xy = xy[_np.isfinite(xy).all(axis=1)] if len(xy) else xy
    return bool(len(xy)) and bool(((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)).any())
def _vsim_flat(a):
    from matplotlib.container import Container
    if isinstance(a, (Container, tuple, list)):
        return [p for x in a if x is not None for p in _vsim_flat(x)]
    return [a]
def _vsim_check(fig):
    for ax in fig.axes:
        if ax.get_legend() is None:
            continue
        for artist, text in zip(*ax.get_legend_handles_labels()):
            parts = _vsim_flat(artist)  # a bar chart or error bars: the artists they hold
            if not any(p.get_visible() and _vsim_inside(ax, p) for p in parts):
                _vsim_legend_faults.append(f"{ax.get_title()!r}: legend entry {text!r} is not drawn")
_vsim_show = _plt.show
def _checked_show(*a, **k):
    for n in _plt.get_fignums():
        _vsim_check(_plt.figure(n))
    return _vsim_show(*a, **k)
_plt.show = _checked_show
"""
LEGEND_ASSERT = """
for n in _plt.get_fignums():
    _vsim_check(_plt.figure(n))
assert not _vsim_legend_faults, _vsim_legend_faults
"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(LEGEND_CHECK))
    nb.cells.append(nbformat.v4.new_code_cell(LEGEND_ASSERT))
    os.environ.setdefault("MPLBACKEND", "Agg")
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell (the last: a legend fault)


LESSONS = [p for p in NOTEBOOKS if p.name[:2].isdigit()]


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_a_lesson_ends_with_two_exercises_whose_answers_are_hidden(path):
    cells = nbformat.read(path, as_version=4).cells
    asks = [i for i, c in enumerate(cells) if c.cell_type == "code" and "exercise(" in c.source
            and "print(ex.question)" in c.source]
    assert len(asks) >= 2, path.name
    for i in asks:
        answer = cells[i + 1]
        assert "ex.answer()" in answer.source
        assert answer.metadata.get("jupyter", {}).get("outputs_hidden") is True, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_a_predict_first_answer_is_not_in_sight(path):
    """After "Predict first", the next words a student reads are a new section or a closed <details>."""
    cells = nbformat.read(path, as_version=4).cells
    for i, c in enumerate(cells):
        if c.cell_type == "markdown" and "**Predict first" in c.source:
            after = next((d for d in cells[i + 1:] if d.cell_type == "markdown"), None)
            assert after is None or after.source.lstrip().startswith(("<details>", "#")), (path.name, i)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    """Policy: notebooks are committed stripped; run them to see results."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs"
