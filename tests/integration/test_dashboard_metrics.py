"""The dashboard and the alarms read what the code emits: the pipeline runs on moto with metrics on
(Powertools writes EMF documents to stdout, as CloudWatch Logs receives them from Lambda), and every
product metric a dashboard widget or an alarm of the synthesized template reads is among them."""
from __future__ import annotations

import json
import re

import pytest

from infra.constructs.common import METRICS_NAMESPACE
from tests.integration.world import a_campaign, a_profile, an_event


def _emitted(text: str) -> dict[str, set[tuple[str, ...]]]:
    """metric name -> the dimension sets it was emitted with, from the EMF documents in `text`."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != METRICS_NAMESPACE:
                continue
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"] or [[]]:
                    found.setdefault(metric["Name"], set()).add(tuple(sorted(dimensions)))
    return found


def _read_by_the_stack(template: dict) -> set[str]:
    """Every product metric (namespace EventMarketing) a dashboard widget or an alarm reads."""
    names: set[str] = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = resource["Properties"]["DashboardBody"]
            text = "".join(p if isinstance(p, str) else "?" for p in body["Fn::Join"][1]) \
                if isinstance(body, dict) else body
            names |= set(re.findall(rf'Namespace=\\\\*"{METRICS_NAMESPACE}\\\\*" MetricName=\\\\*"(\w+)', text))
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            props = resource["Properties"]
            if props.get("Namespace") == METRICS_NAMESPACE:
                names.add(props["MetricName"])
            for query in props.get("Metrics", []):
                stat = query.get("MetricStat", {}).get("Metric", {})
                if stat.get("Namespace") == METRICS_NAMESPACE:
                    names.add(stat["MetricName"])
    return names


@pytest.fixture
def metrics_on(monkeypatch):
    monkeypatch.setenv("MARKETING_METRICS_DISABLED", "false")


def test_every_metric_the_dashboard_and_alarms_read_is_emitted(metrics_on, world, synth, capsys):
    world.add_campaigns(
        a_campaign("roam-sms", channels=[{"sms": {"text": "7天漫游包{offer_value}元"}}], priority=60),
        a_campaign("roam-mail", area="PVG_T2", channels=[{"email": {"subject": "漫游", "text": "漫游包"}}]))
    world.add_profiles(a_profile("8613800000001"), a_profile("8613800000002", email="li.na@example.com"))
    world.publish(an_event(customer="8613800000001"),
                  an_event(customer="8613800000002", area="PVG_T2"),
                  an_event(customer="8613899999999"),                   # unknown customer: dead-lettered
                  b"not json at all")
    world.run()
    emitted = _emitted(capsys.readouterr().out)

    read = _read_by_the_stack(synth.raw)
    assert read >= {"Decisions", "Sent", "DeadLettered", "DecisionLatency"}, read   # the parser sees them
    missing = read - set(emitted)
    assert not missing, f"the dashboard or an alarm reads metrics no code emits: {sorted(missing)}"
    assert ("channel", "service") in emitted["Sent"], emitted["Sent"]        # "Sent by channel"
    assert ("outcome", "service") in emitted["Decisions"]
    assert ("reason", "service") in emitted["DeadLettered"]
