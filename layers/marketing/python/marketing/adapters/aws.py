"""The AWS adapters: one per port, boto3 only, every call batched where the API allows it.

Clients come from the caller (built once at cold start); table, stream and queue names from
settings. Nothing here knows whether the endpoint is AWS or the local emulator.
"""
from __future__ import annotations

import json
import time
import uuid
from email.message import EmailMessage
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from marketing.domain.campaigns import Campaign, load_campaign
from marketing.domain.catalog import EventCatalog
from marketing.domain.channels import ChannelHistory
from marketing.domain.contact_limits import ContactState, campaign_refusal, cap_key, customer_refusal
from marketing.domain.decisions import Refusal
from marketing.domain.messages import Push
from marketing.domain.models import Outcome, Profile, Reason
from marketing.ports import AlreadyReserved, ContactRequest, DeliveryError, EventMark, Once

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()
_RETRIES = 5
T = TypeVar("T")


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; the domain wants int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_dynamo(v)) for k, v in data.items() if v is not None}


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0))


_THROTTLED = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


def patiently(call: Callable[[], T]) -> T:
    """`call()`, and when DynamoDB still throttles after botocore's own retries (standard mode, five
    attempts), backed off and tried again a bounded number of times inside the invocation: a burst
    of throttling delays a batch instead of failing it into the on-failure destination."""
    for attempt in range(_RETRIES + 1):
        try:
            return call()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _THROTTLED or attempt == _RETRIES:
                raise
            _backoff(attempt)
    raise AssertionError("unreachable")


