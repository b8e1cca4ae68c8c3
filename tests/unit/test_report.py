"""The evaluation report: the JSON result, and the HTML a marketer opens (three SVG charts, the headline, escaping)."""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from marketing.app.report import headline, render_html, render_json
from marketing.domain.evaluation import Evaluation, evaluate_campaign

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def a_campaign_result(treated: int = 1000, converted_t: int = 200, control: int = 1000, converted_c: int = 150,
                      name: str = "出境漫游包 / Outbound roaming pack", days_active: int = 3,
                      days: int = 30) -> Evaluation:
    """Customers spread over `days_active` days; the first `converted_*` of each group convert and respond."""
    rows: list[dict] = []
    for i in range(treated):
        at = START + timedelta(days=i % days_active)
        rows.append({"decision_id": f"t{i}", "customer_id": f"t{i}", "campaign_id": "roam", "outcome": "sent",
                     "decided_at": at.isoformat()})
        rows.append({"kind": "contact", "customer_id": f"t{i}", "campaign_id": "roam", "channel": "sms",
                     "at": at.isoformat()})
        if i < converted_t:
            rows.append({"kind": "response", "customer_id": f"t{i}", "campaign_id": "roam",
                         "at": (at + timedelta(hours=1)).isoformat()})
            rows.append({"kind": "conversion", "customer_id": f"t{i}", "campaign_id": "roam", "group": "treated",
                         "at": (at + timedelta(hours=2)).isoformat()})
    for i in range(control):
        rows.append({"decision_id": f"c{i}", "customer_id": f"c{i}", "campaign_id": "roam", "outcome": "holdout",
                     "decided_at": START.isoformat()})
        if i < converted_c:
            rows.append({"kind": "conversion", "customer_id": f"c{i}", "campaign_id": "roam", "group": "control",
                         "at": (START + timedelta(days=1)).isoformat()})
    return evaluate_campaign("roam", rows, cost_per_contact=0.05, offer_value=30.0, days=days, name=name)


class Page(HTMLParser):
    """What a reader of the page sees: visible text, and each <svg> with its <title> and drawn shapes."""

    def __init__(self, html: str):
        super().__init__()
        self.text: list[str] = []
        self.svgs: dict[str, dict] = {}
        self.scripts = 0
        self._svg: dict | None = None
        self._in: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._in.append(tag)
        if tag == "script":
            self.scripts += 1
        if tag == "svg":
            self._svg = {"title": "", "shapes": [], "text": []}
            self.svgs[attrs.get("id", f"svg{len(self.svgs)}")] = self._svg
        elif self._svg is not None and tag in {"rect", "polyline", "circle", "line"}:
            self._svg["shapes"].append(tag)

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass
        if tag == "svg":
            self._svg = None

    def handle_data(self, data):
        data = " ".join(data.split())
        if not data or self._in[-1:] == ["style"]:
            return
        if self._svg is not None and self._in[-1:] == ["title"] and self._in[-2:-1] == ["svg"]:
            self._svg["title"] += data
        elif self._svg is not None:
            self._svg["text"].append(data)
        self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(self.text)


def test_headline_states_rates_lift_interval_and_p_value():
    assert headline(a_campaign_result()) == (
        "Success rate 20.0% treated vs 15.0% control: lift +5.0 pp (95% CI +1.7 to +8.3 pp), p = 0.0033"
    )


def test_headline_of_a_very_clear_result_and_of_an_unmeasurable_one():
    clear = a_campaign_result(treated=1000, converted_t=300, control=1000, converted_c=100)
    assert headline(clear).endswith("p < 0.0001")
    no_control = a_campaign_result(control=0, converted_c=0)
    assert headline(no_control) == ("Success rate 20.0% treated vs n/a control: lift not measurable "
                                    "(no customers in the control group: lift cannot be measured)")


