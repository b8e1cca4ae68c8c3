"""The evaluation counts what the response path attributed: replies and accepted offers as responses,
conversions with their group, unsubscribes; presented/declined offers count nowhere."""
from __future__ import annotations

from datetime import timedelta

from marketing.adapters.memory_responses import MemoryResponseStore
from marketing.app.evaluate import WithResponses
from marketing.domain.evaluation import evaluate_campaign
from marketing.domain.responses import Group, ResponseKind, ResponseRecord
from tests.unit.factories import NOW

CAMPAIGN = "app-login-offer"


class DecisionLog:
    def __init__(self, rows):
        self.rows = rows

    def read(self, campaign_id):
        return [r for r in self.rows if r["campaign_id"] == campaign_id]


def _decision(customer, outcome, n):
    return {"decision_id": f"d{n}", "event_id": f"e{n}", "customer_id": customer, "campaign_id": CAMPAIGN,
            "outcome": outcome, "reason": None, "channel": "sms", "decided_at": NOW.isoformat(), "latency_ms": 1.0}


def _record(customer, kind, group=Group.TREATED, n=0):
    return ResponseRecord(customer_id=customer, campaign_id=CAMPAIGN, kind=kind, group=group,
                          at=NOW + timedelta(hours=1 + n), event_id=f"r-{customer}-{kind.value}-{n}")


def test_attributed_responses_conversions_and_unsubscribes_reach_the_evaluation():
    log = DecisionLog([_decision("c1", "sent", 1), _decision("c2", "sent", 2), _decision("c3", "holdout", 3),
                       _decision("c4", "holdout", 4)])
    store = MemoryResponseStore()
    store.add([
        _record("c1", ResponseKind.RESPONSE), _record("c1", ResponseKind.CONVERSION),
        _record("c1", ResponseKind.UNSUBSCRIBE, n=2),
        _record("c2", ResponseKind.PRESENTED), _record("c2", ResponseKind.ACCEPTED, n=1),
        _record("c2", ResponseKind.DECLINED, n=3),
        _record("c3", ResponseKind.CONVERSION, group=Group.HOLDOUT),
    ])
    rows = list(WithResponses(log, store).read(CAMPAIGN))
    evaluation = evaluate_campaign(CAMPAIGN, rows, days=1, cost_per_contact=0.05, offer_value=10.0)
    assert (evaluation.treated.customers, evaluation.control.customers) == (2, 2)
    assert evaluation.treated.responders == 2            # c1's reply, c2's accepted offer
    assert evaluation.treated.converters == 1 and evaluation.control.converters == 1
    assert evaluation.treated.unsubscribed_7d == 1       # c1 opted out after accepting
    assert {r["kind"] for r in rows if "kind" in r} == {"response", "conversion", "unsubscribe"}