def batch_write(client: Any, table: str, requests: Sequence[dict[str, Any]], what: str) -> None:
    """BatchWriteItem in 25s, retrying what DynamoDB leaves unprocessed; raises when it still does."""
    for batch in chunks(requests, 25):
        request = {table: list(batch)}
        for attempt in range(_RETRIES + 1):
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                break
            _backoff(attempt)
        else:
            raise RuntimeError(f"{what}: writes still unprocessed after retries")


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class DynamoProfileStore:
    """A profile is one item: its key, status and the whole profile as a JSON document (`doc`).

    Hundreds of tags as one attribute keep reads cheap (no per-attribute typing on either side);
    nothing queries inside a profile, so nothing is lost."""

    def __init__(self, client: Any, table: str):
        self._client, self._table = client, table
        self._read_docs: dict[str, dict[str, str]] = {}  # the document as last read: the write's guard

    @staticmethod
    def _item(profile: Profile) -> dict[str, Any]:
        item = {
            "customer_id": {"S": profile.customer_id},
            "status": {"S": profile.status},
            "doc": {"S": profile.model_dump_json(exclude_none=True)},
        }
        if profile.msisdn:  # the `by-msisdn` index: who sent an inbound SMS
            item["msisdn"] = {"S": profile.msisdn}
        return item

    def get_profiles(self, customer_ids: Iterable[str], consistent: bool = False) -> dict[str, Profile]:
        ids = sorted(set(customer_ids))
        found: dict[str, Profile] = {}
        for batch in chunks(ids, 100):  # BatchGetItem takes at most 100 keys
            request = {self._table: {"Keys": [{"customer_id": {"S": i}} for i in batch],
                                     **({"ConsistentRead": True} if consistent else {})}}
            for attempt in range(_RETRIES + 1):
                response = patiently(lambda: self._client.batch_get_item(RequestItems=request))
                for item in response.get("Responses", {}).get(self._table, []):
                    profile = Profile.model_validate_json(item["doc"]["S"])
                    found[profile.customer_id] = profile
                    self._read_docs[profile.customer_id] = item["doc"]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _backoff(attempt)
            else:
                raise RuntimeError(f"profiles: {len(request[self._table]['Keys'])} keys still unprocessed after retries")
        return found

    def put_profiles(self, profiles: Sequence[Profile]) -> None:
        batch_write(self._client, self._table, [{"PutRequest": {"Item": self._item(p)}} for p in profiles], "profiles")

    def update_profiles(self, changes: Sequence[tuple[Profile | None, Profile]]) -> set[str]:
        """One conditional write per changed customer: a new profile only if none exists, a changed
        one only if the stored document is still the one read (compare-and-swap on `doc`, as the
        opt-out does), so an import, a reply or another shard's write in between is never
        overwritten — that customer's records are retried and re-read instead. An UpdateItem sets
        the document and its key attributes and leaves the item's other attributes (`opted_out#…`)."""
        conflicted = set()
        for read, updated in changes:
            read_doc = None if read is None else self._read_docs.get(read.customer_id) or self._item(read)["doc"]
            if not self._swap(read_doc, updated):
                conflicted.add(updated.customer_id)
        return conflicted

    def _swap(self, read_doc: dict[str, str] | None, updated: Profile) -> bool:
        """Write `updated` if the stored document is still `read_doc` (None: if there is no item)."""
        item = self._item(updated)
        try:
            if read_doc is None:
                self._client.put_item(TableName=self._table, Item=item,
                                      ConditionExpression="attribute_not_exists(customer_id)")
                return True
            values = {":new": item["doc"], ":status": item["status"], ":read": read_doc}
            expression = "SET #doc = :new, #status = :status"
            if "msisdn" in item:
                expression, values[":msisdn"] = expression + ", msisdn = :msisdn", item["msisdn"]
            self._client.update_item(
                TableName=self._table, Key={"customer_id": item["customer_id"]}, UpdateExpression=expression,
                ConditionExpression="#doc = :read", ExpressionAttributeNames={"#doc": "doc", "#status": "status"},
                ExpressionAttributeValues=values)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def merge_profiles(self, incoming: Sequence[Profile],
                       merge: Callable[[Profile | None, Profile], Profile]) -> None:
        """Each incoming profile merged into the stored one (`merge(stored, incoming)`) and written
        back only if the stored document did not change meanwhile: one consistent BatchGetItem and
        one TransactWriteItems per 100 customers, each write conditional on the document read (or
        on there being none). When any customer's profile changed meanwhile (a reply, an event's
        update), nothing of that transaction is written and its customers are re-read and merged
        again, so no write is ever lost and none is overwritten."""
        pending = {p.customer_id: p for p in incoming}
        for attempt in range(_RETRIES + 1):
            self._read_docs.clear()
            stored = self.get_profiles(pending, consistent=True)
            left: dict[str, Profile] = {}
            for batch in chunks(sorted(pending), 100):   # a transaction takes at most 100 items
                writes = [(cid, self._conditional(self._read_docs.get(cid), merge(stored.get(cid), pending[cid])))
                          for cid in batch]
                for part in _by_size(writes, 3_500_000):  # and at most 4 MB
                    try:
                        self._client.transact_write_items(TransactItems=[w for _, w, _ in part])
                    except ClientError as exc:
                        if exc.response["Error"]["Code"] != "TransactionCanceledException":
                            raise
                        left.update({cid: pending[cid] for cid, _, _ in part})
            pending = left
            if not pending:
                return
            _backoff(attempt)
        raise RuntimeError(f"profiles: {len(pending)} kept changing while merged: {', '.join(sorted(pending))}")

    def _conditional(self, read_doc: dict[str, str] | None, updated: Profile) -> tuple[dict[str, Any], int]:
        """A transaction item writing `updated` if the stored document is still `read_doc`, and its size."""
        item = self._item(updated)
        size = 2 * len(item["doc"]["S"]) + 256
        if read_doc is None:
            return {"Put": {"TableName": self._table, "Item": item,
                            "ConditionExpression": "attribute_not_exists(customer_id)"}}, size
        values = {":new": item["doc"], ":status": item["status"], ":read": read_doc}
        expression = "SET #doc = :new, #status = :status"
        if "msisdn" in item:
            expression, values[":msisdn"] = expression + ", msisdn = :msisdn", item["msisdn"]
        return {"Update": {"TableName": self._table, "Key": {"customer_id": item["customer_id"]},
                           "UpdateExpression": expression, "ConditionExpression": "#doc = :read",
                           "ExpressionAttributeNames": {"#doc": "doc", "#status": "status"},
                           "ExpressionAttributeValues": values}}, size + len(read_doc["S"])


