"""Results: the tables of a run, their documented columns, save and load."""

from vsim.results.tables import COLUMNS, Results, columns_doc, load_results

__all__ = ["COLUMNS", "Results", "columns_doc", "load_results"]
