"""Consents as a record (domain/consents): who may change a consent the customer set, and an import merge."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from marketing.domain.consents import ConsentPolicy, merge_import, with_consent
from marketing.domain.contact_policy import ContactPolicy
from marketing.data import CONTACT_POLICY, packaged
from marketing.domain.models import ConsentSource, Profile

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
POLICY = ContactPolicy.from_file(packaged(CONTACT_POLICY)).consents
OLD_SHAPE = '{"customer_id": "c1", "consents": {"marketing": true, "sms": true, "email": true}, "tags": {"plan": "4G-58"}}'


def stored() -> Profile:
    return Profile.model_validate_json(OLD_SHAPE)


def imported(**consents: bool) -> Profile:
    return Profile.model_validate({"customer_id": "c1", "consents": consents})


def test_an_old_shape_profile_reads_and_has_no_recorded_change():
    profile = stored()
    assert profile.consents.sms is True and profile.consent_change("sms") is None


def test_an_import_never_turns_back_on_what_the_customer_withdrew_however_new():
    withdrawn = with_consent(stored(), "sms", False, T0, ConsentSource.REPLY_KEYWORD)
    merged, kept = merge_import(withdrawn, imported(sms=True), T0 + timedelta(days=30),
                                ConsentPolicy(may_override={ConsentSource.IMPORT: frozenset({"grant", "withdraw"})}))
    assert merged.consents.sms is False and len(kept) == 1 and "reply_keyword" in kept[0]


def test_an_import_may_withdraw_after_the_customers_grant_only_when_newer_and_allowed():
    granted = with_consent(stored(), "email", True, T0, ConsentSource.CARE)
    newer, kept = merge_import(granted, imported(email=False), T0 + timedelta(hours=1), POLICY)
    assert newer.consents.email is False and kept == []
    assert newer.consent_change("email").source is ConsentSource.IMPORT
    older, kept = merge_import(granted, imported(email=False), T0 - timedelta(hours=1), POLICY)
    assert older.consents.email is True and "not newer" in kept[0]
    refused, kept = merge_import(granted, imported(email=False), T0 + timedelta(hours=1), ConsentPolicy(may_override={}))
    assert refused.consents.email is True and "may not withdraw" in kept[0]


def test_an_import_changes_only_what_the_row_names():
    merged, _ = merge_import(stored(), Profile.model_validate({"customer_id": "c1", "tags": {"segment": "youth"}}),
                             T0, POLICY)
    assert merged.consents.sms is True and merged.tags == {"plan": "4G-58", "segment": "youth"}
    assert merged.consent_history == ()