def _by_size(writes: list[tuple[str, tuple[dict[str, Any], int]]], limit: int) -> Iterable[list[tuple[str, dict[str, Any], int]]]:
    """Consecutive writes in parts of at most `limit` bytes (a transaction carries at most 4 MB)."""
    part: list[tuple[str, dict[str, Any], int]] = []
    size = 0
    for cid, (write, n) in writes:
        if part and size + n > limit:
            yield part
            part, size = [], 0
        part.append((cid, write, n))
        size += n
    if part:
        yield part


class DynamoCampaignStore:
    """Campaigns as items {campaign_id, status, version, definition (JSON)}; live = status active."""

    def __init__(self, client: Any, table: str, catalog: EventCatalog, on_invalid: Callable[[str, list], None] | None = None):
        self._client, self._table, self._catalog = client, table, catalog
        self._on_invalid = on_invalid or (lambda campaign_id, errors: None)

    def _load(self, item: dict[str, Any]) -> Campaign | None:
        data = from_item(item)
        loaded = load_campaign(json.loads(data["definition"]), self._catalog)
        if not loaded.ok:
            self._on_invalid(data["campaign_id"], [str(e) for e in loaded.errors])
        return loaded.campaign

    def live_campaigns(self) -> list[Campaign]:
        campaigns: list[Campaign] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#s = :active",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":active": {"S": "active"}},
        }
        while True:
            response = self._client.scan(**kwargs)
            campaigns += [c for c in map(self._load, response.get("Items", [])) if c is not None]
            if "LastEvaluatedKey" not in response:
                return campaigns
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_campaign(self, campaign_id: str) -> Campaign | None:
        item = self._client.get_item(TableName=self._table, Key={"campaign_id": {"S": campaign_id}}).get("Item")
        return self._load(item) if item else None

    def put_campaign(self, campaign: Campaign, status: str = "active") -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"campaign_id": {"S": campaign.id}},
            UpdateExpression="SET #d = :d, #s = :s ADD #v :one",
            ExpressionAttributeNames={"#d": "definition", "#s": "status", "#v": "version"},
            ExpressionAttributeValues={
                ":d": {"S": json.dumps(campaign.definition(), ensure_ascii=False)},
                ":s": {"S": status},
                ":one": {"N": "1"},
            },
        )


