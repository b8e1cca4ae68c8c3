"""Channels: deliver may send raw email (List-Unsubscribe headers), publish SMS and push, pace sends
on the send-rates table, read profiles (consent re-check) and the live policy; decide reads the policy."""
from __future__ import annotations

from tests.infra.test_iam import READ_TABLE, WRITE_TABLE, _statements, allows


def test_deliver_sends_raw_email_sms_and_push(synth):
    p = _statements(synth, "deliver")
    raw = [s for s in p if "ses:SendRawEmail" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert raw and all("identity/" in str(s["Resource"]) for s in raw), "raw email only from SES identities"
    assert allows(p, "sns:Publish", "*")


def test_deliver_paces_on_the_send_rates_table_and_reads_profiles_and_settings(synth):
    p = _statements(synth, "deliver")
    rates = synth.table("send-rates")
    assert allows(p, "dynamodb:UpdateItem", rates)   # one atomic counter per sender-second
    assert allows(p, "dynamodb:BatchGetItem", synth.table("profiles")) and allows(p, "dynamodb:GetItem", synth.table("settings"))
    for table in ("profiles", "settings"):
        assert not any(allows(p, a, synth.table(table)) for a in WRITE_TABLE), f"deliver never edits {table}"


def test_decide_reads_the_live_policy_and_never_writes_it(synth):
    p = _statements(synth, "decide")
    settings = synth.table("settings")
    assert allows(p, "dynamodb:GetItem", settings)
    assert not any(allows(p, a, settings) for a in WRITE_TABLE)
    assert not any(allows(p, a, synth.table("send-rates")) for a in READ_TABLE + WRITE_TABLE)


def test_the_new_tables_are_encrypted_with_the_stacks_key(synth):
    for logical in ("settings", "send-rates"):
        props = synth.props(synth.table(logical))
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["SSESpecification"]["SSEType"] == "KMS"
    assert synth.props(synth.table("send-rates"))["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_unsubscribe_key_is_a_generated_secret_only_deliver_reads(synth):
    secrets = synth.resources("AWS::SecretsManager::Secret")
    [(secret_id, secret)] = list(secrets.items())
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "KmsKeyId" in secret["Properties"], "encrypted with the stack's customer-managed key"
    env = synth.props(synth.function("deliver"))["Environment"]["Variables"]
    assert env["UNSUBSCRIBE_SECRET_ARN"] == {"Ref": secret_id} and "UNSUBSCRIBE_SECRET" not in env
    assert allows(_statements(synth, "deliver"), "secretsmanager:GetSecretValue", secret_id)
    assert not allows(_statements(synth, "decide"), "secretsmanager:GetSecretValue", secret_id)


def test_deliver_may_text_a_phone_number_but_never_publish_to_a_topic(synth):
    # evaluated as IAM would (moto's policy evaluator, on the template read as the local stack):
    # a publish to a phone number is authorised on the number itself
    from moto.iam.access_control import PermissionResult

    from tests.infra.helpers import ACCOUNT, REGION, LocalArns
    role = LocalArns(synth).policy(_statements(synth, "deliver"))
    assert role.is_action_permitted("sns:Publish", "+8613800000001") == PermissionResult.PERMITTED
    for topic in ("inbound-sms", "approvals", "owners", "ops-alarms", "some-other-teams-topic"):
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:marketing-{topic}"
        assert role.is_action_permitted("sns:Publish", arn) == PermissionResult.DENIED, topic
