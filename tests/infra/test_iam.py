"""Each function may do what it needs on what it uses, and nothing else (least privilege)."""
from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from tests.infra.helpers import mentions, refers_to
from marketing import resources


def _statements(synth, function_logical: str) -> list[dict]:
    fn = synth.props(synth.function(function_logical))
    role_id = fn["Role"]["Fn::GetAtt"][0]
    role = synth.props(role_id)
    assert not role.get("ManagedPolicyArns"), f"{function_logical}: no managed policies (least privilege)"
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if any(refers_to(r, role_id) for r in policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    # the one Deny of the stack: deliver never publishes to a topic (test_channels_iam)
    assert all(s["Effect"] == "Allow" or s.get("Sid") == "NeverToATopic" for s in statements)
    return statements


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def allows(statements: list[dict], action: str, target: str) -> bool:
    """Whether some statement allows `action` on `target` (a logical id, or '*')."""
    for s in statements:
        if s["Effect"] != "Allow" or not any(fnmatchcase(action, pattern) for pattern in _listed(s["Action"])):
            continue
        for resource in _listed(s["Resource"]):
            if (target == "*" and resource == "*") or (target != "*" and mentions(resource, target)):
                return True
    return False


@pytest.fixture(scope="module")
def policy(synth):
    return {f.logical: _statements(synth, f.logical) for f in resources.FUNCTIONS}


READ_TABLE = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
WRITE_TABLE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")


def test_enrich(synth, policy):
    p = policy["enrich"]
    profiles, contacts = synth.table("profiles"), synth.table("contacts")
    assert allows(p, "dynamodb:BatchGetItem", profiles)   # one read per batch
    assert allows(p, "dynamodb:PutItem", profiles) and allows(p, "dynamodb:UpdateItem", profiles), \
        "enrich applies the profile updates (SPEC 4.7): one guarded write per customer per batch"
    assert not any(allows(p, f"dynamodb:{a}", profiles) for a in ("DeleteItem", "BatchWriteItem", "Scan"))
    for other in ("contacts", "campaigns", "idempotency"):
        assert not any(allows(p, a, synth.table(other)) for a in READ_TABLE + WRITE_TABLE), other
    assert not allows(p, "dynamodb:PutItem", contacts)
    enriched, customer = synth.stream("enriched-events"), synth.stream("customer-events")
    assert allows(p, "kinesis:PutRecords", enriched) and not allows(p, "kinesis:PutRecord", enriched)
    assert not allows(p, "kinesis:GetRecords", enriched), "enrich does not consume its own output"
    assert allows(p, "kinesis:GetRecords", customer) and allows(p, "kinesis:GetShardIterator", customer)
    assert not allows(p, "kinesis:PutRecords", customer)
    assert allows(p, "sqs:SendMessage", synth.queue("events-dlq"))
    assert allows(p, "sqs:SendMessage", synth.queue("enrich-failures"))
    assert not allows(p, "sqs:SendMessage", synth.queue("delivery"))
    assert not allows(p, "firehose:PutRecordBatch", synth.delivery_stream("decisions"))
    assert not allows(p, "sns:Publish", "*")


def test_decide(synth, policy):
    p = policy["decide"]
    campaigns = synth.table("campaigns")
    assert allows(p, "dynamodb:Scan", campaigns)          # the campaign cache reads the live campaigns
    assert not any(allows(p, a, campaigns) for a in WRITE_TABLE), "decide never edits campaigns"
    # the reservation: the state item, the event's mark (a Put) and the campaign counters, in one transaction
    assert all(allows(p, f"dynamodb:{a}", synth.table("contacts")) for a in ("GetItem", "Query", "UpdateItem", "PutItem"))
    assert allows(p, "dynamodb:UpdateItem", synth.table("campaign-counters"))
    assert not allows(p, "dynamodb:DeleteItem", synth.table("contacts")), "a contact is never deleted"
    assert not any(allows(p, a, synth.table("idempotency")) for a in READ_TABLE + WRITE_TABLE), \
        "decide's idempotency is the event's mark in the contacts table"
    assert allows(p, "sqs:SendMessage", synth.queue("events-dlq"))   # an event_id reused for another event
    assert not any(allows(p, a, synth.table("profiles")) for a in READ_TABLE + WRITE_TABLE)
    assert allows(p, "firehose:PutRecordBatch", synth.delivery_stream("decisions"))
    assert allows(p, "sqs:SendMessage", synth.queue("delivery"))
    assert allows(p, "sqs:SendMessage", synth.queue("decide-failures"))
    assert allows(p, "kinesis:GetRecords", synth.stream("enriched-events"))
    assert not allows(p, "kinesis:PutRecords", synth.stream("enriched-events"))
    assert not allows(p, "kinesis:GetRecords", synth.stream("customer-events"))
    assert not allows(p, "sns:Publish", "*") and not allows(p, "ses:SendRawEmail", "*")


def test_deliver(synth, policy):
    p = policy["deliver"]
    campaigns, contacts = synth.table("campaigns"), synth.table("contacts")
    assert allows(p, "dynamodb:GetItem", campaigns)
    assert not any(allows(p, a, campaigns) for a in WRITE_TABLE)
    assert allows(p, "dynamodb:PutItem", contacts) and allows(p, "dynamodb:UpdateItem", contacts)
    assert allows(p, "dynamodb:GetItem", contacts), "a released contact re-reads the complaint suppression"
    assert all(allows(p, f"dynamodb:{a}", synth.table("idempotency")) for a in ("PutItem", "UpdateItem", "DeleteItem"))
    assert not any(allows(p, a, synth.table("profiles")) for a in WRITE_TABLE), "deliver re-reads consents, never edits them"
    delivery = synth.queue("delivery")
    assert allows(p, "sqs:ReceiveMessage", delivery) and allows(p, "sqs:DeleteMessage", delivery)
    assert allows(p, "sqs:SendMessage", delivery), "an offer deferred past quiet hours goes back on the queue"
    assert allows(p, "sns:Publish", "*")      # direct-to-phone SMS has no resource ARN
    assert any("ses:SendRawEmail" in _listed(s["Action"]) and mentions(s["Resource"], "AWS::AccountId")
               for s in p), "ses:SendRawEmail is scoped to this account's identities"
    assert not any("ses:SendEmail" in _listed(s["Action"]) for s in p), "deliver sends raw email only"
    assert allows(p, "firehose:PutRecordBatch", synth.delivery_stream("decisions")), "a failed delivery is a decision record"
    assert not allows(p, "sqs:SendMessage", synth.queue("events-dlq"))


def test_wildcards_only_where_aws_requires_them(policy):
    for logical, statements in policy.items():
        for s in statements:
            actions = _listed(s["Action"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (logical, actions)
            if "*" in _listed(s["Resource"]):
                assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "sns:Publish"}, \
                    (logical, actions)
            kms = [a for a in actions if a.startswith("kms:")]
            if kms:
                assert _listed(s["Resource"]) != ["*"], (logical, "KMS only on the stack's key")
