"""Rewrite the README's `vsim compare` block with the real output of the default run.

The README says its comparison table is the real output of `vsim compare`;
tests/test_readme.py checks that it still is. When the model changes the
table, run this and commit the README with the change:

    python tools/readme_compare.py
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def compare_block(text: str) -> tuple[int, int]:
    """Where the first fenced block after '## Comparison' starts and ends (its body)."""
    i = text.index("## Comparison")
    j = text.index("```\n", i) + 4
    k = text.index("\n```", j)
    return j, k


def main() -> int:
    from vsim.experiments.compare import compare, render

    text = README.read_text(encoding="utf-8")
    j, k = compare_block(text)
    README.write_text(text[:j] + render(compare(), "table") + text[k:], encoding="utf-8")
    print(f"{README}: compare block rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