def test_the_page_has_the_three_charts_with_titles():
    page = Page(render_html(a_campaign_result()))
    assert set(page.svgs) == {"funnel", "trend", "lift"}
    assert page.svgs["funnel"]["title"].startswith("Funnel of the treated group")
    assert page.svgs["trend"]["title"].startswith("Daily trend of the treated group")
    assert page.svgs["lift"]["title"].startswith("Absolute lift in success rate")
    assert page.svgs["funnel"]["shapes"].count("rect") == 4
    assert page.svgs["funnel"]["text"][:2] == ["eligible", "1,000"]
    assert page.svgs["trend"]["shapes"].count("polyline") == 3
    assert page.svgs["lift"]["shapes"].count("circle") == 1
    assert {"+5.0 pp", "+1.7 pp", "+8.3 pp", "0"} <= set(page.svgs["lift"]["text"])
    assert page.scripts == 0


def test_the_page_shows_the_headline_and_the_numbers_behind_it():
    page = Page(render_html(a_campaign_result()))
    text = page.visible
    assert "Success rate 20.0% treated vs 15.0% control: lift +5.0 pp (95% CI +1.7 to +8.3 pp), p = 0.0033" in text
    assert "treated control customers 1000 1000 contacted 1000 0 contact rate 100.0% 0.0%" in text
    assert "converters 200 150 success rate 20.0% 15.0%" in text
    assert "relative lift 33.3%" in text
    assert "cost per conversion 30.25" in text  # (1000 x 0.05 + 200 x 30) / 200
    assert "touches per subscriber per month 1.00" in text


def test_a_hostile_campaign_name_is_escaped():
    html = render_html(a_campaign_result(name='<script>alert("x")</script>'))
    page = Page(html)
    assert page.scripts == 0
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'Campaign evaluation: <script>alert("x")</script>' in page.visible  # shown as text, not run


def test_unmeasurable_lift_and_no_activity_still_render():
    page = Page(render_html(evaluate_campaign("empty", [], cost_per_contact=0.05, offer_value=1.0, days=7)))
    assert set(page.svgs) == {"funnel", "trend", "lift"}
    assert "no activity in the period" in page.svgs["trend"]["text"]
    assert any(t.startswith("lift not measurable: no customers") for t in page.svgs["lift"]["text"])
    assert "Notes" in page.visible


def test_a_single_day_and_a_one_customer_interval_render():
    page = Page(render_html(a_campaign_result(treated=1, converted_t=1, control=1, converted_c=0, days_active=1,
                                              days=1)))
    assert page.svgs["trend"]["shapes"].count("circle") == 3
    # one customer a group: the score interval spans almost everything, and the note says why
    assert {"+100.0 pp", "-12.2 pp"} <= set(page.svgs["lift"]["text"])   # the ends, labelled apart
    assert "too small to tell" in page.visible
    assert "1 day" in page.visible and "1 days" not in page.visible


def test_render_json_is_strict_json_with_the_headline():
    evaluation = a_campaign_result()
    data = json.loads(render_json(evaluation))
    assert data["headline"] == headline(evaluation)
    assert data["name"] == "出境漫游包 / Outbound roaming pack"  # not \\u-escaped in the file
    assert "出境漫游包" in render_json(evaluation)
    assert data["lift"]["p_value"] == pytest.approx(0.0032563, abs=1e-6)
    assert data["lift"]["absolute_ci"] == pytest.approx([0.0167011, 0.0832267], abs=1e-6)   # Newcombe
    assert data["groups"]["control"]["success_rate"] == 0.15
    assert data["cost"] == {"cost_per_contact": 0.05, "offer_value": 30.0, "touches": 1000, "total": 6050.0,
                            "per_conversion": 30.25, "incremental_conversions": pytest.approx(50.0),
                            "per_incremental_conversion": pytest.approx(121.0)}


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine: the screenshot check needs a headless browser")
def test_the_report_renders_in_a_browser(tmp_path):
    page = tmp_path / "report.html"
    shot = tmp_path / "report.png"
    page.write_text(render_html(a_campaign_result()), encoding="utf-8")
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1024,1800",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=60)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