class DynamoCampaignStates:
    """The campaigns table's `status` as a live control changes it (app/campaign_control.py)."""

    def __init__(self, client: Any, table: str):
        self._client, self._table = client, table

    def set_state(self, campaign_id: str, state: str, expected: tuple[str, ...]) -> bool:
        values = {":s": {"S": state}, **{f":e{i}": {"S": e} for i, e in enumerate(expected)}}
        try:
            self._client.update_item(
                TableName=self._table, Key={"campaign_id": {"S": campaign_id}}, UpdateExpression="SET #s = :s",
                ConditionExpression="#s IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")",
                ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoContactLedger:
    """Contact state. Everything a customer's limits need lives on one item, (customer, `state`):
    per campaign `n#ID` (contacts) and `t#ID` (last contact), per cap `PERIOD#KEY#COUNTER` counters,
    and `complaint_until`. So one conditional UpdateItem checks and counts every customer limit at
    once: atomic, never read-then-write, exact under any number of concurrent invocations.
    The campaign's daily cap and budget are counters in the counters table, checked and counted in
    the same transaction as the customer's, with the event's mark (customer, `event#EVENT`: what it
    committed to, so a retry replays it). (customer, `contact#EVENT`) records a delivered contact."""

    def __init__(self, client: Any, table: str, history_days: int = 180, counters_table: str | None = None):
        self._client, self._table, self._history = client, table, timedelta(days=history_days)
        self._counters = counters_table

    def _state_key(self, customer_id: str) -> dict[str, Any]:
        return {"customer_id": {"S": customer_id}, "sk": {"S": "state"}}

    def reserve(self, request: ContactRequest, mark: EventMark | None = None) -> Refusal | None:
        """One atomic step: the customer's limits (one conditional update of the state item), the
        campaign's daily cap and budget (one of its counters item) and the event's mark (a put on
        `event#ID`, if given) — a single UpdateItem when only the first applies, else one
        TransactWriteItems. All or nothing: a throttled or dying call counts nowhere, and a retry
        that finds the mark replays (AlreadyReserved) instead of counting again."""
        writes = [{"Update": self._customer_update(request)}]
        counters = self._counters_update(request)
        if counters is not None:
            writes.append({"Update": counters})
        if mark is not None:
            writes.append({"Put": self._mark_put(request, mark)})
        if len(writes) == 1:
            try:
                self._client.update_item(**writes[0]["Update"])
                return None
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                return self._refusal(request, from_item(exc.response.get("Item") or {}))
        for attempt in range(_RETRIES + 1):
            try:
                self._client.transact_write_items(TransactItems=writes)
                return None
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if "ConditionalCheckFailed" not in codes:  # another transaction on these items: try again
                _backoff(attempt)
                continue
            failed = {i: from_item(r.get("Item") or {}) for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
            if mark is not None and len(writes) - 1 in failed:
                raise AlreadyReserved(self._mark_of(failed[len(writes) - 1], mark.event_id))
            if 0 in failed:
                return self._refusal(request, failed[0])
            return self._campaign_refusal(request, failed.get(1, {}))
        raise RuntimeError(f"contact reservation for {request.customer_id}: conflicting transactions after retries")

    def _customer_update(self, request: ContactRequest) -> dict[str, Any]:
        """Every per-customer limit as the condition of one update that counts the contact."""
        now_s = int(request.now.timestamp())
        cid = request.campaign_id
        names = {"#n": f"n#{cid}", "#t": f"t#{cid}"}
        values: dict[str, Any] = {":one": {"N": "1"}, ":now": {"N": str(now_s)}}
        conditions, adds = [], ["#n :one"]
        if request.per_customer is not None:
            conditions.append("(attribute_not_exists(#n) OR #n < :limit)")
            values[":limit"] = {"N": str(request.per_customer)}
        if request.cooldown_s is not None:
            conditions.append("(attribute_not_exists(#t) OR #t <= :cutoff)")
            values[":cutoff"] = {"N": str(now_s - int(request.cooldown_s))}
        for i, cap in enumerate(request.caps):
            names[f"#c{i}"] = cap_key(cap)
            values[f":l{i}"] = {"N": str(cap.limit)}
            conditions.append(f"(attribute_not_exists(#c{i}) OR #c{i} < :l{i})" if cap.limit > 0
                              else f"(attribute_exists(#c{i}) AND #c{i} < :l{i})")  # a cap of 0 refuses all
            adds.append(f"#c{i} :one")
        if request.check_complaint:
            conditions.append("(attribute_not_exists(complaint_until) OR complaint_until < :now)")
        update: dict[str, Any] = {
            "TableName": self._table, "Key": self._state_key(request.customer_id),
            "UpdateExpression": f"ADD {', '.join(adds)} SET #t = :now",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
        }
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
            update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return update

    def _refusal(self, request: ContactRequest, state: dict[str, Any]) -> Refusal:
        """Which limit refused: the rule read on the state the condition saw."""
        cid = request.campaign_id
        seen = ContactState(contacts=state.get(f"n#{cid}", 0), last_at=state.get(f"t#{cid}"),
                            caps={cap_key(cap): state.get(cap_key(cap), 0) for cap in request.caps},
                            complaint_until=state.get("complaint_until"))
        return customer_refusal(request, seen) or Refusal(Outcome.SUPPRESSED, Reason.COMPLAINT)

    def _counters_update(self, request: ContactRequest) -> dict[str, Any] | None:
        """The campaign's day count and spend, on one item, checked and counted by one update."""
        if not self._counters or (request.daily_cap is None and request.budget is None):
            return None
        adds, conditions = [], []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if request.daily_cap is not None:
            names["#d"] = f"day#{request.campaign_day}"
            values.update({":one": {"N": "1"}, ":cap": {"N": str(request.daily_cap)}})
            adds.append("#d :one")
            conditions.append("(attribute_not_exists(#d) OR #d < :cap)")
        if request.budget is not None:
            values.update({":cost": {"N": str(_dynamo(request.cost))},
                           ":left": {"N": str(_dynamo(request.budget - request.cost))}})
            adds.append("spent :cost")
            conditions.append("(attribute_not_exists(spent) OR spent <= :left)")
        return {"TableName": self._counters, "Key": {"campaign_id": {"S": request.campaign_id}, "sk": {"S": "counters"}},
                "UpdateExpression": f"ADD {', '.join(adds)}", "ConditionExpression": " AND ".join(conditions),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD", "ExpressionAttributeValues": values,
                **({"ExpressionAttributeNames": names} if names else {})}

    def _campaign_refusal(self, request: ContactRequest, old: dict[str, Any]) -> Refusal:
        seen = ContactState(day_count=old.get(f"day#{request.campaign_day}", 0), spent=old.get("spent", 0))
        return campaign_refusal(request, seen) or Refusal(
            Outcome.THROTTLED, Reason.BUDGET, f"{seen.spent:g} of {request.budget:g} spent")

    def _mark_put(self, request: ContactRequest, mark: EventMark) -> dict[str, Any]:
        item = to_item({"customer_id": request.customer_id, "sk": f"event#{mark.event_id}", "digest": mark.digest,
                        "commitment": json.dumps(mark.commitment, separators=(",", ":")),
                        "expires_at": int((request.now + self._history).timestamp())})
        return {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}

    @staticmethod
    def _mark_of(item: dict[str, Any], event_id: str) -> EventMark:
        return EventMark(event_id=event_id, digest=item.get("digest", ""),
                         commitment=json.loads(item.get("commitment") or "{}"))

    def record_complaint(self, customer_id: str, until: datetime, channel: str | None = None) -> None:
        values: dict[str, Any] = {":until": {"N": str(int(until.timestamp()))}}
        expression = "SET complaint_until = :until"
        if channel:
            expression += " ADD complained_channels :ch"
            values[":ch"] = {"SS": [channel]}
        self._client.update_item(TableName=self._table, Key=self._state_key(customer_id),
                                 UpdateExpression=expression, ExpressionAttributeValues=values)

    def record_response(self, customer_id: str, campaign_id: str, channel: str, at: datetime) -> None:
        self._client.update_item(
            TableName=self._table, Key=self._state_key(customer_id),
            UpdateExpression="ADD #r :one SET #last = :at",
            ExpressionAttributeNames={"#r": f"responded#{channel}", "#last": f"r#{campaign_id}"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":at": {"N": str(int(at.timestamp()))}},
        )

    def complaint_until(self, customer_id: str) -> datetime | None:
        item = self._client.get_item(TableName=self._table, Key=self._state_key(customer_id),
                                     ProjectionExpression="complaint_until").get("Item") or {}
        if "complaint_until" not in item:
            return None
        return datetime.fromtimestamp(int(item["complaint_until"]["N"]), tz=timezone.utc)

    def channel_history(self, customer_id: str) -> ChannelHistory:
        state = from_item(self._client.get_item(TableName=self._table, Key=self._state_key(customer_id)).get("Item") or {})
        used = {k.removeprefix("used#"): v for k, v in state.items() if k.startswith("used#")}
        responded = {k.removeprefix("responded#"): v for k, v in state.items() if k.startswith("responded#")}
        return ChannelHistory.from_counts(used, responded, state.get("complained_channels", []))

    def _contact_item(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime,
                      state: str) -> dict[str, Any]:
        return to_item({"customer_id": customer_id, "sk": f"contact#{event_id}", "campaign_id": campaign_id,
                        "channel": channel, "at": at.isoformat(), "state": state,
                        "expires_at": int((at + self._history).timestamp())})

    def begin_send(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> str | None:
        try:
            self._client.put_item(TableName=self._table, ConditionExpression="attribute_not_exists(sk)",
                                  Item=self._contact_item(customer_id, campaign_id, event_id, channel, at, "sending"))
            return None
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        item = self._client.get_item(TableName=self._table, ConsistentRead=True, Key={
            "customer_id": {"S": customer_id}, "sk": {"S": f"contact#{event_id}"}}).get("Item") or {}
        return item.get("state", {}).get("S", "sent")  # rows from before intents were recorded are sent

    def release_send(self, customer_id: str, event_id: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, ConditionExpression="#s = :sending",
                                     Key={"customer_id": {"S": customer_id}, "sk": {"S": f"contact#{event_id}"}},
                                     ExpressionAttributeNames={"#s": "state"},
                                     ExpressionAttributeValues={":sending": {"S": "sending"}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def record_delivery(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> bool:
        try:  # the contact row and its counter in one transaction: never one without the other
            self._client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table,
                         "Item": self._contact_item(customer_id, campaign_id, event_id, channel, at, "sent"),
                         "ConditionExpression": "attribute_not_exists(sk) OR #s = :sending",
                         "ExpressionAttributeNames": {"#s": "state"},
                         "ExpressionAttributeValues": {":sending": {"S": "sending"}}}},
                {"Update": {"TableName": self._table, "Key": self._state_key(customer_id),
                            "UpdateExpression": "ADD #u :one", "ExpressionAttributeNames": {"#u": f"used#{channel}"},
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            ])
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def contacts(self, customer_id: str) -> list[dict[str, Any]]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="customer_id = :c AND begins_with(sk, :p)",
            ExpressionAttributeValues={":c": {"S": customer_id}, ":p": {"S": "contact#"}},
        )
        return [from_item(i) for i in response.get("Items", [])]


class KinesisRecordStream:
    def __init__(self, client: Any, stream: str):
        self._client, self._stream = client, stream

    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        failed: list[int] = []
        for offset in range(0, len(records), 500):
            batch = records[offset:offset + 500]
            pending = list(range(len(batch)))
            for attempt in range(_RETRIES + 1):
                response = self._client.put_records(
                    StreamName=self._stream,
                    Records=[{"PartitionKey": batch[i][0], "Data": batch[i][1]} for i in pending],
                )
                pending = [i for i, r in zip(pending, response["Records"]) if "ErrorCode" in r]
                if not pending:
                    break
                _backoff(attempt)
            failed += [offset + i for i in pending]
        return failed


class S3Overflow:
    """Where a message too large for its queue is kept whole: one object per message, by day."""

    def __init__(self, client: Any, bucket: str, prefix: str):
        self._client, self._bucket, self._prefix = client, bucket, prefix

    def keep(self, body: str) -> str:
        key = f"{self._prefix}{datetime.now(timezone.utc):%Y/%m/%d}/{uuid.uuid4()}.json"
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body.encode("utf-8"),
                                ContentType="application/json")
        return f"s3://{self._bucket}/{key}"


class SqsOutbox:
    """Messages as JSON on one queue, ten to a SendMessageBatch and at most 256 KiB to a batch.

    With an `overflow`, a message over SQS's size limit is kept whole in S3 and the queue gets it
    without its `data`, with `data_s3` naming the copy: a dead letter is never too big to land."""

    MAX_BODY = 256 * 1024  # SQS's limit for a message and for a whole batch (a queue may allow more; none here does)

    def __init__(self, client: Any, queue_url: str, overflow: S3Overflow | None = None):
        self._client, self._url, self._overflow = client, queue_url, overflow

    def _body(self, message: dict[str, Any]) -> tuple[str, int]:
        """The message's body and its size in bytes (a pointer to its S3 copy when too big)."""
        body = json.dumps(message, ensure_ascii=False, default=str)
        size = len(body.encode("utf-8", "surrogatepass"))
        if size <= self.MAX_BODY or self._overflow is None:
            return body, size
        pointer = {k: v for k, v in message.items() if k != "data"}
        pointer.update(data=None, data_s3=self._overflow.keep(body), size_bytes=size)
        body = json.dumps(pointer, ensure_ascii=False, default=str)
        return body, len(body.encode("utf-8", "surrogatepass"))

    def send(self, messages: Sequence[dict[str, Any]], delay_seconds: int = 0) -> list[int]:
        failed: list[int] = []
        batches: list[list[tuple[int, str]]] = [[]]
        size = 0
        for index, message in enumerate(messages):
            body, n = self._body(message)
            if batches[-1] and (len(batches[-1]) == 10 or size + n > self.MAX_BODY):
                batches.append([])
                size = 0
            batches[-1].append((index, body))
            size += n
        for batch in filter(None, batches):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in batch]
            if delay_seconds:
                for entry in entries:
                    entry["DelaySeconds"] = delay_seconds
            for attempt in range(_RETRIES + 1):
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                bad = {f["Id"] for f in response.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in bad]
                if not entries:
                    break
                _backoff(attempt)
            failed += [int(e["Id"]) for e in entries]
        return failed


