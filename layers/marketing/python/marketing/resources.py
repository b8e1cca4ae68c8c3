"""Every AWS resource the product uses, described once: names, keys, indexes, queue and mapping settings.

The CDK app (infra/) and the local stack (marketing.local) both build from these definitions, so
the emulator can never drift from what `cdk deploy` creates. Descriptions only: no boto3, no CDK.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Access(StrEnum):
    """How a function may touch a resource it uses: the IAM grant (infra) follows from it."""

    READ = "read"
    WRITE = "write"
    READ_WRITE = "read_write"
    SEND = "send"          # a queue: send messages
    CONSUME = "consume"    # a queue: receive and delete
    PUT = "put"            # a Firehose delivery stream: put records
    PUBLISH = "publish"    # a topic: publish


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
    modes: ClassVar[tuple[Access, ...]] = (Access.READ, Access.WRITE, Access.READ_WRITE)
    logical: str
    env: str                      # environment variable carrying the physical name
    partition: Key
    sort: Key | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True)
class Stream:
    modes: ClassVar[tuple[Access, ...]] = (Access.READ, Access.WRITE)
    logical: str
    env: str
    shards: int = 2
    retention_hours: int = 24


@dataclass(frozen=True)
class Queue:
    modes: ClassVar[tuple[Access, ...]] = (Access.SEND, Access.CONSUME)
    logical: str
    env: str
    visibility_timeout_s: int = 60
    retention_s: int = 14 * 24 * 3600
    dead_letter: str | None = None  # logical name of the DLQ
    max_receive_count: int = 5
    runbook: str = ""               # a terminal queue's: what to do with what lands there (its alarm says it)


@dataclass(frozen=True)
class Bucket:
    modes: ClassVar[tuple[Access, ...]] = (Access.READ, Access.WRITE, Access.READ_WRITE)
    logical: str
    env: str


@dataclass(frozen=True)
class DeliveryStream:
    modes: ClassVar[tuple[Access, ...]] = (Access.PUT,)
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

    modes: ClassVar[tuple[Access, ...]] = (Access.PUBLISH,)
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


Resource = Table | Stream | Queue | Bucket | DeliveryStream | Topic


_TABLE_READ = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem"})
_TABLE_WRITE = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "ConditionCheckItem"})
_BUCKET_READ = frozenset({"GetObject", "ListBucket"})
_BUCKET_WRITE = frozenset({"PutObject"})
# the API actions (IAM's names, without the service prefix) each kind of resource may be granted in each mode
ACTIONS: dict[tuple[type, Access], frozenset[str]] = {
    (Table, Access.READ): _TABLE_READ, (Table, Access.WRITE): _TABLE_WRITE,
    (Table, Access.READ_WRITE): _TABLE_READ | _TABLE_WRITE,
    (Stream, Access.WRITE): frozenset({"PutRecord", "PutRecords"}),
    (Stream, Access.READ): frozenset({"DescribeStream", "ListShards", "GetShardIterator", "GetRecords"}),
    (Queue, Access.SEND): frozenset({"SendMessage"}),
    (DeliveryStream, Access.PUT): frozenset({"PutRecord", "PutRecordBatch"}),
    (Bucket, Access.READ): _BUCKET_READ, (Bucket, Access.WRITE): _BUCKET_WRITE,
    (Bucket, Access.READ_WRITE): _BUCKET_READ | _BUCKET_WRITE,
    (Topic, Access.PUBLISH): frozenset({"Publish"}),
}


@dataclass(frozen=True)
class Use:
    """One resource a function uses, and how: its environment variable, its settings field and its grant.

    `calls` are the API actions the function makes on it (IAM's names: `GetItem`, `SendMessage`): infra
    grants exactly those, and tests/integration/test_least_privilege.py holds them to the calls the
    handlers really make, both ways. Left empty, the grant is the mode's whole family (CDK's grant)."""

    resource: Resource
    mode: Access
    calls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in self.resource.modes:
            raise ValueError(f"{type(self.resource).__name__} {self.resource.logical}: access {self.mode.value!r} "
                             f"is not one of {[m.value for m in self.resource.modes]}")
        allowed = ACTIONS.get((type(self.resource), self.mode), frozenset())
        if set(self.calls) - allowed:
            raise ValueError(f"{type(self.resource).__name__} {self.resource.logical}: {sorted(set(self.calls) - allowed)} "
                             f"are not {self.mode.value} actions (those are {sorted(allowed)})")


def read(resource: Resource, *calls: str) -> Use:
    return Use(resource, Access.READ, calls)


def write(resource: Resource, *calls: str) -> Use:
    return Use(resource, Access.WRITE, calls)


def read_write(resource: Resource, *calls: str) -> Use:
    return Use(resource, Access.READ_WRITE, calls)


def send(queue: Queue) -> Use:
    return Use(queue, Access.SEND, ("SendMessage",))


def put(delivery_stream: DeliveryStream) -> Use:
    return Use(delivery_stream, Access.PUT, ("PutRecordBatch",))


def publish(topic: Topic) -> Use:
    return Use(topic, Access.PUBLISH, ("Publish",))


@dataclass(frozen=True)
class Function:
    """One Lambda function. `uses` is the one declaration of what it touches and how: infra grants exactly
    that and sets one environment variable per use; marketing.settings makes each a required setting."""

    logical: str
    handler_dir: str              # functions/<handler_dir>/handler.py
    memory_mb: int = 512
    timeout_s: int = 60
    source: StreamMapping | QueueMapping | TopicSubscription | HttpApi | None = None
    uses: tuple[Use, ...] = ()

    def __post_init__(self) -> None:
        envs = [use.resource.env for use in self.uses]
        twice = sorted({env for env in envs if envs.count(env) > 1})
        if twice:
            raise ValueError(f"{self.logical} uses {twice} more than once: one use per resource, with one mode")


PROFILES = Table("profiles", "PROFILES_TABLE", Key("customer_id"),
                 indexes=(Index("by-msisdn", Key("msisdn")),))  # who sent an inbound SMS
CAMPAIGNS = Table("campaigns", "CAMPAIGNS_TABLE", Key("campaign_id"))
CONTACTS = Table("contacts", "CONTACTS_TABLE", Key("customer_id"), Key("sk"), ttl_attribute="expires_at")
IDEMPOTENCY = Table("idempotency", "IDEMPOTENCY_TABLE", Key("id"), ttl_attribute="expiration")
COUNTERS = Table("campaign-counters", "COUNTERS_TABLE", Key("campaign_id"), Key("sk"))
SETTINGS = Table("settings", "SETTINGS_TABLE", Key("name"))  # operator settings live without redeploy (contact policy)
SEND_RATES = Table("send-rates", "SEND_RATES_TABLE", Key("bucket"), ttl_attribute="expires_at")  # sends per sender per second
# inbound touchpoints: (customer, `session`) open sessions, (customer, `offer#TOUCHPOINT#EVENT`) offers
OFFERS = Table("offers", "OFFERS_TABLE", Key("customer_id"), Key("sk"), ttl_attribute="expires_at")
# response records (marketing.domain.responses.ResponseRecord); the evaluation queries by campaign
RESPONSES = Table("responses", "RESPONSES_TABLE", Key("customer_id"), Key("sk"),
                  indexes=(Index("by-campaign", Key("campaign_id"), Key("at")),))

INBOUND_SMS = Topic("inbound-sms", "INBOUND_SMS_TOPIC_ARN")  # End User Messaging two-way SMS publishes here

CUSTOMER_EVENTS = Stream("customer-events", "CUSTOMER_EVENTS_STREAM")
ENRICHED_EVENTS = Stream("enriched-events", "ENRICHED_EVENTS_STREAM")

EVENTS_DLQ = Queue("events-dlq", "EVENTS_DLQ_URL", runbook=(
    "Records that cannot be processed as upstream sent them, with their reason and data (data_s3 when too big for SQS). "
    "Not retried: fix the cause (the producer, the profiles, the rule), then `marketing events replay --from "
    "events-dlq --reason R`, or publish corrected events; a customer's event_id decided already contacts no one again."))
ENRICH_FAILURES = Queue("enrich-failures", "ENRICH_FAILURES_URL", runbook=(
    "Pointers to customer-events batches enrich gave up on (throttling, an outage). Within the stream's "
    "retention, `marketing events replay --from enrich-failures` puts their records back: decide and deliver are "
    "idempotent per customer and event_id, so nobody is contacted twice."))
DECIDE_FAILURES = Queue("decide-failures", "DECIDE_FAILURES_URL", runbook=(
    "Pointers to enriched-events batches decide gave up on. Within the stream's retention, `marketing events "
    "replay --from decide-failures` puts their records back: a decided event replays its first decision."))
DELIVERY_DLQ = Queue("delivery-dlq", "DELIVERY_DLQ_URL", runbook=(
    "Offers deliver failed five times. Fix the cause (provider, template, permissions), then redrive the "
    "queue to delivery: a send whose outcome was unknown is never sent again (recorded sent_unconfirmed)."))
DELIVERY = Queue("delivery", "DELIVERY_QUEUE_URL", visibility_timeout_s=120, dead_letter="delivery-dlq")
RESPONSES_DLQ = Queue("responses-dlq", "RESPONSES_DLQ_URL", runbook=(  # inbound SMS the responses function failed on
    "Inbound SMS the responses function failed on after SNS's retries. Fix the cause, then publish each "
    "message's original notification to the inbound-sms topic again: a reply is recorded once per inbound message id."))

DECISIONS_BUCKET = Bucket("decisions", "DECISIONS_BUCKET")
REPORTS_BUCKET = Bucket("reports", "REPORTS_BUCKET")
DEAD_LETTERS_BUCKET = Bucket("dead-letters", "DEAD_LETTERS_BUCKET")  # a dead letter over SQS's size limit, whole
DECISIONS_FIREHOSE = DeliveryStream("decisions", "DECISIONS_FIREHOSE", bucket="decisions", prefix="decisions/")

ENRICH = Function(
    "enrich", "enrich",
    source=StreamMapping("customer-events", on_failure_queue="enrich-failures"),
    uses=(read_write(PROFILES, "BatchGetItem", "PutItem", "UpdateItem"),   # updates applied before deciding
          write(ENRICHED_EVENTS, "PutRecords"), send(EVENTS_DLQ), write(DEAD_LETTERS_BUCKET, "PutObject")),
)
DECIDE = Function(
    "decide", "decide",
    source=StreamMapping("enriched-events", batch_size=200, on_failure_queue="decide-failures"),
    uses=(read(CAMPAIGNS, "Scan"), read_write(CONTACTS, "GetItem", "Query", "UpdateItem", "PutItem", "BatchWriteItem"),
          write(COUNTERS, "UpdateItem"),   # the reservation: one TransactWriteItems (state, counters, the event's mark)
          put(DECISIONS_FIREHOSE), send(DELIVERY), read(SETTINGS, "GetItem"),
          read_write(OFFERS, "BatchGetItem", "BatchWriteItem"),   # inbound sessions, offers for touchpoints
          read_write(RESPONSES, "Query", "PutItem"),              # attribution of conversions and unsubscribes
          send(EVENTS_DLQ)),                                      # an event_id reused for another event
)
DELIVER = Function(
    "deliver", "deliver",
    source=QueueMapping("delivery"),
    uses=(read(CAMPAIGNS, "GetItem"), read_write(CONTACTS, "GetItem", "PutItem", "UpdateItem", "DeleteItem"),  # Delete: a send intent nothing came of
          read_write(IDEMPOTENCY, "PutItem", "UpdateItem", "DeleteItem"), put(DECISIONS_FIREHOSE),
          send(DELIVERY),  # offers held past quiet hours longer than SQS can delay
          read(PROFILES, "BatchGetItem"), read(SETTINGS, "GetItem"),  # consent re-check on release; live policy
          write(SEND_RATES, "UpdateItem"),  # pacing
          write(OFFERS, "PutItem")),  # offers for inbound touchpoints
)
RESPONDER = Function(
    "responses", "responses",
    memory_mb=256, timeout_s=30,
    source=TopicSubscription("inbound-sms", dead_letter="responses-dlq"),
    uses=(read(CAMPAIGNS, "Scan"), read_write(PROFILES, "GetItem", "Query", "UpdateItem"),  # Query: by-msisdn
          read(CONTACTS, "Query"), write(RESPONSES, "PutItem", "DeleteItem"), write(CUSTOMER_EVENTS, "PutRecords")),
)
OFFER_API = Function(
    "offer-api", "offer_api",
    memory_mb=256, timeout_s=10,
    source=HttpApi(("GET /customers/{customer_id}/offers/{touchpoint}",
                    "POST /customers/{customer_id}/offers/{touchpoint}",
                    "GET /customers/{customer_id}/tariff-advice")),
    uses=(read_write(OFFERS, "Query", "UpdateItem"), write(RESPONSES, "PutItem"), write(CUSTOMER_EVENTS, "PutRecords"),
          read(PROFILES, "BatchGetItem")),   # the tariff advisor reads the customer's usage
)

TABLES = (PROFILES, CAMPAIGNS, CONTACTS, IDEMPOTENCY, COUNTERS, SETTINGS, SEND_RATES, OFFERS, RESPONSES)
STREAMS = (CUSTOMER_EVENTS, ENRICHED_EVENTS)
QUEUES = (EVENTS_DLQ, ENRICH_FAILURES, DECIDE_FAILURES, DELIVERY_DLQ, DELIVERY, RESPONSES_DLQ)  # DLQs before their sources
INBOUND_TOPICS = (INBOUND_SMS,)
TOPICS = INBOUND_TOPICS
BUCKETS = (DECISIONS_BUCKET, REPORTS_BUCKET, DEAD_LETTERS_BUCKET)
DELIVERY_STREAMS = (DECISIONS_FIREHOSE,)
FUNCTIONS = (ENRICH, DECIDE, DELIVER, RESPONDER, OFFER_API)


def physical_name(prefix: str, logical: str) -> str:
    """The name a resource gets in a deployment (`prefix` is the stack name, `marketing` locally)."""
    return f"{prefix}-{logical}"


# ---------------------------------------------------------------- campaign lifecycle (Step Functions)

@dataclass(frozen=True)
class StateMachine:
    logical: str
    env: str                      # environment variable carrying the state machine ARN
    functions: tuple[str, ...]    # the task functions its definition (marketing.state_machines) invokes


# One item per campaign (sk "request": the pending approval, its token and estimate) and one per
# transition (sk "at#<time>#<n>": who, when, what, comment): the audit trail.
AUDIT = Table("audit", "AUDIT_TABLE", Key("campaign_id"), Key("sk"))
APPROVALS_TOPIC = Topic("approvals", "APPROVALS_TOPIC_ARN")        # approvers: estimate + approve/reject links
OWNERS_TOPIC = Topic("campaign-owners", "OWNERS_TOPIC_ARN")       # owners: the evaluation's headline

VALIDATE_CAMPAIGN = Function("validate-campaign", "validate_campaign", memory_mb=256, timeout_s=30,
                             uses=(write(AUDIT, "PutItem"),))
ESTIMATE_CAMPAIGN = Function("estimate-campaign", "estimate_campaign", memory_mb=1024, timeout_s=300,
                             uses=(read(PROFILES, "BatchGetItem"), read(CAMPAIGNS, "Scan"),
                                   read(CUSTOMER_EVENTS, "ListShards", "GetShardIterator", "GetRecords"),
                                   write(AUDIT, "PutItem")))
REQUEST_APPROVAL = Function("request-approval", "request_approval", memory_mb=256, timeout_s=30,
                            uses=(write(AUDIT, "PutItem"), publish(APPROVALS_TOPIC)))
EXPIRE_APPROVAL = Function("expire-approval", "expire_approval", memory_mb=256, timeout_s=30, uses=(write(AUDIT, "PutItem", "UpdateItem"),))
ACTIVATE_CAMPAIGN = Function("activate-campaign", "activate_campaign", memory_mb=256, timeout_s=30,
                             uses=(write(CAMPAIGNS, "UpdateItem"), write(AUDIT, "PutItem", "UpdateItem")))
# The decision records are read from the bucket Firehose delivers them to (the stream shares its logical name).
EVALUATE_CAMPAIGN = Function("evaluate-campaign", "evaluate_campaign", memory_mb=1024, timeout_s=600,
                             uses=(read(CAMPAIGNS, "GetItem"), write(REPORTS_BUCKET, "PutObject"),
                                   read_write(AUDIT, "GetItem", "PutItem", "UpdateItem"),
                                   read(RESPONSES, "Query"),            # by-campaign
                                   read(DECISIONS_BUCKET, "ListBucket", "GetObject")))
APPROVAL_LINK = Function("approval-link", "approval_link", memory_mb=256, timeout_s=30,
                         uses=(read_write(AUDIT, "GetItem", "PutItem", "UpdateItem"),))

EVALUATION = StateMachine("evaluation", "EVALUATION_STATE_MACHINE_ARN", functions=("evaluate-campaign",))
APPROVAL = StateMachine("approval", "APPROVAL_STATE_MACHINE_ARN", functions=(
    "validate-campaign", "estimate-campaign", "request-approval", "expire-approval", "activate-campaign"))

TABLES = (*TABLES, AUDIT)
WORKFLOW_TOPICS = (APPROVALS_TOPIC, OWNERS_TOPIC)
TOPICS = (*INBOUND_TOPICS, *WORKFLOW_TOPICS)
# Not in FUNCTIONS (the event path the pollers run): invoked by the state machines and the approval API.
WORKFLOW_FUNCTIONS = (VALIDATE_CAMPAIGN, ESTIMATE_CAMPAIGN, REQUEST_APPROVAL, EXPIRE_APPROVAL, ACTIVATE_CAMPAIGN,
                      EVALUATE_CAMPAIGN, APPROVAL_LINK)
STATE_MACHINES = (EVALUATION, APPROVAL)   # evaluation first: approval starts it
