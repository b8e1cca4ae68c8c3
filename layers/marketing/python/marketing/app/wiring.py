"""The composition root: settings + boto3 clients → ready use cases. Called once per cold start.

The only place that chooses adapters. Endpoints come from the standard AWS configuration
(region, credentials, AWS_ENDPOINT_URL), so the same wiring serves AWS and the local emulator.
"""
from __future__ import annotations

import logging
from typing import Any

from marketing import resources
from marketing.adapters import aws, aws_responses
from marketing.app.attribution import Attribution
from marketing.app.campaign_cache import CampaignCache
from marketing.app.clients import client, log_invalid as _log_invalid, track_idempotency, utc_now
from marketing.app.decide import Decide
from marketing.app.deliver import Deliver, PushDisabled, Retry, UnsubscribeLinks
from marketing.app.pacing import Pacing, Unpaced
from marketing.app.policy_source import PolicySource
from marketing.app.enrich import Enrich
from marketing.app.inbound import InboundRouting, InboundOffers
from marketing.app.sms_replies import SmsReplies
from marketing.app.tariff import TariffAdvisor
from marketing.domain.models import Channel
from marketing.settings import MissingSetting, settings_model

# Each builder takes its function's settings: the resources it uses (resources.py), and the tunables.
EnrichSettings = settings_model(resources.ENRICH)
DecideSettings = settings_model(resources.DECIDE)
DeliverSettings = settings_model(resources.DELIVER)
ResponsesSettings = settings_model(resources.RESPONDER)
OfferApiSettings = settings_model(resources.OFFER_API)


def _once(settings: DeliverSettings, dynamodb: Any, key_prefix: str):
    once = aws.powertools_once(dynamodb, settings.idempotency_table, key_prefix, settings.idempotency_expiry_seconds)
    track_idempotency(once.config)
    return once


def build_enrich(settings: EnrichSettings) -> Enrich:
    return Enrich(
        catalog=settings.catalog,
        profiles=aws.DynamoProfileStore(client("dynamodb"), settings.profiles_table),
        enriched=aws.KinesisRecordStream(client("kinesis"), settings.enriched_events_stream),
        dead_letters=aws.SqsOutbox(client("sqs"), settings.events_dlq_url,
                                   overflow=aws.S3Overflow(client("s3"), settings.dead_letters_bucket, "events-dlq/")),
        clock=utc_now,
    )


def build_decide(settings: DecideSettings) -> Decide:
    dynamodb = client("dynamodb")
    store = aws.DynamoCampaignStore(dynamodb, settings.campaigns_table, settings.catalog, _log_invalid)
    return Decide(
        campaigns=CampaignCache(store, settings.campaign_cache_seconds),
        ledger=aws.DynamoContactLedger(dynamodb, settings.contacts_table, settings.contact_history_days,
                                       settings.counters_table),
        decisions=aws.FirehoseDecisionSink(client("firehose"), settings.decisions_firehose),
        offers=aws.SqsOutbox(client("sqs"), settings.delivery_queue_url),
        clock=utc_now,
        channels=settings.channels,
        policy=_policy_source(settings, dynamodb),
        inbound=InboundRouting(settings.touchpoints, aws_responses.DynamoOfferBoard(dynamodb, settings.offers_table)),
        attribution=_attribution(settings, dynamodb),
        dead_letters=aws.SqsOutbox(client("sqs"), settings.events_dlq_url),
    )


def _policy_source(settings: DecideSettings | DeliverSettings, dynamodb: Any) -> PolicySource:
    """The contact policy file, overridden live by the operator's copy in the settings table."""
    store = aws.DynamoPolicyStore(dynamodb, settings.settings_table) if settings.settings_table else None
    return PolicySource(settings.contact_policy, store, settings.policy_cache_seconds,
                        on_invalid=logging.getLogger("marketing").error)


