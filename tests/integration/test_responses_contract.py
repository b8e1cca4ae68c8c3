"""The response ports' contract, run against the DynamoDB adapters (moto) and the in-memory fakes:
the fakes the unit tests use behave as the tables do (idempotent records, conditional status moves,
sessions at whole seconds, opt-out by MSISDN)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from marketing.adapters import aws_responses as dynamo
from marketing.adapters import memory_responses as memory
from marketing.adapters.aws import DynamoProfileStore
from marketing.adapters.memory import MemoryProfileStore
from marketing.domain.models import Profile
from marketing.domain.responses import Group, ResponseKind, ResponseRecord
from marketing_tools.emulator.stack import create_stack
from tests.integration.world import a_profile

NOW = datetime(2026, 11, 23, 10, 0, 30, 500_000, tzinfo=timezone.utc)


@pytest.fixture(params=["dynamodb", "memory"])
def ports(request, aws):
    if request.param == "memory":
        profiles = MemoryProfileStore()
        return {"board": memory.MemoryOfferBoard(), "responses": memory.MemoryResponseStore(),
                "profiles": profiles, "subscribers": memory.MemorySubscribers(profiles.profiles)}
    env = create_stack(None)
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    return {"board": dynamo.DynamoOfferBoard(ddb, env["OFFERS_TABLE"]),
            "responses": dynamo.DynamoResponseStore(ddb, env["RESPONSES_TABLE"]),
            "profiles": DynamoProfileStore(ddb, env["PROFILES_TABLE"]),
            "subscribers": dynamo.DynamoSubscribers(ddb, env["PROFILES_TABLE"])}


def _offer(event_id="evt-1", touchpoint="store"):
    return {"customer_id": "c1", "touchpoint": touchpoint, "event_id": event_id, "campaign_id": "roam",
            "priority": 50, "status": "open", "created_at": NOW.isoformat(),
            "valid_until": (NOW + timedelta(minutes=30)).isoformat()}


def test_sessions_are_read_and_replaced_per_customer_at_whole_seconds(ports):
    board = ports["board"]
    board.save_sessions({"c1": {"store": NOW, "care": NOW + timedelta(minutes=5)}, "c2": {"app": NOW}})
    board.save_sessions({"c1": {"store": NOW + timedelta(minutes=1)}})
    assert board.sessions_of(["c1", "c2", "nobody"]) == {
        "c1": {"store": (NOW + timedelta(minutes=1)).replace(microsecond=0)},
        "c2": {"app": NOW.replace(microsecond=0)}}
    many = {f"k{i:03d}": {"web": NOW} for i in range(130)}  # more than one batch each way
    board.save_sessions(many)
    assert len(board.sessions_of(many)) == 130


def test_an_offer_is_stored_once_and_moves_status_only_from_the_allowed_ones(ports):
    board = ports["board"]
    assert board.put_offer(_offer()) is True
    assert board.put_offer(_offer()) is False
    board.put_offer(_offer("evt-2", touchpoint="care"))
    (offer,) = board.open_offers("c1", "store")
    assert board.move("c1", offer["sk"], "presented", ("open",), NOW) is True
    assert board.move("c1", offer["sk"], "presented", ("open",), NOW) is False
    assert board.move("c1", offer["sk"], "accepted", ("open", "presented"), NOW) is True
    assert board.move("c1", offer["sk"], "declined", ("open", "presented"), NOW) is False
    assert [o["status"] for o in board.open_offers("c1", "store")] == ["accepted"]


def test_response_records_are_written_once_and_found_by_customer_and_campaign(ports):
    store = ports["responses"]
    record = ResponseRecord(customer_id="c1", campaign_id="roam", kind=ResponseKind.CONVERSION,
                            group=Group.HOLDOUT, at=NOW, event_id="evt-9")
    assert store.add([record, record]) == 1
    assert store.for_customer("c1") == [record] and store.for_campaign("roam") == [record]
    store.remove(record)
    assert store.for_campaign("roam") == []


def test_an_opt_out_finds_the_customer_by_msisdn_and_withdraws_the_consent(ports):
    ports["profiles"].put_profiles([Profile.model_validate(a_profile("8613800000007"))])
    subscribers = ports["subscribers"]
    assert subscribers.customer_by_msisdn("+8613800000007") == "8613800000007"
    assert subscribers.customer_by_msisdn("8613800000007") == "8613800000007"
    assert subscribers.customer_by_msisdn("+8613800000999") is None
    assert subscribers.opt_out("8613800000007", "sms", NOW) is True
    profile = ports["profiles"].get_profiles(["8613800000007"])["8613800000007"]
    assert profile.consents.sms is False and profile.consents.email is True
    assert subscribers.opt_out("unknown", "sms", NOW) is False
