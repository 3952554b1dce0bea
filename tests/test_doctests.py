"""The examples in module docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["vsim.engine.fairshare", "vsim.engine.weighted", "vsim.engine.solo", "vsim.engine.phaselog",
           "vsim.engine.server"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
