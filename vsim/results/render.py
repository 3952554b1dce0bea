"""Tables as text: one renderer for everything the command line prints.

Every table vsim prints goes through :func:`render`, in one of four formats:

``table``
    for people: numbers rounded to three significant digits with thousands
    separators (``1,350``, never ``1.35e+03``), cells wrapped so that every
    line fits the terminal (100 columns by default), and a table with too many
    columns split into several, each repeating the first column. Widths are
    counted in terminal cells, so a Chinese character counts two (the layout
    is done by `rich <https://rich.readthedocs.io>`_, which knows East Asian
    widths). ``wide=True`` prints each table at its natural width instead.
``markdown``
    a pipe table, for notes and issues.
``csv`` and ``json``
    for programs: the numbers themselves, with units in the column names
    (``startup_s``, ``memory_mib``); display strings appear only in ``table``
    and ``markdown``. A command can hand over a separate numeric frame
    (``data=``) when what it shows people is a summary of it.

Notes (the lines under a table that say what its cells mean) are wrapped to
the same width, CJK text included.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vsim.spec.errors import ScenarioError

__all__ = ["FORMATS", "DEFAULT_WIDTH", "fmt_number", "terminal_width", "text_width", "render", "render_text",
           "wrap_text"]

FORMATS = ("table", "markdown", "csv", "json")

#: The width every printed table fits unless the terminal is narrower or ``--wide`` is given.
DEFAULT_WIDTH = 100

_MIN_WIDTH = 40  # below this no table is readable; narrower terminals wrap


def terminal_width() -> int:
    """The width to fit: the terminal's (``COLUMNS`` when set), at most :data:`DEFAULT_WIDTH`."""
    cols = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(_MIN_WIDTH, min(cols, DEFAULT_WIDTH))


def text_width(text: str) -> int:
    """Terminal cells ``text`` takes: two for a Chinese character, one for ``a``."""
    from rich.cells import cell_len

    return max((cell_len(line) for line in str(text).splitlines()), default=0)


def fmt_number(x: Any, digits: int = 3) -> str:
    """A number for people: ``digits`` significant digits, never in exponent form
    above 1e-4, thousands separated; whole numbers in full; NaN as ``-``.

    >>> [fmt_number(v) for v in (1350.0, 999.96, 0.012345, 12, float("nan"), 2.0)]
    ['1,350', '1,000', '0.0123', '12', '-', '2']
    """
    if x is None:
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if not isinstance(x, (float, np.floating)):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) < 1e-4:
        return f"{x:.{max(digits - 1, 0)}e}"
    mag = math.floor(math.log10(abs(x)))
    dec = max(digits - 1 - mag, 0)
    r = round(x, dec)
    if r != 0 and math.floor(math.log10(abs(r))) > mag:  # 999.96 rounds up to 1,000: one decimal fewer
        dec = max(dec - 1, 0)
    s = f"{r:,.{dec}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _cells(df: pd.DataFrame, index: bool, digits: int) -> tuple[list[str], list[list[str]]]:
    head = ([str(df.index.name or "")] if index else []) + [str(c) for c in df.columns]
    body = []
    for i, row in zip(df.index, df.itertuples(index=False), strict=True):
        body.append(([str(i)] if index else []) + [fmt_number(v, digits) for v in row])
    return head, body


def _least(head: list[str], body: list[list[str]], j: int) -> int:
    """The narrowest a column gets: its longest word (at most 30 cells: longer words fold)."""
    words = max((text_width(w) for r in [head, *body] for w in r[j].split()), default=1)
    natural = max(text_width(r[j]) for r in [head, *body])
    return max(min(natural, words, 30), 1)


_GAP = 2  # cells between two columns (rich's padding of one on each side)