class FirehoseDecisionSink:
    """Decision rows as JSON lines, packed many to a Firehose record (Firehose bills per 5 KB record)."""

    MAX_RECORD = 900 * 1024

    def __init__(self, client: Any, stream: str):
        self._client, self._stream = client, stream

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        records, current, size = [], [], 0
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
            if current and size + len(line) > self.MAX_RECORD:
                records.append("".join(current).encode())
                current, size = [], 0
            current.append(line)
            size += len(line)
        if current:
            records.append("".join(current).encode())
        for batch in chunks(records, 4):  # 4 x 900 KB stays under the 4 MiB call limit
            pending = list(batch)
            for attempt in range(_RETRIES + 1):
                response = self._client.put_record_batch(
                    DeliveryStreamName=self._stream, Records=[{"Data": d} for d in pending]
                )
                pending = [d for d, r in zip(pending, response["RequestResponses"]) if "ErrorCode" in r]
                if not pending:
                    break
                _backoff(attempt)
            else:
                raise RuntimeError(f"decision log: {len(pending)} records not accepted after retries")


class S3DecisionLog:
    def __init__(self, client: Any, bucket: str, prefix: str = "decisions/"):
        self._client, self._bucket, self._prefix = client, bucket, prefix

    def read(self) -> Iterable[dict[str, Any]]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
            keys += [(o["LastModified"], o["Key"]) for o in page.get("Contents", [])]
        for _, key in sorted(keys):
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read().decode()
            for line in body.splitlines():
                if line.strip():
                    yield json.loads(line)


