"""The demo's second act: customers answer. After the day's events, a seeded share of contacted
customers reply to their SMS (the campaign's reply code, some `TD`) through the inbound-sms topic,
some convert (the campaign's conversion event — holdout customers too, less often, so lift shows),
and store/care/app/web staff open the offers waiting at their touchpoint and get an answer through
the offer API's real handler. Then the per-campaign table: sent, deferred, throttled and suppressed
by rule, holdout, responses, conversions. Emulator only.
"""
from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any

from rich.console import Console
from rich.table import Table

from marketing.adapters.aws import KinesisRecordStream
from marketing.adapters.aws_responses import DynamoResponseStore
from marketing.domain.campaigns import Campaign
from marketing.domain.catalog import EventCatalog
from marketing.domain.conditions import EVENT, Test, conjuncts
from marketing.domain.models import INBOUND
from marketing.domain.responses import ResponseKind
from marketing_tools.demo import synthetic

REPLY_SHARE, OPT_OUT_SHARE = 0.25, 0.03        # of SMS contacts
REGRET_SHARE = 0.2                             # of those who ordered (SMS or touchpoint): TD afterwards
CONVERT_TREATED, CONVERT_HOLDOUT = 0.2, 0.08   # of exposures to a campaign with a conversion rule
MAX_TOUCHPOINT_VISITS = 100                    # offer API calls stay a few seconds
INBOUND_CHANNELS = frozenset(c.value for c in INBOUND)


def _satisfying(test: Test) -> Any:
    """A value the test accepts, for the tests a conversion rule is made of; None for others."""
    match test.op:
        case "eq" | "gte" | "lte":
            return test.operand
        case "in":
            return sorted(test.operand, key=str)[0]
        case "gt":
            return test.operand + 1
        case "lt":
            return test.operand - 1
        case "between":
            return test.operand[0]
    return None


def conversion_event(campaign: Campaign, catalog: EventCatalog, customer_id: str, n: int, now: datetime,
                     rng: random.Random) -> dict[str, Any]:
    """A conversion the campaign's rule counts and the catalog accepts: the rule's values on the
    event's attributes, the offer's product where the type has one, every other required attribute."""
    assert campaign.conversion is not None
    spec = catalog.types[campaign.conversion.event]
    attributes: dict[str, Any] = {}
    for node in conjuncts(campaign.conversion_rule):
        if isinstance(node, Test) and node.path.source == EVENT and (value := _satisfying(node)) is not None:
            attributes[node.path.key] = value
    if "product" in spec.attributes:
        attributes.setdefault("product", campaign.offer.code)
    for attribute in spec.attributes.values():
        if attribute.required and attribute.name not in attributes:
            attributes[attribute.name] = synthetic.attribute_value(rng, attribute.type, now)
    return {"event_id": f"conv-{n:06d}", "event_type": campaign.conversion.event, "customer_id": customer_id,
            "occurred_at": now.isoformat(), "source": "order_centre", "touchpoint": "network",
            "attributes": attributes}