def _chunks(head: list[str], body: list[list[str]], width: int, keys: int = 1) -> list[list[int]]:
    """Columns grouped so that each group (with the first ``keys`` columns
    repeated) fits ``width`` when its cells wrap at spaces; one group if the
    whole table does."""
    n = len(head)
    least = [_least(head, body, j) for j in range(n)]

    def need(cols: list[int]) -> int:
        return sum(least[j] for j in cols) + _GAP * (len(cols) - 1)

    keys = max(1, min(keys, n - 1))
    if n <= keys + 1 or need(list(range(n))) <= width:
        return [list(range(n))]
    lead = list(range(keys))
    groups, cur = [], list(lead)
    for j in range(keys, n):
        if len(cur) > keys and need([*cur, j]) > width:
            groups.append(cur)
            cur = list(lead)
        cur.append(j)
    groups.append(cur)
    return groups


def _console(width: int | None):
    from rich.console import Console

    return Console(file=io.StringIO(), width=width or 10_000, color_system=None, force_terminal=False,
                   highlight=False, markup=False, emoji=False, soft_wrap=False, legacy_windows=False)


def _rich_table(head: list[str], body: list[list[str]], cols: list[int], right: list[bool], lines: bool):
    from rich import box
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, show_lines=lines, pad_edge=False, collapse_padding=True,
              header_style="", show_edge=False)
    for j in cols:
        t.add_column(head[j], justify="right" if right[j] else "left", overflow="fold", no_wrap=False)
    for r in body:
        t.add_row(*(r[j] for j in cols))
    return t


def _numeric(df: pd.DataFrame, index: bool) -> list[bool]:
    cols = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    return ([False] if index else []) + cols


def _check_width(width: Any) -> int:
    if width is None:
        return terminal_width()
    if isinstance(width, bool) or not isinstance(width, int) or not 20 <= width <= 10_000:
        raise ScenarioError(f"width: must be a whole number of terminal columns from 20 to 10000, got {width!r}")
    return width


def render_text(df: pd.DataFrame, width: int | None = None, wide: bool = False, index: bool = True,
                digits: int = 3, keys: int = 1) -> str:
    """``df`` as an aligned text table that fits ``width`` cells (see the module docstring)."""
    width = _check_width(width)
    head, body = _cells(df, index, digits)
    if not head:
        return ""
    right = _numeric(df, index)
    groups = [list(range(len(head)))] if wide else _chunks(head, body, width, keys)
    out = []
    for cols in groups:
        natural = sum(max(text_width(r[j]) for r in [head, *body]) for j in cols) + 2 * (len(cols) - 1)
        wraps = not wide and natural > width
        con = _console(None if wide else width)
        con.print(_rich_table(head, body, cols, right, lines=wraps))
        text = con.file.getvalue()  # type: ignore[attr-defined]
        out.append("\n".join(line.rstrip() for line in text.splitlines()).strip("\n"))
    return "\n\n".join(out)


_NO_LINE_START = set("，。、；：？！）》」』】”’,.;:?!)%")  # punctuation that may not begin a line (kinsoku)


def _is_wide(ch: str) -> bool:
    from rich.cells import cell_len

    return cell_len(ch) == 2


def _tokens(text: str) -> list[str]:
    """Words, spaces, and each wide (CJK) character on its own: a line may
    break between two CJK characters, as Chinese text does, or at a space."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch == " " or _is_wide(ch) or ch in _NO_LINE_START and word == "":
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    return out


def wrap_text(text: str, width: int | None = None, indent: str = "  ") -> str:
    """Wrap a paragraph to ``width`` terminal cells, continuation lines indented.
    Latin text breaks at spaces; Chinese text between any two characters, and
    closing punctuation never begins a line (it takes the character before it
    along); a word longer than a line is cut."""
    width = width or terminal_width()
    lines: list[str] = []
    cur: list[str] = []

    def used() -> int:
        return text_width("".join(cur))

    for tok in _tokens(text):
        if tok == " ":
            if cur and cur[-1] != " ":
                cur.append(" ")
            continue
        if used() + text_width(tok) > width and "".join(cur).strip():
            carry: list[str] = []
            # 。 may not start a line: the word or character before it goes too (and before that, if it is 。 too)
            while (carry[0] if carry else tok)[0] in _NO_LINE_START:
                while cur and cur[-1] == " ":
                    cur.pop()
                if not ("".join(cur[:-1]).strip() and text_width(cur[-1] + "".join(carry) + tok) <= width - len(indent)):
                    break
                carry.insert(0, cur.pop())
            lines.append("".join(cur).rstrip())
            cur = [indent, *carry]
        while text_width(tok) > width - used() and len(tok) > 1 and used() <= len(indent):
            cut = max(1, width - used())  # a word longer than a whole line: cut it
            lines.append(("".join(cur) + tok[:cut]).rstrip())
            tok, cur = tok[cut:], [indent]
        cur.append(tok)
    if "".join(cur).strip():
        lines.append("".join(cur).rstrip())
    return "\n".join(lines)


def _markdown(df: pd.DataFrame, index: bool, digits: int) -> str:
    head, body = _cells(df, index, digits)
    esc = [[c.replace("|", "\\|").replace("*", "\\*").replace("\n", " ") for c in r] for r in [head, *body]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if not math.isfinite(v) else v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v


def records(df: pd.DataFrame, index: bool = False) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN as null, numpy scalars as Python ones)."""
    d = df.reset_index() if index else df
    return [{str(k): _jsonable(v) for k, v in zip(d.columns, row, strict=True)} for row in d.itertuples(index=False)]


