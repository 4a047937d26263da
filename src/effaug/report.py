"""The report's landing page: the summary tables and the main accuracy figure as reStructuredText.

Snakemake renders the landing text through Jinja before docutils reads it, so the generated page
is wrapped in a ``raw`` block that Jinja leaves alone (``protect_from_jinja``).
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Mapping

import pandas as pd


def csv_table(title: str, table: pd.DataFrame, digits: int = 3) -> str:
    """A ``csv-table`` directive holding ``table`` (floats rounded to ``digits``), with its header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([str(column) for column in table.columns])
    for row in table.itertuples(index=False):
        writer.writerow([_cell(value, digits) for value in row])
    body = "".join(f"   {line}\n" for line in buffer.getvalue().splitlines())
    return f".. csv-table:: {title}\n   :header-rows: 1\n\n{body}"


def columns_per_row(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` transposed: its first column's values become the headers, its other headers the first column."""
    key = table.columns[0]
    transposed = table.set_index(key).T
    return transposed.rename_axis(None, axis=1).rename_axis("").reset_index()


def _cell(value, digits: int) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}f}"
    return str(value)


def image(png: bytes, alt: str, width_percent: int = 90) -> str:
    """An ``image`` directive embedding ``png`` as a data URI, so the report stays one self-contained file.

    The URI is folded into short lines (docutils joins them) to stay under docutils' line-length limit."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    folded = "".join(f"   {uri[i:i + 76]}\n" for i in range(0, len(uri), 76))
    return f".. image::\n{folded}   :alt: {alt}\n   :width: {width_percent}%\n"


def results_section(summaries: Mapping[str, pd.DataFrame], figure_png: bytes, figure_caption: str,
                    summary_note: str) -> str:
    """The landing page's results: one summary table per dataset (a column per augmentation, to fit the
    page's narrow text column), then the main figure and its caption."""
    parts = ["Results\n-------\n", summary_note.strip() + "\n"]
    for dataset, table in summaries.items():
        parts.append(csv_table(f"Summary of {dataset}", columns_per_row(table)))
    parts += [image(figure_png, figure_caption), figure_caption.strip() + "\n"]
    return "\n".join(parts)


def protect_from_jinja(text: str) -> str:
    """``text`` inside a Jinja ``raw`` block, so that Snakemake's second Jinja pass leaves it as it is."""
    if "{% endraw %}" in text:
        raise ValueError("the landing text must not contain '{% endraw %}'")
    return "{% raw %}\n" + text + "\n{% endraw %}\n"
