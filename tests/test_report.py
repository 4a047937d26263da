"""The Snakemake report: its landing page (what the run did, summary, main figure) in a real headless browser."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import pandas as pd
import pytest
import yaml
from docutils.core import publish_parts

from effaug.report import csv_table, image, protect_from_jinja, results_section
from tests.browser import Browser, chromium
from tests.conftest import REPO
from tests.test_workflow import snakemake

# the smallest valid PNG: one transparent pixel
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def html(rst: str) -> str:
    """docutils' HTML body for ``rst``, failing on any warning or error it reports."""
    return publish_parts(rst, writer="html", settings_overrides={"report_level": 2, "halt_level": 2})["html_body"]


def test_a_summary_becomes_a_table_with_its_headers_and_rounded_values():
    table = pd.DataFrame({"augmentation": ["translate", "crop"], "Baseline 5%": [0.81234, float("nan")]})
    body = html(csv_table("Summary of mnist", table))
    assert "<table" in body and "Summary of mnist" in body
    assert "Baseline 5%" in body and "0.812" in body and "0.8123" not in body


def test_the_figure_is_embedded_as_a_data_uri():
    body = html(image(PIXEL, "main figure"))
    assert 'src="data:image/png;base64,' in body and 'alt="main figure"' in body


def test_generated_text_passes_jinja_unchanged():
    text = results_section({"d": pd.DataFrame({"a{{b}}": ["{% x %}"]})}, PIXEL, "caption {{ y }}", "note")
    rendered = jinja2.Environment().from_string(protect_from_jinja(text)).render()
    assert rendered.strip() == text.strip()
    with pytest.raises(ValueError, match="endraw"):
        protect_from_jinja("{% endraw %}")


def test_the_landing_template_renders_for_every_shipped_config():
    template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    for path in sorted((REPO / "config").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())

        class Snakemake:
            pass

        Snakemake.config = config
        text = template.from_string((REPO / "workflow/report/workflow.rst").read_text()).render(
            snakemake=Snakemake, finished=False)
        body = html(text)
        assert "which training points to augment" in body, path
        for dataset in config["datasets"]:
            assert dataset in body, (path, dataset)


@pytest.fixture(scope="module")
def report(small_run, tmp_path_factory):
    """The report of the shared small run, written outside its results/ (which other tests compare)."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = snakemake(small_run, "--report", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    return path


@pytest.mark.skipif(chromium() is None, reason="needs Chromium (.ci/run installs it)")
def test_the_report_renders_its_landing_page_categories_and_figures_in_a_browser(report, tmp_path):
    with Browser(chromium(), tmp_path / "profile") as browser:
        browser.open(report.as_uri())
        landing = browser.wait_until("document.querySelector('.prose') && document.querySelector('.prose').innerText")
        assert "which training points to augment" in landing
        assert "Summary of tiny" in landing and "translate" in landing
        assert browser.wait_until("[...document.querySelectorAll('.prose img')]"
                                  ".filter(i => i.complete && i.naturalWidth > 100).length") == 1
        if os.environ.get("EFFAUG_SCREENSHOTS"):
            browser.screenshot(Path(os.environ["EFFAUG_SCREENSHOTS"]) / "report_landing.png")

        categories = browser.evaluate("Object.keys(categories)")
        assert {"Accuracy curves", "AUC tables", "Summary tables", "Scores"} <= set(categories)
        for category in categories:
            browser.evaluate(f"app.showCategory({json.dumps(category)})")
            shown = browser.wait_until("document.querySelector('nav') && document.querySelector('nav').innerText")
            assert category in shown, category

        figures = browser.evaluate("Object.entries(results).filter(([p, r]) => r.mime_type === 'image/png')"
                                   ".map(([p, r]) => p)")
        accuracy = [path for path in figures if "accuracy_" in path]
        assert accuracy, figures
        browser.evaluate(f"app.setView({{content: 'img', contentPath: results[{json.dumps(accuracy[0])}].data_uri,"
                         f" resultPath: {json.dumps(accuracy[0])}}})")
        assert browser.wait_until("[...document.querySelectorAll('img')]"
                                  ".filter(i => i.src.startsWith('data:image/png') && !i.closest('.prose')"
                                  " && i.complete && i.naturalWidth > 100).length") >= 1
        browser.evaluate("1")  # let pending events arrive
        assert browser.errors == []
