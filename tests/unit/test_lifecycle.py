"""The campaign lifecycle's pure parts: approval rules, the estimate backtest, the ASL definitions."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from marketing.adapters.memory import MemoryContactLedger
from marketing.app.decide import contact_request
from marketing.domain.approval import (
    ApprovalRequest,
    ApprovalStatus,
    Refused,
    approvers_required,
    judge_approval,
    judge_rejection,
)
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.estimate import estimate
from marketing.state_machines import APPROVAL_TASKS, CAMPAIGN_REJECTED, Timings, approval_definition, evaluation_definition
from tests.unit.factories import NOW, a_campaign, a_profile, an_event


def a_request(**overrides) -> ApprovalRequest:
    return ApprovalRequest(**{"campaign_id": "c", "submitter": "ann", "required": 1, **overrides})


# ---------------------------------------------------------------- approval rules

def test_the_submitter_may_not_approve():
    verdict = judge_approval(a_request(), "ann")
    assert not verdict.accepted and verdict.refused == Refused.SELF_APPROVAL


def test_one_approver_completes_a_request_under_the_threshold():
    assert judge_approval(a_request(), "bob").complete


def test_over_the_threshold_two_distinct_approvers_are_needed():
    assert approvers_required(5000.0, 1000.0) == 2
    assert approvers_required(1000.0, 1000.0) == 1        # at the threshold: one is enough
    assert approvers_required(None, 1000.0) == 1          # no budget: nothing to spend over it
    first = judge_approval(a_request(required=2), "bob")
    assert first.accepted and not first.complete
    again = judge_approval(a_request(required=2, approvers=("bob",)), "bob")
    assert again.refused == Refused.ALREADY_APPROVED
    assert judge_approval(a_request(required=2, approvers=("bob",)), "carol").complete


@pytest.mark.parametrize("status", [s for s in ApprovalStatus if s != ApprovalStatus.PENDING])
def test_only_a_pending_request_can_be_decided(status):
    assert judge_approval(a_request(status=status), "bob").refused == Refused.NOT_PENDING
    assert judge_rejection(a_request(status=status), "bob", "no").refused == Refused.NOT_PENDING


def test_a_rejection_needs_a_named_user_and_a_reason():
    assert judge_rejection(a_request(), "bob", "  ").refused == Refused.COMMENT_REQUIRED
    assert judge_rejection(a_request(), "", "why").refused == Refused.NO_USER
    assert judge_rejection(a_request(), "ann", "withdrawn").accepted      # the submitter may withdraw


# ---------------------------------------------------------------- estimate

def _reserve(policy: ContactPolicy):
    ledger = MemoryContactLedger()
    return lambda candidate, event, profile, now: ledger.reserve(contact_request(candidate, event, profile, now, policy))


def test_estimate_counts_reach_sends_per_day_cost_and_collisions():
    policy = ContactPolicy()
    new = a_campaign(id="new-offer", priority=50, limits={"per_customer": 1})
    higher = a_campaign(id="vip-offer", priority=90, audience={"tags.value_tier": "gold"})
    lower = a_campaign(id="basic-offer", priority=10)
    profiles = {c: a_profile(c, tags={"value_tier": tier}) for c, tier in
                (("8613800000001", "gold"), ("8613800000002", "silver"), ("8613800000003", "silver"))}
    replay = [(an_event(customer_id=c, event_id=f"e{i}{c}", now=NOW - timedelta(hours=h),
                         occurred_at=NOW - timedelta(hours=h)), profiles[c])
              for i, (c, h) in enumerate([("8613800000001", 40), ("8613800000002", 30), ("8613800000003", 20),
                                          ("8613800000002", 10)])]
    replay.append((an_event(customer_id="8613899999999", event_id="e-unknown"), None))
    out = estimate(new, [higher, lower], replay, _reserve(policy), policy=policy, cost_per_contact=0.1).to_json()
    assert out["events_replayed"] == 5 and out["unknown_customers"] == 1
    assert out["sends"] == 2 and out["reach"] == 2                       # customers 2 and 3; 2's second event capped
    assert out["loses_to"] == {"vip-offer": 1}                          # the gold customer goes to the VIP offer
    assert out["takes_from"] == {"basic-offer": 2}
    assert out["refused"] == {"throttled:per_customer": 1}
    assert out["days"] == pytest.approx(40 / 24, abs=0.001)             # 40 h ago → now (the unknown customer's)
    assert out["sends_per_day"] == pytest.approx(2 / (40 / 24), abs=0.01)
    assert out["contact_cost"] == pytest.approx(0.2) and out["max_offer_cost"] == pytest.approx(20.0)


def test_estimate_of_nothing_is_zero_not_an_error():
    out = estimate(a_campaign(), [], [], _reserve(ContactPolicy())).to_json()
    assert out["sends"] == 0 and out["sends_per_day"] == 0


# ---------------------------------------------------------------- the ASL definitions

ARNS = {name: f"arn:aws:lambda:us-east-1:1:function:{name}" for name in
        [*APPROVAL_TASKS.values(), "evaluate-campaign"]}


def test_approval_definition_wires_each_task_and_the_timeouts():
    definition = approval_definition(ARNS, "arn:eval", Timings(approval_timeout_s=60, approval_heartbeat_s=30))
    states = definition["States"]
    for state, function in APPROVAL_TASKS.items():
        resource = states[state].get("Parameters", {}).get("FunctionName") or states[state]["Resource"]
        assert resource == ARNS[function]
    request = states["RequestApproval"]
    assert (request["TimeoutSeconds"], request["HeartbeatSeconds"]) == (60, 30)
    assert {tuple(c["ErrorEquals"]): c["Next"] for c in request["Catch"]} == {
        (CAMPAIGN_REJECTED,): "Rejected", ("States.Timeout",): "Expire"}
    assert states["StartEvaluation"]["Parameters"]["StateMachineArn"] == "arn:eval"
    json.dumps(definition)


def test_definitions_refuse_missing_functions_and_bad_timings():
    with pytest.raises(ValueError, match="request-approval"):
        approval_definition({k: v for k, v in ARNS.items() if k != "request-approval"}, "arn:eval")
    with pytest.raises(ValueError):
        evaluation_definition({}, "arn:topic")
    with pytest.raises(ValueError):
        Timings(approval_timeout_s=10, approval_heartbeat_s=10)


# ---------------------------------------------------------------- identities, as the rules compare them

from marketing.domain.approval import identity, same_person  # noqa: E402


@pytest.mark.parametrize("disguise", ["LI.NA@EXAMPLE.COM", "li.na", "li.na\u200b@example.com", "ｌｉ.ｎａ@example.com",
                                      " li.na@example.com ", "li.\u2060na@example.com", "Li.Na"])
def test_the_submitter_in_disguise_is_still_the_submitter(disguise):
    request = ApprovalRequest("roam", submitter="li.na@example.com", required=2)
    assert same_person(disguise, "li.na@example.com")
    assert judge_approval(request, disguise).refused is Refused.SELF_APPROVAL


@pytest.mark.parametrize("second", ["BOB", "bob@example.com", "b\u200bob"])
def test_one_approver_under_two_spellings_is_one_approver(second):
    request = ApprovalRequest("roam", submitter="ann", required=2, approvers=("bob",))
    assert judge_approval(request, second).refused is Refused.ALREADY_APPROVED


def test_different_people_stay_different():
    assert not same_person("li.na@example.com", "li.nan@example.com")
    assert not same_person("li.na@example.com", "li.na@other.example")  # two addresses: the whole address counts
    assert identity("\u200b \u2060") == ""
    assert judge_approval(ApprovalRequest("roam", submitter="ann", required=1), "\u200b").refused is Refused.NO_USER
