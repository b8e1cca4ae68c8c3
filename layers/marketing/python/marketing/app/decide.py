"""Decide: enriched events → match → screen → arbitrate with atomic contact reservation → records + offers.

Per batch: one campaign-cache check, one decision-log write, one SQS send per 10 offers. Per event
with a candidate: one atomic reservation that also marks the event (customer, event_id) with what it
committed to, so a re-delivered event — or the retry of an invocation that died after reserving —
replays its first decision instead of contacting the customer again, and never counts twice. Offers
are (re)sent after the loop for fresh and replayed decisions alike; the deliverer is idempotent on
(customer, event_id) too.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from marketing.app.attribution import Attribution
from marketing.app.batch import BatchOutcome
from marketing.app.campaign_cache import CampaignCache
from marketing.app.enrich import dead_letter
from marketing.app.inbound import DEFAULT_VALIDITY, InboundRouting, SessionBatch
from marketing.domain.channels import channel_preference
from marketing.domain.contact_policy import ContactPolicy, cap_checks
from marketing.domain.decisions import (
    Candidate,
    Commitment,
    Refusal,
    Verdict,
    all_verdicts,
    arbitrate,
    decision_id,
    record_rows,
    screen,
)
from marketing.domain.handoff import EnrichedEvent, OfferMessage
from marketing.domain.matching import CampaignIndex
from marketing.domain.models import INBOUND, Channel, CustomerEvent, DeadLetterReason, Outcome, Profile
from marketing.ports import (
    MAX_DELAY_S,
    AlreadyReserved,
    ContactLedger,
    ContactRequest,
    DecisionSink,
    EventMark,
    IdConflict,
    Outbox,
)


def event_digest(event: CustomerEvent) -> str:
    """What makes an event the same event on re-delivery: everything upstream sent but its id."""
    return hashlib.sha256(event.model_dump_json(exclude={"event_id"}).encode("utf-8")).hexdigest()


COMPLAINT_EVENT = "care.complaint"


def contact_request(candidate: Candidate, event: CustomerEvent, profile: Profile, now: datetime,
                    policy: ContactPolicy) -> ContactRequest:
    """Every limit one contact must fit in (also what the approval estimate replays against)."""
    campaign = candidate.campaign
    limits = campaign.limits
    return ContactRequest(
        customer_id=event.customer_id, campaign_id=campaign.id, event_id=event.event_id,
        per_customer=limits.per_customer,
        cooldown_s=limits.cooldown.total_seconds() if limits.cooldown else None,
        now=now,
        caps=tuple(cap_checks(policy, candidate.channel, now, profile.timezone)),
        daily_cap=limits.daily_cap,
        campaign_day=now.astimezone(campaign.schedule.start.tzinfo).strftime("%Y-%m-%d"),
        budget=limits.budget,
        cost=campaign.offer.value,
        check_complaint=policy.complaint_suppression_days > 0,
    )


@dataclass(frozen=True)
class EventDecision:
    """What was decided for one event: every considered campaign's verdict (as recorded), the
    winner if any, and the offer to deliver (None: nothing is sent, e.g. no winner or a holdout)."""

    event: CustomerEvent
    verdicts: list[Verdict]
    winner: str | None = None
    offer: OfferMessage | None = None
    attributed: int = 0      # conversions this event completed (responses)
    latency_ms: float = 0.0


class Decide:
    def __init__(self, campaigns: CampaignCache, ledger: ContactLedger, decisions: DecisionSink, offers: Outbox,
                 clock: Callable[[], datetime], channels: frozenset[Channel],
                 policy: ContactPolicy | Callable[[], ContactPolicy], inbound: InboundRouting,
                 attribution: Attribution, dead_letters: Outbox):
        self._campaigns, self._ledger, self._decisions, self._offers = campaigns, ledger, decisions, offers
        self._dead_letters = dead_letters  # events refused here (an event_id reused for another event)
        self._inbound, self._attribution = inbound, attribution  # inbound touchpoints; responses
        self._clock, self._channels = clock, channels
        # the policy in force: a fixed one, or a source read per batch (the operator's table copy, cached)
        self._policy_source = policy if callable(policy) else (lambda fixed=policy: fixed)

    def batch(self, messages: Sequence[EnrichedEvent]) -> DecideBatch:
        return self._start(m.event.customer_id for m in messages)

    def decide(self, event: CustomerEvent, profile: Profile) -> EventDecision:
        """One event on its own (its reservation and idempotency included; the batch writes are `batch`'s)."""
        return self._start([event.customer_id]).decide(event, profile)

    def _start(self, customer_ids: Iterable[str]) -> DecideBatch:
        now = self._clock()
        return DecideBatch(self, now, self._policy_source(), self._campaigns.index(now),
                           self._inbound.batch(customer_ids))

    def _with_learned_preference(self, profile: Profile) -> Profile:
        """The profile with the channel its contact history prefers first (domain.channels)."""
        learned = channel_preference(self._ledger.channel_history(profile.customer_id), profile.channel_preference)
        if learned == list(profile.channel_preference):
            return profile
        return profile.model_copy(update={"channel_preference": learned})



class DecideBatch:
    """One batch: the campaigns, policy and clock read once; records and offers written after the loop."""

    def __init__(self, decide: Decide, now: datetime, policy: ContactPolicy, index: CampaignIndex,
                 sessions: SessionBatch):
        self._use, self._now, self._policy, self._index, self._sessions = decide, now, policy, index, sessions
        self._decided_at = now.isoformat()
        self.outcome = BatchOutcome()
        self._rows: list[dict[str, Any]] = []
        self._offers: list[tuple[EnrichedEvent, OfferMessage]] = []
        self._letters: list[tuple[EnrichedEvent, dict[str, Any]]] = []

    def handle(self, message: EnrichedEvent) -> None:
        try:
            decision = self.decide(message.event, message.profile)
        except IdConflict as conflict:  # another event under a used id: refused, its records not written
            self._letters.append((message, dead_letter(
                "decide", DeadLetterReason.DUPLICATE_ID_CONFLICT, str(conflict),
                message.event.model_dump_json().encode(), message.event.event_id, message.event.customer_id, self._now)))
            self.outcome.count(f"dead_lettered.{DeadLetterReason.DUPLICATE_ID_CONFLICT.value}")
            return
        self._rows.extend(record_rows(decision.event, decision.verdicts, self._decided_at, decision.latency_ms))
        if decision.offer is not None:
            self._offers.append((message, decision.offer))
        if decision.attributed:
            self.outcome.count("attributed", decision.attributed)
        self.outcome.count("events")
        self.outcome.observe("decision_latency_ms", decision.latency_ms)

    def decide(self, event: CustomerEvent, profile: Profile) -> EventDecision:
        started = time.perf_counter()
        use, now, policy, attribution = self._use, self._now, self._policy, self._use._attribution
        if event.event_type == COMPLAINT_EVENT and policy.complaint_suppression_days:
            use._ledger.record_complaint(event.customer_id, now + timedelta(days=policy.complaint_suppression_days))
        self._sessions.observe(event)
        attributed = attribution.observe(event, self._index.campaigns)
        match = self._index.match(event.event_type, event.attributes, profile.fields(), profile.tags, now.timestamp())
        if match.eligible:  # the channel preference model: only customers some campaign may contact
            profile = use._with_learned_preference(profile)
        screening = screen(event, profile, match, now, use._channels, policy)
        verdicts = screening.verdicts
        for cid, verdict_outcome, *_ in verdicts:  # global control: tracked for conversions like a holdout
            if verdict_outcome is Outcome.HOLDOUT:
                attribution.record_holdout(event, cid, now)
        winner, offer = None, None
        if screening.candidates:
            # in a session: the offer goes to the touchpoint instead
            session_until = self._sessions.route(screening.candidates, event.customer_id, now)
            commitment = self._commit(screening.candidates, event, profile)
            verdicts = verdicts + commitment.verdicts
            winner = commitment.winner
            if winner and commitment.holdout:
                attribution.record_holdout(event, winner, now)
            if winner and not commitment.holdout:
                offer = self._offer(event, profile, commitment, session_until)
        return EventDecision(event, all_verdicts(screening.rejected, verdicts), winner, offer, attributed or 0,
                             round((time.perf_counter() - started) * 1000, 3))

    def flush(self) -> list[EnrichedEvent]:
        """Sessions, attribution and records written; offers sent (held ones with the queue's delay)."""
        self._sessions.flush()
        self._use._attribution.flush()
        if self._rows:
            self._use._decisions.write(self._rows)
        failed: list[EnrichedEvent] = [self._letters[i][0] for i in self._use._dead_letters.send(
            [letter for _, letter in self._letters])] if self._letters else []
        now_offers = [(m, o) for m, o in self._offers if o.not_before is None]
        held = [(m, o) for m, o in self._offers if o.not_before is not None]
        failed += [now_offers[i][0] for i in self._use._offers.send([o.wire() for _, o in now_offers])]
        if held:  # past quiet hours: the queue holds them (deliver holds again what is still early)
            wait = min((o.not_before - self._now).total_seconds() for _, o in held)
            sent = self._use._offers.send([o.wire() for _, o in held], delay_seconds=max(0, min(int(wait), MAX_DELAY_S)))
            failed += [held[i][0] for i in sent]
        for row in self._rows:
            self.outcome.count(f"outcome.{row['outcome']}")
        self.outcome.count("offers", len(self._offers))
        return failed

    def _commit(self, candidates: list[Candidate], event: CustomerEvent, profile: Profile) -> Commitment:
        """Arbitration with each reservation marked by what the event commits to if it wins: a retry
        of an event that reserved (it died after, or its answer was lost) replays that commitment,
        and an event_id of this customer's reused for another event is a conflict."""
        digest = event_digest(event)
        refused: dict[str, Refusal] = {}

        def reserve(candidate: Candidate) -> Refusal | None:
            if_won = Commitment.of(*arbitrate(candidates, lambda c: None if c is candidate else refused[c.campaign.id]))
            mark = EventMark(event_id=event.event_id, digest=digest, commitment=if_won.stored())
            refusal = self._use._ledger.reserve(contact_request(candidate, event, profile, self._now, self._policy), mark)
            if refusal is not None:
                refused[candidate.campaign.id] = refusal
            return refusal

        try:
            return Commitment.of(*arbitrate(candidates, reserve))
        except AlreadyReserved as replay:
            if replay.mark.digest != digest:
                raise IdConflict(f"event_id {event.event_id!r} of customer {event.customer_id!r} "
                                 "was first another event") from None
            return Commitment.model_validate(replay.mark.commitment)

    def _offer(self, event: CustomerEvent, profile: Profile, commitment: Commitment,
               session_until: datetime | None) -> OfferMessage:
        assert commitment.winner is not None and commitment.channel is not None
        inbound = commitment.channel in INBOUND
        return OfferMessage(
            event_id=event.event_id, decision_id=decision_id(event.customer_id, event.event_id, commitment.winner),
            customer_id=event.customer_id, campaign_id=commitment.winner, channel=commitment.channel,
            decided_at=self._now,
            not_before=commitment.not_before,  # quiet hours: deliver holds it until then
            valid_until=(session_until or self._now + DEFAULT_VALIDITY) if inbound else None,
        )   # no contact details on the queue: deliver reads the profile