def _unsubscribe_links(settings: DeliverSettings) -> UnsubscribeLinks:
    """The signing key comes from the environment (local stack) or Secrets Manager (deployed), once."""
    key = settings.unsubscribe_secret
    if key is None and settings.unsubscribe_secret_arn:
        key = client("secretsmanager").get_secret_value(SecretId=settings.unsubscribe_secret_arn)["SecretString"]
    if key is None and Channel.EMAIL in settings.channels:
        raise MissingSetting("missing configuration: UNSUBSCRIBE_SECRET or UNSUBSCRIBE_SECRET_ARN "
                             "(the key signing unsubscribe links; email is a delivery channel)")
    return UnsubscribeLinks(settings.unsubscribe_base_url, (key or "").encode(), settings.unsubscribe_mailto)


def build_deliver(settings: DeliverSettings) -> Deliver:
    dynamodb = client("dynamodb")
    sns = client("sns")
    return Deliver(
        campaigns=CampaignCache(aws.DynamoCampaignStore(dynamodb, settings.campaigns_table, settings.catalog, _log_invalid),
                                settings.campaign_cache_seconds),
        ledger=aws.DynamoContactLedger(dynamodb, settings.contacts_table, settings.contact_history_days),
        sms=aws.SnsSmsSender(sns, settings.sms_type, settings.sms_sender_id, settings.sms_origination_number),
        email=aws.SesEmailSender(client("ses"), settings.email_sender),
        decisions=aws.FirehoseDecisionSink(client("firehose"), settings.decisions_firehose),
        once=_once(settings, dynamodb, "deliver"),
        clock=utc_now,
        later=aws.SqsOutbox(client("sqs"), settings.delivery_queue_url),
        push=aws.SnsPushSender(sns) if Channel.APP_PUSH in settings.channels else PushDisabled(),
        profiles=aws.DynamoProfileStore(dynamodb, settings.profiles_table),
        policy=_policy_source(settings, dynamodb),
        pacing=Pacing(aws.DynamoSendPacer(dynamodb, settings.send_rates_table), horizon_s=settings.pacing_horizon_seconds)
        if settings.send_rates_table else Unpaced(),
        senders={Channel.SMS: settings.sms_sender},
        links=_unsubscribe_links(settings),
        retry=Retry(settings.delivery_retry_attempts, settings.delivery_retry_backoff_seconds),
        offer_board=aws_responses.DynamoOfferBoard(dynamodb, settings.offers_table),
    )


def _attribution(settings: DecideSettings, dynamodb: Any) -> Attribution:
    return Attribution(aws_responses.DynamoExposures(dynamodb, settings.contacts_table, settings.contact_history_days),
                       aws_responses.DynamoResponseStore(dynamodb, settings.responses_table))


def build_responses(settings: ResponsesSettings) -> SmsReplies:
    dynamodb = client("dynamodb")
    return SmsReplies(
        campaigns=CampaignCache(aws.DynamoCampaignStore(dynamodb, settings.campaigns_table, settings.catalog, _log_invalid),
                                settings.campaign_cache_seconds),
        subscribers=aws_responses.DynamoSubscribers(dynamodb, settings.profiles_table),
        exposures=aws_responses.DynamoExposures(dynamodb, settings.contacts_table, settings.contact_history_days),
        responses=aws_responses.DynamoResponseStore(dynamodb, settings.responses_table),
        events=aws.KinesisRecordStream(client("kinesis"), settings.customer_events_stream),
        clock=utc_now,
        opt_out_keywords=settings.opt_out_keywords,
    )


def build_offer_api(settings: OfferApiSettings) -> tuple[InboundOffers, TariffAdvisor]:
    dynamodb = client("dynamodb")
    offers = InboundOffers(
        board=aws_responses.DynamoOfferBoard(dynamodb, settings.offers_table),
        responses=aws_responses.DynamoResponseStore(dynamodb, settings.responses_table),
        events=aws.KinesisRecordStream(client("kinesis"), settings.customer_events_stream),
        clock=utc_now,
    )
    advisor = TariffAdvisor(aws.DynamoProfileStore(dynamodb, settings.profiles_table), settings.plans, utc_now)
    return offers, advisor