_TRANSIENT = {"Throttling", "ThrottlingException", "ThrottledException", "InternalError", "InternalFailure",
              "ServiceUnavailable", "KMSThrottlingException", "RequestTimeout"}


def _delivery_error(exc: ClientError) -> DeliveryError:
    code = exc.response["Error"]["Code"]
    return DeliveryError(f"{code}: {exc.response['Error'].get('Message', '')}", permanent=code not in _TRANSIENT)


class SnsSmsSender:
    """SMS straight to a phone number, with the SMS type (Promotional/Transactional) and the sender:
    an alphanumeric sender ID and/or the origination number (a long code or short code)."""

    def __init__(self, client: Any, sms_type: str = "Promotional", sender_id: str | None = None,
                 origination_number: str | None = None):
        self._client, self._type, self._sender = client, sms_type, sender_id
        self._origination = origination_number

    def send_sms(self, msisdn: str, text: str, sender_id: str | None = None) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": self._type}}
        if sender_id or self._sender:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id or self._sender}
        if self._origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": self._origination}
        try:
            return self._client.publish(PhoneNumber=msisdn, Message=text, MessageAttributes=attributes)["MessageId"]
        except ClientError as exc:
            raise _delivery_error(exc) from exc


class SnsPushSender:
    """App push: one publish to the customer's SNS platform endpoint, a payload per platform."""

    def __init__(self, client: Any):
        self._client = client

    def send_push(self, target: str, message: Push) -> str:
        try:
            return self._client.publish(TargetArn=target, Message=message.sns_message(),
                                        MessageStructure="json")["MessageId"]
        except ClientError as exc:
            raise _delivery_error(exc) from exc