def respond(emulator: Any, env: dict[str, str], campaigns: list[Campaign], catalog: EventCatalog, pipeline: Any,
            seed: int, rows: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Replies, conversions and touchpoint visits for the standing decisions `rows` (sent and holdout);
    returns what was sent in (and the seconds it took)."""
    started = time.monotonic()
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    by_id = {c.id: c for c in campaigns}
    sns = emulator.client("sns")
    exposed = sorted((r for r in rows.values() if r["outcome"] in ("sent", "holdout") and r["campaign_id"] in by_id),
                     key=lambda r: r["decision_id"])
    done: Counter[str] = Counter()
    conversions: list[tuple[str, bytes]] = []
    visits: list[tuple[str, str]] = []
    for n, row in enumerate(exposed):
        campaign, treated = by_id[row["campaign_id"]], row["outcome"] == "sent"
        if treated and row.get("channel") in INBOUND_CHANNELS:
            visits.append((row["customer_id"], row["channel"]))
        if treated and row.get("channel") == "sms" and campaign.offer.reply_code:
            roll = rng.random()
            text = None
            if roll < OPT_OUT_SHARE:
                text = rng.choice(["TD", "td", "退订", "STOP"])
            elif roll < OPT_OUT_SHARE + REPLY_SHARE:
                text = rng.choice([campaign.offer.reply_code, f" {campaign.offer.reply_code.lower()} "])
            if text and text.strip().upper() == campaign.offer.reply_code.upper() and rng.random() < REGRET_SHARE:
                text = [text, "TD"]  # ordered, then unsubscribed: the 7-day unsubscribe measure
            for i, body in enumerate(text if isinstance(text, list) else [text] if text else []):
                sns.publish(TopicArn=env["INBOUND_SMS_TOPIC_ARN"], Message=json.dumps({
                    "originationNumber": f"+{row['customer_id']}", "destinationNumber": "+10000000000",
                    "messageKeyword": "KEYWORD", "messageBody": body, "inboundMessageId": f"demo-in-{n:06d}-{i}",
                    "previousPublishedMessageId": None}))
                done["sms replies"] += 1
        if campaign.conversion is not None and rng.random() < (CONVERT_TREATED if treated else CONVERT_HOLDOUT):
            event = conversion_event(campaign, catalog, row["customer_id"], n, now, rng)
            conversions.append((row["customer_id"], json.dumps(event, ensure_ascii=False).encode()))
    if conversions:
        KinesisRecordStream(emulator.client("kinesis"), env["CUSTOMER_EVENTS_STREAM"]).put(conversions)
        done["conversion events"] = len(conversions)

    from marketing_tools.emulator.offer_api import LocalOfferApi

    visits = sorted(set(visits))
    rng.shuffle(visits)
    if visits:
        api = LocalOfferApi(env)
        for customer_id, touchpoint in visits[:MAX_TOUCHPOINT_VISITS]:
            status, _ = api.current(customer_id, touchpoint)
            if status != 200:
                continue
            done["offers presented"] += 1
            roll = rng.random()
            if roll < 0.6:
                accepted = roll < 0.35
                if api.answer(customer_id, touchpoint, accept=accepted)[0] == 200:
                    done["offers accepted" if accepted else "offers declined"] += 1
                    if accepted and rng.random() < REGRET_SHARE:  # took the offer, then opted out of SMS
                        sns.publish(TopicArn=env["INBOUND_SMS_TOPIC_ARN"], Message=json.dumps({
                            "originationNumber": f"+{customer_id}", "destinationNumber": "+10000000000",
                            "messageKeyword": "KEYWORD", "messageBody": "TD",
                            "inboundMessageId": f"demo-regret-{customer_id}", "previousPublishedMessageId": None}))
                        done["sms replies"] += 1
    pipeline.drain(idle_rounds=2)
    done["seconds"] = round(time.monotonic() - started, 1)
    return dict(done)


def per_campaign(rows: dict[str, dict[str, Any]], env: dict[str, str], emulator: Any) -> dict[str, dict[str, Any]]:
    """sent, deferred, throttled and suppressed (with their rules), holdout, responses, conversions."""
    table: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for row in rows.values():
        counts = table[row["campaign_id"]]
        outcome = row["outcome"]
        if outcome in ("sent", "deferred", "holdout", "throttled", "suppressed"):
            counts[outcome] += 1
        if outcome in ("throttled", "suppressed") and row.get("reason"):
            rule = row["detail"] if row["reason"] == "cap" and row.get("detail") else row["reason"]
            counts.setdefault(f"{outcome}_by", Counter())[rule] += 1
        if outcome == "sent" and row.get("channel") in INBOUND_CHANNELS:
            counts["at_touchpoint"] += 1
    records = DynamoResponseStore(emulator.client("dynamodb"), env["RESPONSES_TABLE"]).everything()
    for record in records:
        counts = table[record.campaign_id]
        if record.kind in (ResponseKind.RESPONSE, ResponseKind.ACCEPTED):
            counts["responses"] += 1
        elif record.kind is ResponseKind.CONVERSION:
            counts[f"conversions_{record.group.value}"] += 1
        elif record.kind is ResponseKind.UNSUBSCRIBE:
            counts["unsubscribes_7d"] += 1
    return {cid: {k: (dict(v) if isinstance(v, Counter) else v) for k, v in counts.items()}
            for cid, counts in sorted(table.items())}


def _with_rules(total: int, rules: dict[str, int] | None) -> str:
    """e.g. "30" over "day.all 24" and "cooldown 6": the count, then its rules, one a line."""
    lines = [str(total)] + [f"[dim]{rule} {n}[/]" for rule, n in sorted((rules or {}).items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


def print_table(campaigns: dict[str, dict[str, Any]], follow_ups: dict[str, int], console: Console) -> None:
    table = Table(title="Per campaign: contacts, limits by rule, and what customers did", show_lines=True)
    for column in ("campaign", "sent", "at touch-\npoint", "deferred", "throttled\n(by cap/rule)",
                   "suppressed\n(by rule)", "holdout", "responses", "conversions\ntreated/holdout", "unsub\n≤ 7 d"):
        table.add_column(column, justify="left" if column == "campaign" else "right")
    for cid, c in campaigns.items():
        table.add_row(cid, str(c.get("sent", 0)), str(c.get("at_touchpoint", 0)), str(c.get("deferred", 0)),
                      _with_rules(c.get("throttled", 0), c.get("throttled_by")),
                      _with_rules(c.get("suppressed", 0), c.get("suppressed_by")),
                      str(c.get("holdout", 0)), str(c.get("responses", 0)),
                      f"{c.get('conversions_treated', 0)}/{c.get('conversions_holdout', 0)}",
                      str(c.get("unsubscribes_7d", 0)))
    console.print(table)
    if follow_ups:
        console.print("Customers answered: " + ", ".join(f"{k} {v}" for k, v in follow_ups.items()))
