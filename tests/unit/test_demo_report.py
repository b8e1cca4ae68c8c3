"""reports/demo.html as a reader sees it: every outcome, responses and conversions, thousands separators,
the largest bar's label inside the chart, and a link to the story's campaign report."""
from __future__ import annotations

import re

from rich.console import Console

from marketing_tools.demo.run import OUTCOME_COLUMNS, DemoResult, write_report
from marketing_tools.demo.story import StoryResult


def test_the_demo_report_shows_every_outcome_and_keeps_its_labels_in_the_chart(tmp_path):
    result = DemoResult(events_published=50_000, sms=7_472, emails=1_200,
                        outcomes={"roam": {"sent": 7_472, "holdout": 390, "deferred": 12, "not_eligible": 40_001}},
                        campaigns={"roam": {"responses": 1_234, "conversions_treated": 321, "conversions_holdout": 9}},
                        story=StoryResult(report_html="<html>story</html>"))
    write_report(result, tmp_path, Console(file=open(tmp_path / "out.txt", "w")))
    html = (tmp_path / "demo.html").read_text()

    for column in OUTCOME_COLUMNS + ["responses", "conversions (treated / holdout)"]:
        assert f"<th>{column}</th>" in html
    assert "50,000 events" in html and "7,472 SMS" in html and "40,001" in html and "1,234" in html
    assert "321 / 9" in html
    width = float(re.search(r'<svg width="(\d+)"', html).group(1))
    for x, label in re.findall(r'<text x="([\d.]+)" y="[\d.]+">([\d,]+)</text>', html):
        assert float(x) + 9 * len(label) <= width, (label, x, width)   # ~9 px a digit at the default size
    assert '<a href="story-roaming.html">' in html and (tmp_path / "story-roaming.html").read_text() == "<html>story</html>"
