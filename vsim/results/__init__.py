"""Results: the tables of a run, their documented columns, save and load.

``vsim.results.COLUMNS`` documents the tables a run produces (its own and the
mechanisms'); ``vsim.COLUMNS`` adds the experiments' tables, each documented in
the experiment that builds it.
"""

from vsim.results.columns import COLUMNS, columns_doc
from vsim.results.tables import Results, load_results

__all__ = ["COLUMNS", "Results", "columns_doc", "load_results"]
