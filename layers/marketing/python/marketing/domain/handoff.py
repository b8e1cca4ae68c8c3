"""What passes from one function to the next: the stream record enrich reads, the enriched event
(enrich → decide) and the offer (decide → delivery queue → deliver, and the touchpoint's board).

Each is parsed once, at the edge of the function that receives it; the wire JSON is the same shape
it always was (timestamps as `isoformat()`, absent values as null). Never reads a Lambda record.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from marketing.domain.models import Channel, CustomerEvent, Profile

# what `isoformat()` wrote before these models (pydantic's own JSON would write UTC as "Z")
Timestamp = Annotated[AwareDatetime, PlainSerializer(lambda at: at.isoformat(), when_used="json")]

# the profile fields an offer carries to whoever renders or presents it
CONTACT_FIELDS = frozenset({"name", "msisdn", "email", "locale", "timezone", "push_endpoint"})


@dataclass(frozen=True)
class StreamRecord:
    """One customer-events record as it arrived: enrich parses the bytes itself (reason-coded)."""

    record_id: str
    partition_key: str
    data: bytes


class EnrichedEvent(BaseModel):
    """enrich → decide: the validated event and the customer's profile as enrich read it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event: CustomerEvent
    profile: Profile
    enriched_at: Timestamp

    def encode(self) -> bytes:
        return json.dumps(
            {"event": self.event.model_dump(mode="json"), "profile": self.profile.model_dump(mode="json"),
             "enriched_at": self.enriched_at.isoformat()},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> EnrichedEvent:
        return cls.model_validate(json.loads(data))


class Contact(BaseModel):
    """How to reach (and address) the customer, copied from the profile when decided."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str | None = None
    msisdn: str | None = None
    email: str | None = None
    locale: str | None = None
    timezone: str | None = None
    push_endpoint: str | None = None

    @classmethod
    def of(cls, profile: Profile) -> Contact:
        return cls.model_validate(profile.model_dump(include=CONTACT_FIELDS))


class OfferMessage(BaseModel):
    """decide → deliver: one decided contact. `not_before`: held past quiet hours until then;
    `valid_until`: how long an inbound touchpoint shows it (only for inbound channels).

    No contact details: deliver reads the customer's profile when it sends (one batched read), so
    the delivery queue and its DLQ hold ids and times, never a number, an address or a name.
    `contact` is read only from messages written before that (none is written now)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(min_length=1)
    decision_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    campaign_id: str = Field(min_length=1)
    channel: Channel
    decided_at: Timestamp
    not_before: Timestamp | None = None
    valid_until: Timestamp | None = None
    contact: Contact | None = None

    def wire(self) -> dict[str, Any]:
        """The queue message (`valid_until` only where it means something, as decide always wrote it)."""
        drop = ({"valid_until"} if self.valid_until is None else set()) | ({"contact"} if self.contact is None else set())
        return self.model_dump(mode="json", exclude=drop or None)

    @classmethod
    def decode(cls, body: str | bytes) -> OfferMessage:
        return cls.model_validate_json(body)
