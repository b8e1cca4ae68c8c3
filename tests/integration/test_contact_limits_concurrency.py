"""Caps hold exactly under concurrency: many threads reserving contacts for the same customer and
campaign at once, against moto's DynamoDB, never count past a limit and never overspend a budget.

The reservation is one conditional transaction; a read-then-write implementation fails these
tests (two threads read "2 of 3" and both write 3)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import boto3
import pytest

from marketing.adapters.aws import DynamoContactLedger
from marketing.domain.contact_policy import ContactPolicy, cap_checks
from marketing.domain.models import Channel
from marketing_tools.emulator.stack import create_stack
from marketing.ports import ContactRequest

THREADS = 16
ATTEMPTS = 1_000  # reservations per run, shared by the threads
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)  # noon in Shanghai: no quiet-hours question here


def hammer(ledger: DynamoContactLedger, make_request) -> list:
    results: list = []
    lock = threading.Lock()
    counter = iter(range(ATTEMPTS))
    start = threading.Barrier(THREADS)

    def worker() -> None:
        start.wait()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            refusal = ledger.reserve(make_request(n))
            with lock:
                results.append(refusal)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def atomic_moto(monkeypatch):
    """DynamoDB applies each request atomically; in-process moto does not under threads. Serialise
    moto's request handling (one request at a time, as the service guarantees per item), so what is
    tested is the product's use of conditions, not the emulator's races. A read-then-write ledger
    still fails here: its read and its write are separate requests."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("get_item", "put_item", "update_item", "transact_write_items", "query"):
        original = getattr(DynamoDBBackend, name)

        def serialised(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)
        monkeypatch.setattr(DynamoDBBackend, name, serialised)


@pytest.fixture
def ledger(aws, atomic_moto):
    env = create_stack(None)
    client = boto3.client("dynamodb", region_name="us-east-1")
    return DynamoContactLedger(client, env["CONTACTS_TABLE"], counters_table=env["COUNTERS_TABLE"]), client, env


@pytest.mark.parametrize("seed", range(5))
def test_a_per_customer_cap_and_a_daily_customer_cap_are_never_exceeded(ledger, seed):
    ledger, client, env = ledger
    per_customer = 3 + seed
    policy = ContactPolicy(caps={"all": {"day": per_customer + 2}, "sms": {"day": 50}})

    def request(n: int) -> ContactRequest:
        return ContactRequest(customer_id="8613800000001", campaign_id=f"roam-{seed}", event_id=f"evt-{seed}-{n}",
                              per_customer=per_customer, cooldown_s=None, now=NOW,
                              caps=tuple(cap_checks(policy, Channel.SMS, NOW, "Asia/Shanghai")))

    results = hammer(ledger, request)

    granted = [r for r in results if r is None]
    assert len(results) == ATTEMPTS
    assert len(granted) == per_customer, "exactly the cap is granted, never more"
    assert {r.reason.value for r in results if r is not None} == {"per_customer"}
    state = client.get_item(TableName=env["CONTACTS_TABLE"],
                            Key={"customer_id": {"S": "8613800000001"}, "sk": {"S": "state"}})["Item"]
    assert int(state[f"n#roam-{seed}"]["N"]) == per_customer  # a refused contact counts nowhere
    assert int(state["day#2026-11-23#all"]["N"]) == per_customer
    assert int(state["day#2026-11-23#sms"]["N"]) == per_customer


@pytest.mark.parametrize("seed", range(2))
def test_a_campaign_budget_is_never_overspent(ledger, seed):
    ledger, client, env = ledger
    budget, cost = 100.0 + 10 * seed, 7.0

    def request(n: int) -> ContactRequest:  # a different customer each time: only the budget binds
        return ContactRequest(customer_id=f"86138{n:08d}", campaign_id="welcome", event_id=f"evt-{n}",
                              per_customer=1, cooldown_s=None, now=NOW, budget=budget, cost=cost)

    results = hammer(ledger, request)

    granted = [r for r in results if r is None]
    assert len(granted) == int(budget // cost)
    assert {r.reason.value for r in results if r is not None} == {"budget"}
    spent = client.get_item(TableName=env["COUNTERS_TABLE"],
                            Key={"campaign_id": {"S": "welcome"}, "sk": {"S": "counters"}})["Item"]["spent"]["N"]
    assert float(spent) == len(granted) * cost <= budget
