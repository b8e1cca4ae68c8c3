"""DynamoDB adapters for inbound touchpoints and responses: sessions and offers (offers table),
response records (responses table), exposures (contacts table), subscribers (profiles table).

boto3 only; conditional writes make every write idempotent, never read-then-write for a status.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from botocore.exceptions import ClientError

from marketing.adapters.aws import _RETRIES, _backoff, batch_write, chunks, from_item, to_item
from marketing.domain.consents import with_consent
from marketing.domain.models import ConsentSource, Profile
from marketing.domain.responses import Exposure, Group, ResponseRecord

SESSION_SK = "session"
BY_CAMPAIGN = "by-campaign"
BY_MSISDN = "by-msisdn"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


class DynamoOfferBoard:
    """The offers table. (customer, `session`) holds the customer's sessions (one attribute per
    touchpoint: open until, epoch s); (customer, `offer#TOUCHPOINT#EVENT`) one offer at a touchpoint.
    Both expire by TTL (`expires_at`) a day after the session ends."""

    def __init__(self, client: Any, table: str, keep: timedelta = timedelta(days=1)):
        self._client, self._table, self._keep = client, table, keep

    # sessions: one item per customer, read and written a batch at a time
    def sessions_of(self, customer_ids: Iterable[str]) -> dict[str, dict[str, datetime]]:
        ids = sorted(set(customer_ids))
        found: dict[str, dict[str, datetime]] = {}
        for batch in chunks(ids, 100):
            request = {self._table: {"Keys": [{"customer_id": {"S": i}, "sk": {"S": SESSION_SK}} for i in batch]}}
            for attempt in range(_RETRIES + 1):
                response = self._client.batch_get_item(RequestItems=request)
                for item in map(from_item, response.get("Responses", {}).get(self._table, [])):
                    found[item["customer_id"]] = {k: _utc(v) for k, v in item.items()
                                                  if k not in ("customer_id", "sk", "expires_at")}
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _backoff(attempt)
            else:
                raise RuntimeError("sessions: keys still unprocessed after retries")
        return found

    def save_sessions(self, sessions: dict[str, dict[str, datetime]]) -> None:
        puts = []
        for customer_id, by_touchpoint in sorted(sessions.items()):
            latest = max(by_touchpoint.values())
            puts.append({"PutRequest": {"Item": to_item({
                "customer_id": customer_id, "sk": SESSION_SK, "expires_at": _epoch(latest + self._keep),
                **{tp: _epoch(until) for tp, until in by_touchpoint.items()}})}})
        batch_write(self._client, self._table, puts, "sessions")

    def sessions(self, customer_id: str) -> dict[str, datetime]:
        return self.sessions_of([customer_id]).get(customer_id, {})

    # offers
    def put_offer(self, offer: dict[str, Any]) -> bool:
        valid_until = datetime.fromisoformat(offer["valid_until"])
        item = {**offer, "sk": f"offer#{offer['touchpoint']}#{offer['event_id']}",
                "expires_at": _epoch(valid_until + self._keep)}
        try:
            self._client.put_item(TableName=self._table, Item=to_item(item),
                                  ConditionExpression="attribute_not_exists(sk)")
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def open_offers(self, customer_id: str, touchpoint: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "customer_id = :c AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":c": {"S": customer_id}, ":p": {"S": f"offer#{touchpoint}#"}}}
        items: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**kwargs)
            items += [from_item(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def move(self, customer_id: str, sk: str, to: str, allowed_from: Sequence[str], at: datetime) -> bool:
        values = {":to": {"S": to}, ":at": {"S": at.isoformat()}}
        values.update({f":f{i}": {"S": s} for i, s in enumerate(allowed_from)})
        try:
            self._client.update_item(
                TableName=self._table, Key={"customer_id": {"S": customer_id}, "sk": {"S": sk}},
                UpdateExpression="SET #s = :to, #at = :at",
                ConditionExpression=f"#s IN ({', '.join(f':f{i}' for i in range(len(allowed_from)))})",
                ExpressionAttributeNames={"#s": "status", "#at": f"{to}_at"}, ExpressionAttributeValues=values)
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise


class DynamoResponseStore:
    """Response records (marketing.domain.responses.ResponseRecord), keyed (customer_id, sk) and
    indexed by campaign (`by-campaign`: campaign_id, at) for the evaluation."""

    def __init__(self, client: Any, table: str):
        self._client, self._table = client, table

    def add(self, records: Sequence[ResponseRecord]) -> int:
        new = 0
        for record in records:
            item = {**record.model_dump(mode="json"), "sk": record.sk}
            try:
                self._client.put_item(TableName=self._table, Item=to_item(item),
                                      ConditionExpression="attribute_not_exists(sk)")
                new += 1
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
        return new

    def remove(self, record: ResponseRecord) -> None:
        self._client.delete_item(TableName=self._table, Key={"customer_id": {"S": record.customer_id},
                                                             "sk": {"S": record.sk}})

    def _query(self, **kwargs: Any) -> list[ResponseRecord]:
        out: list[ResponseRecord] = []
        while True:
            response = self._client.query(TableName=self._table, **kwargs)
            out += [ResponseRecord.model_validate(from_item(i)) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return out
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def for_customer(self, customer_id: str) -> list[ResponseRecord]:
        return self._query(KeyConditionExpression="customer_id = :c",
                           ExpressionAttributeValues={":c": {"S": customer_id}})

    def for_campaign(self, campaign_id: str) -> list[ResponseRecord]:
        return self._query(IndexName=BY_CAMPAIGN, KeyConditionExpression="campaign_id = :c",
                           ExpressionAttributeValues={":c": {"S": campaign_id}})

    def everything(self) -> list[ResponseRecord]:
        """Every record (local demo and CLI; the evaluation reads one campaign with for_campaign)."""
        out: list[ResponseRecord] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            response = self._client.scan(**kwargs)
            out += [ResponseRecord.model_validate(from_item(i)) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return out
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class DynamoExposures:
    """Exposures live in the contacts table next to the contact history: deliver's `contact#EVENT`
    items (treated) and decide's `holdout#EVENT` items (control customers, never delivered)."""

    def __init__(self, client: Any, table: str, history_days: int = 180):
        self._client, self._table, self._history = client, table, timedelta(days=history_days)

    def record_holdouts(self, holdouts: Sequence[tuple[str, str, str, datetime]]) -> None:
        """(customer, campaign, event, at) each; written 25 to a call (keys unique per request)."""
        items = {}
        for customer_id, campaign_id, event_id, at in holdouts:
            sk = f"holdout#{event_id}#{campaign_id}"
            items[(customer_id, sk)] = {"PutRequest": {"Item": to_item({
                "customer_id": customer_id, "sk": sk, "campaign_id": campaign_id, "at": at.isoformat(),
                "expires_at": _epoch(at + self._history)})}}
        batch_write(self._client, self._table, list(items.values()), "holdouts")

    def record_holdout(self, customer_id: str, campaign_id: str, event_id: str, at: datetime) -> None:
        self.record_holdouts([(customer_id, campaign_id, event_id, at)])

    def exposures(self, customer_id: str) -> list[Exposure]:
        out: list[Exposure] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "customer_id = :c",
            "ExpressionAttributeValues": {":c": {"S": customer_id}}}
        while True:
            response = self._client.query(**kwargs)
            for item in map(from_item, response.get("Items", [])):
                kind, _, rest = item["sk"].partition("#")
                event_id = rest.rpartition("#")[0] if kind == "holdout" else rest  # holdout#EVENT#CAMPAIGN
                if kind in ("contact", "holdout") and "campaign_id" in item:
                    out.append(Exposure(item["campaign_id"], event_id, datetime.fromisoformat(item["at"]),
                                        Group.TREATED if kind == "contact" else Group.HOLDOUT, item.get("channel")))
            if "LastEvaluatedKey" not in response:
                return out
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class DynamoSubscribers:
    """Who an MSISDN is (the profiles table's `by-msisdn` index) and consent withdrawal.

    An opt-out rewrites the profile document only if it did not change meanwhile (conditional on the
    document read), the withdrawal recorded with its time and source (domain/consents), and records
    `opted_out#CHANNEL` = when, next to it."""

    def __init__(self, client: Any, table: str):
        self._client, self._table = client, table

    def customer_by_msisdn(self, msisdn: str) -> str | None:
        wanted = msisdn if msisdn.startswith("+") else f"+{msisdn}"
        response = self._client.query(TableName=self._table, IndexName=BY_MSISDN,
                                       KeyConditionExpression="msisdn = :m",
                                       ExpressionAttributeValues={":m": {"S": wanted}})
        items = response.get("Items", [])
        return items[0]["customer_id"]["S"] if items else None

    def opt_out(self, customer_id: str, channel: str, at: datetime,
                source: ConsentSource = ConsentSource.REPLY_KEYWORD) -> bool:
        key = {"customer_id": {"S": customer_id}}
        for _ in range(5):
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            if item is None:
                return False
            doc = item["doc"]["S"]
            withdrawn = with_consent(Profile.model_validate_json(doc), channel, channel == "dnd", at, source)
            new_doc = withdrawn.model_dump_json(exclude_none=True)
            try:
                self._client.update_item(
                    TableName=self._table, Key=key, UpdateExpression="SET doc = :new, #when = :at",
                    ConditionExpression="doc = :old", ExpressionAttributeNames={"#when": f"opted_out#{channel}"},
                    ExpressionAttributeValues={":new": {"S": new_doc}, ":old": {"S": doc}, ":at": {"S": at.isoformat()}})
                return True
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
        raise RuntimeError(f"profile {customer_id} kept changing; opt-out of {channel} not written")