def render(df: pd.DataFrame, fmt: str = "table", *, notes: Iterable[str] = (), title: str | None = None,
           data: pd.DataFrame | None = None, extra: dict[str, Any] | None = None, index: bool = True,
           width: int | None = None, wide: bool = False, digits: int = 3, keys: int = 1) -> str:
    """``df`` in format ``fmt``: see the module docstring.

    ``title`` and ``notes`` go above and under the table (``table``, ``markdown``)
    or into the JSON document; ``data`` (default ``df``) is what ``csv`` and
    ``json`` hold; ``extra`` adds keys to the JSON document; ``keys`` leading
    columns are repeated in each part of a table split to fit.
    """
    if fmt not in FORMATS:
        raise ScenarioError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    for name, v, hi in (("digits", digits, 15), ("keys", keys, 1000)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise ScenarioError(f"{name}: must be a whole number from 1 to {hi}, got {v!r}")
    notes = list(notes)
    data = df if data is None else data
    data_index = index if data is df else data.index.name is not None
    if fmt == "csv":
        return data.to_csv(index=data_index).rstrip("\n")
    if fmt == "json":
        doc: dict[str, Any] = {}
        if title:
            doc["title"] = title
        doc["table"] = records(data, index=data_index)
        if notes:
            doc["notes"] = notes
        if extra:
            doc.update({k: _jsonable(v) for k, v in extra.items()})
        return json.dumps(doc, indent=2, ensure_ascii=False)
    width = _check_width(width)
    parts = []
    if fmt == "markdown":
        if title:
            parts.append(title + "\n")
        parts.append(_markdown(df, index, digits))
        if notes:
            parts.append("\n" + "\n".join("- " + n.replace("*", "\\*") for n in notes))
        return "\n".join(parts)
    if title:
        parts.append(wrap_text(title, None if wide else width) + "\n")
    parts.append(render_text(df, width=width, wide=wide, index=index, digits=digits, keys=keys))
    if notes:
        parts.append("")
        parts += [wrap_text(n, None if wide else width) for n in notes]
    return "\n".join(parts)


def fits(text: str, width: int) -> Sequence[str]:
    """Lines of ``text`` wider than ``width`` cells (empty if it fits)."""
    return [line for line in text.splitlines() if text_width(line) > width]


def progress_bar(total: int, desc: str, unit: str = "run", initial: int = 0, enabled: bool | None = None):
    """A progress bar on stderr (tqdm) for work that takes more than a second:
    ``None`` (nothing shown) when ``enabled`` is False, or when it is ``None``
    and stderr is not a terminal (piped output stays quiet) nor a notebook.
    Call ``.update(n)`` and ``.close()`` on what it returns."""
    import sys

    if enabled is not None and not isinstance(enabled, bool):
        raise ScenarioError(f"progress: must be True, False or None (a bar on a terminal only), got {enabled!r}")
    if enabled is None:
        enabled = sys.stderr.isatty() or "ipykernel" in sys.modules
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc, delay=1.0, file=sys.stderr)
