"""The fault soak: thousands of events through the real handlers on moto while seeded random faults
hit every named call — throttles and 5xx before a call, answers lost after it, the process dying
after it — then the runbook (replay the on-failure pointers, redrive the delivery DLQ) with the
faults over. What must hold, and is printed and asserted:

- every valid event is decided, and a decision that says `sent` never changes;
- contacts go out at most once: no customer gets more SMS than its `sent` records, every SMS has a
  `sent` record, and every confirmed `sent` has its SMS (a `sent_unconfirmed` one — the process died
  with the provider's answer unknown — may or may not have one: that is what unconfirmed says);
- no per-customer limit, daily cap or budget is overshot;
- every malformed record is in the events DLQ with its reason; no on-failure pointer is left.

`SOAK_EVENTS` (default 5,000) and `SOAK_SEED` size and seed it; `make soak` runs a longer one.
"""
from __future__ import annotations

import collections
import json
import os
import random
import time

from marketing.domain.decisions import current_records
from tests.integration.faults import Faults
from tests.integration.test_delivery_channels import until_delivered
from tests.integration.test_faults import redrive_delivery_dlq
from tests.integration.world import a_campaign, a_profile, an_event

EVENTS = int(os.environ.get("SOAK_EVENTS", "5000"))
SEED = int(os.environ.get("SOAK_SEED", "7"))
CUSTOMERS = max(50, EVENTS // 5)
MALFORMED_SHARE = 0.03

# (call, error, when, probability): every named call of the event path, each way it can fail
FAULTS = [
    ("dynamodb.BatchGetItem", "throttle", "before", 0.04),     # profile reads (enrich)
    ("dynamodb.UpdateItem", "throttle", "before", 0.02),       # profile updates, counters
    ("dynamodb.TransactWriteItems", "throttle", "before", 0.03),   # the reservation, the delivery record
    ("dynamodb.TransactWriteItems", "5xx", "after", 0.02),     # applied, the answer lost
    ("dynamodb.TransactWriteItems", "crash", "after", 0.01),   # applied, then the process died
    ("dynamodb.PutItem", "throttle", "before", 0.02),          # the send intent, idempotency records
    ("dynamodb.PutItem", "crash", "after", 0.005),
    ("kinesis.PutRecords", "5xx", "before", 0.02),             # enriched events
    ("sqs.SendMessageBatch", "throttle", "before", 0.02),      # offers, dead letters
    ("firehose.PutRecordBatch", "throttle", "before", 0.02),   # decision records
    ("sns.Publish", "throttle", "before", 0.02),               # the provider refuses for now
    ("sns.Publish", "crash", "after", 0.01),                   # the provider accepted, then the process died
]


def _malformed(rng: random.Random, i: int) -> bytes:
    return rng.choice([b"{not json", b"[]", json.dumps({"event_id": f"bad-{i}"}).encode(),
                       json.dumps({**an_event(customer="8613800000001"), "event_type": "location.teleport"}).encode()])


def _replay_all(world) -> None:
    """The runbook for the two on-failure destinations: `marketing events replay` does this."""
    from marketing_tools.replay import replay_pointers

    for queue in ("ENRICH_FAILURES_URL", "DECIDE_FAILURES_URL"):
        result = replay_pointers(world.client("kinesis"), world.client("sqs"), world.env[queue])
        assert result.kept == [], result.kept
        world.run()


def test_a_fault_soak_decides_every_event_and_contacts_no_one_twice(world, capsys):
    rng = random.Random(SEED)
    faults = Faults()
    for call, error, when, p in FAULTS:
        faults.inject(call, error, times=None, when=when, match=lambda params, p=p: rng.random() < p)
    per_customer, budget, cost, daily_cap = 2, 600.0, 30.0, EVENTS // 20
    world.add_campaigns(
        a_campaign("budgeted", priority=60, text="{name}：预算", limits={"per_customer": per_customer, "budget": budget}),
        a_campaign("capped", priority=50, text="{name}：日限", limits={"per_customer": 1, "daily_cap": daily_cap}))
    customers = [f"86139{i:08d}" for i in range(CUSTOMERS)]
    world.add_profiles(*(a_profile(c, name=f"客{c[-4:]}") for c in customers))

    valid, malformed = [], 0
    started = time.monotonic()
    for start in range(0, EVENTS, 250):
        batch: list[dict | bytes] = []
        for i in range(start, min(start + 250, EVENTS)):
            if rng.random() < MALFORMED_SHARE:
                batch.append(_malformed(rng, i))
                malformed += 1
            else:
                event = an_event(customer=rng.choice(customers), event_id=f"soak-{i}")
                valid.append(event)
                batch.append(event)
        world.publish(*batch)
        world.run()
    until_delivered(world, timeout_s=120)
    fired = sum(f.fired for f in faults.faults)

    faults.faults.clear()   # the faults are over: the runbook
    _replay_all(world)
    redrive_delivery_dlq(world)
    until_delivered(world, timeout_s=120)
    elapsed = time.monotonic() - started

    rows = world.decisions()
    standing = current_records(rows)
    by_event = collections.defaultdict(dict)
    for row in standing.values():
        by_event[(row["customer_id"], row["event_id"])][row["campaign_id"]] = row
    undecided = [e["event_id"] for e in valid if (e["customer_id"], e["event_id"]) not in by_event]
    changed_sent = {r["decision_id"] for r in rows if r["outcome"] == "sent"} - \
        {d for d, r in standing.items() if r["outcome"] == "sent"}
    sent = [r for r in standing.values() if r["outcome"] == "sent"]
    sms = collections.Counter(number for number, _ in world.sms())
    sent_by = collections.Counter(f"+{r['customer_id']}" for r in sent)
    confirmed_by = collections.Counter(f"+{r['customer_id']}" for r in sent if r.get("detail") != "sent_unconfirmed")
    duplicates = sum(max(0, n - sent_by[number]) for number, n in sms.items())
    lost = sum(max(0, n - sms[number]) for number, n in confirmed_by.items())
    per_campaign_customer = collections.Counter((r["campaign_id"], r["customer_id"]) for r in sent)
    overshoots = sum(1 for (cid, _), n in per_campaign_customer.items() if n > (per_customer if cid == "budgeted" else 1))
    overshoots += max(0, sum(1 for r in sent if r["campaign_id"] == "budgeted") - int(budget // cost))
    overshoots += max(0, sum(1 for r in sent if r["campaign_id"] == "capped") - daily_cap)
    sent_per_campaign = collections.Counter(r["campaign_id"] for r in sent)
    outcomes = collections.Counter(f"{r['outcome']}/{r['reason']}" for r in standing.values())
    letters = world.dead_letters()
    reasons = collections.Counter(letter["reason"] for letter in letters)

    with capsys.disabled():
        print(f"\nfault soak (seed {SEED}): {EVENTS:,} events ({malformed:,} malformed) to {CUSTOMERS:,} customers, "
              f"{fired:,} faults injected, {elapsed:.0f} s\n"
              f"  undecided {len(undecided)}, sent verdicts changed {len(changed_sent)}, "
              f"sent {len(sent):,} ({len(sent) - sum(confirmed_by.values()):,} unconfirmed), SMS {sum(sms.values()):,}, "
              f"duplicates {duplicates}, lost {lost}, cap or budget overshoots {overshoots}, "
              f"dead letters {dict(reasons)}\n  sent per campaign {dict(sent_per_campaign)}, outcomes {dict(outcomes)}")

    assert fired > 0
    assert undecided == [] and changed_sent == set()
    assert duplicates == 0 and lost == 0
    assert all(number in sent_by for number in sms), "an SMS without a sent record"
    assert overshoots == 0
    # far more events than the limits allow: each campaign used all of its budget or cap, not less
    assert sent_per_campaign == {"budgeted": int(budget // cost), "capped": daily_cap}
    assert sum(reasons.values()) == malformed and set(reasons) <= {"not_json", "missing_field", "unknown_event_type"}
    assert world.messages_on("ENRICH_FAILURES_URL") == 0 and world.messages_on("DECIDE_FAILURES_URL") == 0