class SesEmailSender:
    """Email as a raw MIME message (SendRawEmail): text and HTML alternatives plus headers such as
    List-Unsubscribe, which the simple SendEmail call cannot carry."""

    def __init__(self, client: Any, source: str):
        self._client, self._source = client, source

    def mime(self, to: str, subject: str, text: str, html: str | None, headers: dict[str, str] | None = None) -> bytes:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._source, to, subject
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text, charset="utf-8")
        if html:
            message.add_alternative(html, subtype="html", charset="utf-8")
        return message.as_bytes()

    def send_email(self, to: str, subject: str, text: str, html: str | None,
                   headers: dict[str, str] | None = None) -> str:
        try:
            return self._client.send_raw_email(  # recipients come from the To header (one envelope)
                Source=self._source, RawMessage={"Data": self.mime(to, subject, text, html, headers)},
            )["MessageId"]
        except ClientError as exc:
            raise _delivery_error(exc) from exc


class DynamoSendPacer:
    """Send slots per (sender, time window) as one counter item each, taken by a conditional ADD:
    however many deliver functions run at once, no window hands out more than its limit."""

    def __init__(self, client: Any, table: str, keep_s: int = 3600):
        self._client, self._table, self._keep = client, table, keep_s

    def take(self, key: str, limit: int, window: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table, Key={"bucket": {"S": f"{key}#{window}"}},
                UpdateExpression="ADD sent :one SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression="attribute_not_exists(sent) OR sent < :limit",
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)},
                                           ":exp": {"N": str(int(time.time()) + self._keep)}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise


class DynamoPolicyStore:
    """The operator's contact policy as one item of the settings table (name = `contact-policy`)."""

    NAME = "contact-policy"

    def __init__(self, client: Any, table: str):
        self._client, self._table = client, table

    def get_policy(self) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key={"name": {"S": self.NAME}}, ConsistentRead=True).get("Item")
        return json.loads(item["document"]["S"]) if item else None

    def describe(self) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key={"name": {"S": self.NAME}}, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def put_policy(self, document: dict[str, Any], by: str) -> int:
        response = self._client.update_item(
            TableName=self._table, Key={"name": {"S": self.NAME}},
            UpdateExpression="SET #d = :d, updated_by = :by, updated_at = :at ADD version :one",
            ExpressionAttributeNames={"#d": "document"},
            ExpressionAttributeValues={":d": {"S": json.dumps(document, ensure_ascii=False, default=str)},
                                       ":by": {"S": by}, ":at": {"S": datetime.now().astimezone().isoformat()},
                                       ":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["version"]["N"])


def powertools_once(client: Any, table: str, key_prefix: str, expires_after_s: int) -> Once:
    """At-most-once per customer and event_id with Powertools idempotency (DynamoDB persistence):
    an event_id is upstream's, unique per customer, not across customers."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    config = IdempotencyConfig(
        event_key_jmespath="[customer_id, event_id]", raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_s, use_local_cache=True,
    )

    @idempotent_function(data_keyword_argument="payload", persistence_store=persistence, config=config,
                         key_prefix=key_prefix)
    def run(payload: dict[str, Any], work: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        return work(payload)

    def once(payload: dict[str, Any], work: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        return run(payload=payload, work=work)

    once.config = config  # type: ignore[attr-defined]  # the handler registers its Lambda context here
    return once
