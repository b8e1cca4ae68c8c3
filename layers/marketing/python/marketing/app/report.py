"""The campaign evaluation as the marketer reads it: a JSON result and a self-contained HTML report.

The HTML is one file with inline SVG charts (funnel, daily trend, lift with its interval): no script,
no external asset, every value escaped by Jinja2. It formats an `Evaluation`; it never computes a figure.
"""
from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, StrictUndefined

from marketing.domain.evaluation import Evaluation, Lift

WIDTH = 640
# series in drawing order; later ones are dashed so a line drawn over an equal one leaves it visible
SERIES = {"contacted": ("#2563eb", ""), "responses": ("#f59e0b", ""), "conversions": ("#16a34a", "6 4")}


# ---------------------------------------------------------------- numbers as words

def percent(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def points(value: float | None) -> str:
    """A difference of rates in percentage points, signed."""
    return "n/a" if value is None else f"{value * 100:+.1f} pp"


def p_value(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 0.0001:
        return "< 0.0001"
    return "1.0" if value >= 1.0 else f"{value:.2g}"


def money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def confidence_label(lift: Lift) -> str:
    return f"{lift.confidence * 100:g}%"


def headline(evaluation: Evaluation) -> str:
    """One sentence: success rates, lift with its interval, p-value; or why the lift cannot be measured."""
    lift = evaluation.lift
    rates = f"Success rate {percent(lift.rate_t)} treated vs {percent(lift.rate_c)} control"
    if lift.absolute is None:
        return f"{rates}: lift not measurable ({lift.note})"
    low, high = lift.absolute_ci
    return (f"{rates}: lift {points(lift.absolute)} ({confidence_label(lift)} CI {points(low)[:-3]} to "
            f"{points(high)}), p {'' if lift.p_value < 0.0001 else '= '}{p_value(lift.p_value)}")


# ---------------------------------------------------------------- chart geometry (numbers only)

def funnel_chart(evaluation: Evaluation) -> dict[str, Any]:
    stages = evaluation.funnel
    top = max([n for _, n in stages] + [1])
    left, span, row = 110, 400, 34
    bars = []
    for i, (stage, n) in enumerate(stages):
        width = span * n / top
        share = f" ({percent(n / stages[0][1])})" if stages[0][1] and i else ""
        bars.append({"label": stage, "y": 10 + i * row, "x": left, "width": round(width, 1),
                     "text": f"{n:,}{share}", "text_x": round(left + width + 6, 1)})
    return {"height": 20 + row * len(stages), "bars": bars}


def trend_chart(evaluation: Evaluation) -> dict[str, Any]:
    left, right, top, bottom, height = 48, 20, 16, 44, 240
    days = evaluation.daily
    chart: dict[str, Any] = {"height": height, "left": left, "right": WIDTH - right, "top": top,
                             "bottom": height - bottom, "series": [], "labels": [], "empty": not days}
    if not days:
        return chart
    peak = max(max(d.contacted, d.responses, d.conversions) for d in days) or 1
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def x(i: int) -> float:
        return round(left + (plot_w / 2 if len(days) == 1 else plot_w * i / (len(days) - 1)), 1)

    def y(v: int) -> float:
        return round(top + plot_h * (1 - v / peak), 1)

    for name, (colour, dash) in SERIES.items():
        values = [getattr(d, name) for d in days]
        chart["series"].append({
            "name": name, "colour": colour, "dash": dash,
            "points": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
            "dots": [{"x": x(i), "y": y(v), "title": f"{d.date.isoformat()}: {v} {name}"}
                     for i, (d, v) in enumerate(zip(days, values))] if len(days) <= 62 else [],
        })
    chart["peak"] = peak
    chart["labels"] = [{"x": x(0), "text": days[0].date.isoformat(), "anchor": "start" if len(days) > 1 else "middle"}]
    if len(days) > 1:
        chart["labels"].append({"x": x(len(days) - 1), "text": days[-1].date.isoformat(), "anchor": "end"})
    return chart


def lift_chart(lift: Lift) -> dict[str, Any]:
    left, right, height, axis_y = 40, 40, 120, 60
    chart: dict[str, Any] = {"height": height, "axis_y": axis_y, "left": left, "right": WIDTH - right,
                             "measured": lift.absolute is not None, "note": lift.note}
    if lift.absolute is None:
        return chart
    low, high = lift.absolute_ci
    lo, hi = min(low, 0.0, lift.absolute), max(high, 0.0, lift.absolute)
    pad = max((hi - lo) * 0.15, 0.005)  # at least half a point each side, so a degenerate interval still shows
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return round(left + (WIDTH - left - right) * (v - lo) / (hi - lo), 1)

    chart.update(zero=x(0.0), point=x(lift.absolute), low=x(low), high=x(high),
                 point_text=points(lift.absolute), low_text=points(low), high_text=points(high),
                 colour="#16a34a" if lift.significant and lift.absolute > 0 else
                 "#dc2626" if lift.significant else "#6b7280")
    return chart


# ---------------------------------------------------------------- the documents

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campaign evaluation: {{ e.name }}</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:60em;color:#111827;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} .sub{color:#6b7280;margin-top:0}
.headline{font-size:1.15em;background:#f3f4f6;border-left:4px solid #2563eb;padding:.7em 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.92em}
td,th{padding:4px 8px;text-align:right;border-bottom:1px solid #e5e7eb} td:first-child,th:first-child{text-align:left}
svg{display:block;margin:.5em 0 1.5em;max-width:100%;height:auto} svg text{font-size:12px;fill:#374151}
.notes li{color:#92400e}
</style></head>
<body>
<h1>Campaign evaluation: {{ e.name }}</h1>
<p class="sub">{{ e.campaign_id }} · {{ e.days }} day{{ "" if e.days == 1 else "s" }}{% if e.daily %} · {{ e.daily[0].date }} to {{ e.daily[-1].date }}{% endif %}</p>
<p class="headline" id="headline">{{ headline }}</p>

<h2>Funnel (treated group)</h2>
<svg id="funnel" role="img" aria-labelledby="funnel-title" viewBox="0 0 {{ width }} {{ funnel.height }}" width="{{ width }}" height="{{ funnel.height }}">
<title id="funnel-title">Funnel of the treated group: eligible, contacted, responded, converted</title>
{% for bar in funnel.bars %}<text x="{{ bar.x - 8 }}" y="{{ bar.y + 17 }}" text-anchor="end">{{ bar.label }}</text>
<rect x="{{ bar.x }}" y="{{ bar.y }}" width="{{ bar.width }}" height="24" fill="#2563eb" opacity="{{ 1 - loop.index0 * 0.18 }}"></rect>
<text x="{{ bar.text_x }}" y="{{ bar.y + 17 }}">{{ bar.text }}</text>
{% endfor %}</svg>

<h2>Daily trend (treated group)</h2>
<svg id="trend" role="img" aria-labelledby="trend-title" viewBox="0 0 {{ width }} {{ trend.height }}" width="{{ width }}" height="{{ trend.height }}">
<title id="trend-title">Daily trend of the treated group: customers first contacted, responding and converting per day</title>
<line x1="{{ trend.left }}" y1="{{ trend.bottom }}" x2="{{ trend.right }}" y2="{{ trend.bottom }}" stroke="#9ca3af"></line>
<line x1="{{ trend.left }}" y1="{{ trend.top }}" x2="{{ trend.left }}" y2="{{ trend.bottom }}" stroke="#9ca3af"></line>
{% if trend.empty %}<text x="{{ width / 2 }}" y="{{ trend.height / 2 }}" text-anchor="middle">no activity in the period</text>
{% else %}<text x="{{ trend.left - 6 }}" y="{{ trend.top + 4 }}" text-anchor="end">{{ trend.peak }}</text>
<text x="{{ trend.left - 6 }}" y="{{ trend.bottom + 4 }}" text-anchor="end">0</text>
{% for label in trend.labels %}<text x="{{ label.x }}" y="{{ trend.bottom + 16 }}" text-anchor="{{ label.anchor }}">{{ label.text }}</text>
{% endfor %}{% for s in trend.series %}<polyline fill="none" stroke="{{ s.colour }}" stroke-width="2"{% if s.dash %} stroke-dasharray="{{ s.dash }}"{% endif %} points="{{ s.points }}"></polyline>
{% for d in s.dots %}<circle cx="{{ d.x }}" cy="{{ d.y }}" r="3" fill="{{ s.colour }}"><title>{{ d.title }}</title></circle>{% endfor %}
<rect x="{{ trend.left + 10 + loop.index0 * 130 }}" y="{{ trend.height - 14 }}" width="10" height="10" fill="{{ s.colour }}"></rect>
<text x="{{ trend.left + 24 + loop.index0 * 130 }}" y="{{ trend.height - 5 }}">{{ s.name }}</text>
{% endfor %}{% endif %}</svg>

<h2>Lift in success rate, with its {{ conf }} interval</h2>
<svg id="lift" role="img" aria-labelledby="lift-title" viewBox="0 0 {{ width }} {{ lift.height }}" width="{{ width }}" height="{{ lift.height }}">
<title id="lift-title">Absolute lift in success rate (treated minus control) with its {{ conf }} confidence interval, against zero</title>
{% if lift.measured %}<line x1="{{ lift.left }}" y1="{{ lift.axis_y }}" x2="{{ lift.right }}" y2="{{ lift.axis_y }}" stroke="#e5e7eb"></line>
<text x="{{ lift.zero }}" y="12" text-anchor="middle">0</text>
<line x1="{{ lift.zero }}" y1="18" x2="{{ lift.zero }}" y2="{{ lift.axis_y + 14 }}" stroke="#6b7280" stroke-dasharray="4 3"></line>
<line x1="{{ lift.low }}" y1="{{ lift.axis_y }}" x2="{{ lift.high }}" y2="{{ lift.axis_y }}" stroke="{{ lift.colour }}" stroke-width="3"></line>
<line x1="{{ lift.low }}" y1="{{ lift.axis_y - 10 }}" x2="{{ lift.low }}" y2="{{ lift.axis_y + 10 }}" stroke="{{ lift.colour }}" stroke-width="2"></line>
<line x1="{{ lift.high }}" y1="{{ lift.axis_y - 10 }}" x2="{{ lift.high }}" y2="{{ lift.axis_y + 10 }}" stroke="{{ lift.colour }}" stroke-width="2"></line>
<circle cx="{{ lift.point }}" cy="{{ lift.axis_y }}" r="6" fill="{{ lift.colour }}"></circle>
<text x="{{ lift.point }}" y="{{ lift.axis_y - 16 }}" text-anchor="middle">{{ lift.point_text }}</text>
{% if lift.high - lift.low >= 90 %}<text x="{{ lift.low }}" y="{{ lift.axis_y + 30 }}" text-anchor="middle">{{ lift.low_text }}</text>
<text x="{{ lift.high }}" y="{{ lift.axis_y + 30 }}" text-anchor="middle">{{ lift.high_text }}</text>
{% else %}<text x="{{ lift.point }}" y="{{ lift.axis_y + 30 }}" text-anchor="middle">{{ conf }} CI {{ lift.low_text }} to {{ lift.high_text }}</text>
{% endif %}{% else %}<text x="{{ width / 2 }}" y="{{ lift.axis_y }}" text-anchor="middle">lift not measurable: {{ lift.note }}</text>{% endif %}
</svg>

<h2>Treated vs control</h2>
<table id="groups">
<tr><th></th><th>treated</th><th>control</th></tr>
{% for label, key, as_rate in group_rows %}<tr><td>{{ label }}</td>{% for g in groups %}<td>{{ pct(g[key]) if as_rate else g[key] }}</td>{% endfor %}</tr>
{% endfor %}</table>

<h2>Lift</h2>
<table id="lift-table">
<tr><td>absolute lift</td><td>{{ pp(l.absolute) }}</td></tr>
<tr><td>{{ conf }} interval (Newcombe score)</td><td>{% if l.absolute_ci %}{{ pp(l.absolute_ci[0]) }} to {{ pp(l.absolute_ci[1]) }}{% else %}n/a{% endif %}</td></tr>
<tr><td>relative lift</td><td>{{ pct(l.relative) }}</td></tr>
<tr><td>{{ conf }} interval (delta method, log ratio)</td><td>{% if l.relative_ci %}{{ pct(l.relative_ci[0]) }} to {{ pct(l.relative_ci[1]) }}{% else %}n/a{% endif %}</td></tr>
<tr><td>z (pooled)</td><td>{{ num(l.z) }}</td></tr>
<tr><td>p-value (two-sided)</td><td>{{ pval(l.p_value) }}</td></tr>
</table>

<h2>Cost and pressure</h2>
<table id="cost">
<tr><td>touches</td><td>{{ e.touches }}</td></tr>
<tr><td>cost ({{ money(e.cost_per_contact) }} per touch + {{ money(e.offer_value) }} per treated conversion)</td><td>{{ money(e.cost) }}</td></tr>
<tr><td>cost per conversion</td><td>{{ money(e.cost_per_conversion) }}</td></tr>
<tr><td>incremental conversions</td><td>{{ num(e.incremental_conversions, 1) }}</td></tr>
<tr><td>cost per incremental conversion</td><td>{{ money(e.cost_per_incremental_conversion) }}</td></tr>
<tr><td>touches per subscriber per month</td><td>{{ num(e.touches_per_subscriber_month) }}</td></tr>
</table>
{% if notes %}<h2>Notes</h2><ul class="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""

_GROUP_ROWS = (  # label, key of GroupStats.to_json(), shown as a rate
    ("customers", "customers", False), ("contacted", "contacted", False), ("contact rate", "contact_rate", True),
    ("responders", "responders", False), ("response rate", "response_rate", True),
    ("converters", "converters", False), ("success rate", "success_rate", True),
    ("unsubscribed within 7 days of accepting", "unsubscribed_7d", False),
    ("unsubscribe rate (of responders)", "unsubscribe_rate_7d", True),
)

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=False)
_PAGE = _ENV.from_string(_TEMPLATE)


def render_html(evaluation: Evaluation) -> str:
    lift = evaluation.lift
    notes = [n for n in (lift.note, *evaluation.notes) if n]
    return _PAGE.render(
        e=evaluation, l=lift, headline=headline(evaluation), width=WIDTH, conf=confidence_label(lift),
        funnel=funnel_chart(evaluation), trend=trend_chart(evaluation), lift=lift_chart(lift),
        groups=[evaluation.treated.to_json(), evaluation.control.to_json()], group_rows=_GROUP_ROWS, notes=notes,
        pct=percent, pp=points, pval=p_value, money=money, num=number,
    )


def render_json(evaluation: Evaluation) -> str:
    """The evaluation as JSON (strict: no NaN can slip through), with the headline sentence."""
    return json.dumps({**evaluation.to_json(), "headline": headline(evaluation)},
                      ensure_ascii=False, indent=2, allow_nan=False)
