"""Every AWS resource the product uses, described once: names, keys, indexes, queue and mapping settings.

The CDK app (infra/) and the local stack (marketing.local) both build from these definitions, so
the emulator can never drift from what `cdk deploy` creates. Descriptions only: no boto3, no CDK.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Key:
    name: str
    type: str = "S"  # S | N


@dataclass(frozen=True)
class Index:
    name: str
    partition: Key
    sort: Key | None = None


@dataclass(frozen=True)
class Table:
    logical: str
    env: str                      # environment variable carrying the physical name
    partition: Key
    sort: Key | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True)
class Stream:
    logical: str
    env: str
    shards: int = 2
    retention_hours: int = 24


@dataclass(frozen=True)
class Queue:
    logical: str
    env: str
    visibility_timeout_s: int = 60
    retention_s: int = 14 * 24 * 3600
    dead_letter: str | None = None  # logical name of the DLQ
    max_receive_count: int = 5


@dataclass(frozen=True)
class Bucket:
    logical: str
    env: str


@dataclass(frozen=True)
class DeliveryStream:
    logical: str
    env: str
    bucket: str                   # logical name of the destination bucket
    prefix: str
    buffer_interval_s: int = 60
    buffer_size_mb: int = 5


@dataclass(frozen=True)
class StreamMapping:
    """A Kinesis event-source mapping as production runs it (SPEC: partial failures, bounded retries)."""

    stream: str
    batch_size: int = 500
    max_batching_window_s: int = 1
    parallelization_factor: int = 2
    max_retry_attempts: int = 5
    max_record_age_s: int = 3600
    bisect_on_error: bool = True
    on_failure_queue: str = ""
    starting_position: str = "TRIM_HORIZON"


@dataclass(frozen=True)
class QueueMapping:
    queue: str
    batch_size: int = 10
    max_batching_window_s: int = 0
    max_concurrency: int = 20


@dataclass(frozen=True)
class Topic:
    """An SNS topic (KMS-encrypted) a function is subscribed to."""

    logical: str
    env: str                      # environment variable carrying the topic ARN


@dataclass(frozen=True)
class TopicSubscription:
    """A function subscribed to a topic; failed asynchronous invocations go to `dead_letter`."""

    topic: str
    dead_letter: str              # logical name of the queue
    retry_attempts: int = 2       # Lambda's asynchronous retries before the dead-letter queue
    max_event_age_s: int = 3600


@dataclass(frozen=True)
class HttpApi:
    """A function behind an API Gateway HTTP API (IAM-authorised routes)."""

    routes: tuple[str, ...]       # "METHOD /path/{param}"
    throttle_rate: int = 50       # requests per second (stage default)
    throttle_burst: int = 100


@dataclass(frozen=True)
class Function:
    logical: str
    handler_dir: str              # functions/<handler_dir>/handler.py
    memory_mb: int = 512
    timeout_s: int = 60
    source: StreamMapping | QueueMapping | TopicSubscription | HttpApi | None = None
    uses: tuple[str, ...] = field(default=())  # logical names of resources it reads/writes


PROFILES = Table("profiles", "PROFILES_TABLE", Key("customer_id"),
                 indexes=(Index("by-msisdn", Key("msisdn")),))  # who sent an inbound SMS
CAMPAIGNS = Table("campaigns", "CAMPAIGNS_TABLE", Key("campaign_id"))
CONTACTS = Table("contacts", "CONTACTS_TABLE", Key("customer_id"), Key("sk"), ttl_attribute="expires_at")
IDEMPOTENCY = Table("idempotency", "IDEMPOTENCY_TABLE", Key("id"), ttl_attribute="expiration")
COUNTERS = Table("campaign-counters", "COUNTERS_TABLE", Key("campaign_id"), Key("sk"))
# inbound touchpoints: (customer, `session`) open sessions, (customer, `offer#TOUCHPOINT#EVENT`) offers
OFFERS = Table("offers", "OFFERS_TABLE", Key("customer_id"), Key("sk"), ttl_attribute="expires_at")
# response records (marketing.domain.responses.ResponseRecord); the evaluation queries by campaign
RESPONSES = Table("responses", "RESPONSES_TABLE", Key("customer_id"), Key("sk"),
                  indexes=(Index("by-campaign", Key("campaign_id"), Key("at")),))

INBOUND_SMS = Topic("inbound-sms", "INBOUND_SMS_TOPIC_ARN")  # End User Messaging two-way SMS publishes here

CUSTOMER_EVENTS = Stream("customer-events", "CUSTOMER_EVENTS_STREAM")
ENRICHED_EVENTS = Stream("enriched-events", "ENRICHED_EVENTS_STREAM")

EVENTS_DLQ = Queue("events-dlq", "EVENTS_DLQ_URL")
ENRICH_FAILURES = Queue("enrich-failures", "ENRICH_FAILURES_URL")
DECIDE_FAILURES = Queue("decide-failures", "DECIDE_FAILURES_URL")
DELIVERY_DLQ = Queue("delivery-dlq", "DELIVERY_DLQ_URL")
DELIVERY = Queue("delivery", "DELIVERY_QUEUE_URL", visibility_timeout_s=120, dead_letter="delivery-dlq")
RESPONSES_DLQ = Queue("responses-dlq", "RESPONSES_DLQ_URL")  # inbound SMS the responses function failed on

DECISIONS_BUCKET = Bucket("decisions", "DECISIONS_BUCKET")
REPORTS_BUCKET = Bucket("reports", "REPORTS_BUCKET")
DECISIONS_FIREHOSE = DeliveryStream("decisions", "DECISIONS_FIREHOSE", bucket="decisions", prefix="decisions/")

ENRICH = Function(
    "enrich", "enrich",
    source=StreamMapping("customer-events", on_failure_queue="enrich-failures"),
    uses=("profiles", "enriched-events", "events-dlq"),
)
DECIDE = Function(
    "decide", "decide",
    source=StreamMapping("enriched-events", batch_size=200, on_failure_queue="decide-failures"),
    uses=("campaigns", "contacts", "campaign-counters", "idempotency", "decisions", "delivery",
          "offers", "responses"),  # inbound sessions; attribution of conversions and unsubscribes
)
DELIVER = Function(
    "deliver", "deliver",
    source=QueueMapping("delivery"),
    uses=("campaigns", "contacts", "idempotency", "decisions", "delivery",  # failed rows; offers held past quiet hours
          "offers"),  # offers for inbound touchpoints
)
RESPONDER = Function(
    "responses", "responses",
    memory_mb=256, timeout_s=30,
    source=TopicSubscription("inbound-sms", dead_letter="responses-dlq"),
    uses=("campaigns", "profiles", "contacts", "responses", "customer-events"),
)
OFFER_API = Function(
    "offer-api", "offer_api",
    memory_mb=256, timeout_s=10,
    source=HttpApi(("GET /customers/{customer_id}/offers/{touchpoint}",
                    "POST /customers/{customer_id}/offers/{touchpoint}")),
    uses=("offers", "responses", "customer-events"),
)

TABLES = (PROFILES, CAMPAIGNS, CONTACTS, IDEMPOTENCY, COUNTERS, OFFERS, RESPONSES)
STREAMS = (CUSTOMER_EVENTS, ENRICHED_EVENTS)
QUEUES = (EVENTS_DLQ, ENRICH_FAILURES, DECIDE_FAILURES, DELIVERY_DLQ, DELIVERY, RESPONSES_DLQ)  # DLQs before their sources
TOPICS = (INBOUND_SMS,)
BUCKETS = (DECISIONS_BUCKET, REPORTS_BUCKET)
DELIVERY_STREAMS = (DECISIONS_FIREHOSE,)
FUNCTIONS = (ENRICH, DECIDE, DELIVER, RESPONDER, OFFER_API)


def physical_name(prefix: str, logical: str) -> str:
    """The name a resource gets in a deployment (`prefix` is the stack name, `marketing` locally)."""
    return f"{prefix}-{logical}"
