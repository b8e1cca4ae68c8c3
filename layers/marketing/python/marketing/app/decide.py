"""Decide: enriched events → match → screen → arbitrate with atomic contact reservation → records + offers.

Per batch: one campaign-cache check, one decision-log write, one SQS send per 10 offers. Per event
with a candidate: one idempotent reservation keyed on event_id, so a re-delivered event replays its
first decision instead of contacting the customer again. Offers are (re)sent after the loop for
fresh and replayed decisions alike; the deliverer is idempotent on event_id too.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from marketing.app.attribution import Attribution
from marketing.app.batch import KINESIS, BatchOutcome, process
from marketing.app.campaign_cache import CampaignCache
from marketing.app.inbound import DEFAULT_VALIDITY, InboundRouting
from marketing.domain.channels import channel_preference
from marketing.domain.contact_policy import ContactPolicy, cap_checks
from marketing.domain.decisions import Candidate, Verdict, all_verdicts, arbitrate, decision_id, record_rows, screen
from marketing.domain.models import INBOUND, Channel, CustomerEvent, Outcome, Profile, Reason
from marketing.ports import ContactLedger, ContactRequest, DecisionSink, Once, Outbox


COMPLAINT_EVENT = "care.complaint"
MAX_DELAY_S = 900  # SQS's longest message delay


def _verdict(row: list[Any]) -> Verdict:
    cid, outcome, reason, channel, detail = row
    return (cid, Outcome(outcome), Reason(reason) if reason else None, Channel(channel) if channel else None, detail)


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


class Decide:
    def __init__(self, campaigns: CampaignCache, ledger: ContactLedger, decisions: DecisionSink, offers: Outbox,
                 once: Once, clock: Callable[[], datetime], channels: frozenset[Channel],
                 policy: ContactPolicy | Callable[[], ContactPolicy] | None = None, inbound: InboundRouting | None = None,
                 attribution: Attribution | None = None):
        self._campaigns, self._ledger, self._decisions, self._offers = campaigns, ledger, decisions, offers
        self._inbound, self._attribution = inbound, attribution  # inbound touchpoints; responses
        self._once, self._clock, self._channels = once, clock, channels
        # the policy in force: a fixed one, or a source read per batch (the operator's table copy, cached)
        self._policy_source = policy if callable(policy) else (lambda fixed=policy or ContactPolicy(): fixed)
        self._policy = self._policy_source()

    def run(self, records: list[dict[str, Any]]) -> BatchOutcome:
        now = self._clock()
        self._policy = self._policy_source()
        index = self._campaigns.index(now)
        now_ts, decided_at = now.timestamp(), now.isoformat()
        outcome = BatchOutcome()
        rows: list[dict[str, Any]] = []
        offers: list[dict[str, Any]] = []
        offer_ids: list[str] = []
        sessions = (self._inbound.batch(r["kinesis"]["partitionKey"] for r in records)
                    if self._inbound is not None else None)

        def handle(record: KinesisStreamRecord) -> None:
            started = time.perf_counter()
            envelope = json.loads(record.kinesis.data_as_bytes())
            event = CustomerEvent.model_validate(envelope["event"])
            profile = Profile.model_validate(envelope["profile"])
            if event.event_type == COMPLAINT_EVENT and self._policy.complaint_suppression_days:
                self._ledger.record_complaint(event.customer_id,
                                              now + timedelta(days=self._policy.complaint_suppression_days))
            if sessions is not None:
                sessions.observe(event)
            if self._attribution is not None and (attributed := self._attribution.observe(event, index.campaigns)):
                outcome.count("attributed", attributed)
            match = index.match(event.event_type, event.attributes, profile.fields(), profile.tags, now_ts)
            if match.eligible:  # the channel preference model: only customers some campaign may contact
                profile = self._with_learned_preference(profile)
            screening = screen(event, profile, match, now, self._channels, self._policy)
            verdicts = screening.verdicts
            if self._attribution is not None:  # global control: tracked for conversions like the campaign's holdout
                for cid, verdict_outcome, *_ in verdicts:
                    if verdict_outcome is Outcome.HOLDOUT:
                        self._attribution.record_holdout(event, cid, now)
            if screening.candidates:
                session_until = None
                if sessions is not None:  # in a session: the offer goes to the touchpoint instead
                    session_until = sessions.route(screening.candidates, event.customer_id, now)
                result = self._once(
                    {"event_id": event.event_id, "customer_id": event.customer_id},
                    lambda _: self._commit(screening.candidates, event, profile, now),
                )
                verdicts = verdicts + [_verdict(v) for v in result["verdicts"]]
                if result["winner"] and result.get("holdout") and self._attribution is not None:
                    self._attribution.record_holdout(event, result["winner"], now)
                if result["winner"] and not result.get("holdout"):
                    offer = self._offer(event, profile, result, decided_at)
                    if result["channel"] in INBOUND:
                        offer["valid_until"] = (session_until or now + DEFAULT_VALIDITY).isoformat()
                    offers.append(offer)
                    offer_ids.append(record.kinesis.sequence_number)
            latency_ms = round((time.perf_counter() - started) * 1000, 3)
            rows.extend(record_rows(event, all_verdicts(screening.rejected, verdicts), decided_at, latency_ms))
            outcome.count("events")

        outcome.failures += process(records, KINESIS, handle)
        if sessions is not None:
            sessions.flush()
        if self._attribution is not None:
            self._attribution.flush()
        if rows:
            self._decisions.write(rows)
        now_offers = [i for i, o in enumerate(offers) if not o.get("not_before")]
        held = [i for i, o in enumerate(offers) if o.get("not_before")]
        outcome.failures += [offer_ids[now_offers[i]] for i in self._offers.send([offers[i] for i in now_offers])]
        if held:  # past quiet hours: the queue holds them (deliver holds again what is still early)
            wait = min((datetime.fromisoformat(offers[i]["not_before"]) - now).total_seconds() for i in held)
            failed = self._offers.send([offers[i] for i in held], delay_seconds=max(0, min(int(wait), MAX_DELAY_S)))
            outcome.failures += [offer_ids[held[i]] for i in failed]
        for row in rows:
            outcome.count(f"outcome.{row['outcome']}")
        outcome.count("offers", len(offers))
        return outcome

    def _commit(self, candidates: list[Candidate], event: CustomerEvent, profile: Profile, now: datetime) -> dict[str, Any]:
        def reserve(candidate: Candidate):
            return self._ledger.reserve(contact_request(candidate, event, profile, now, self._policy))

        winner, verdicts = arbitrate(candidates, reserve)
        return {
            "winner": winner.campaign.id if winner else None,
            "channel": winner.channel.value if winner else None,
            "holdout": bool(winner and winner.holdout),
            "not_before": winner.not_before.isoformat() if winner and winner.not_before else None,
            "verdicts": [[c, o.value, r.value if r else None, ch.value if ch else None, d] for c, o, r, ch, d in verdicts],
        }

    def _with_learned_preference(self, profile: Profile) -> Profile:
        """The profile with the channel its contact history prefers first (domain.channels)."""
        learned = channel_preference(self._ledger.channel_history(profile.customer_id), profile.channel_preference)
        if learned == list(profile.channel_preference):
            return profile
        return profile.model_copy(update={"channel_preference": learned})

    @staticmethod
    def _offer(event: CustomerEvent, profile: Profile, result: dict[str, Any], decided_at: str) -> dict[str, Any]:
        return {
            "event_id": event.event_id,
            "decision_id": decision_id(event.event_id, result["winner"]),
            "customer_id": event.customer_id,
            "campaign_id": result["winner"],
            "channel": result["channel"],
            "decided_at": decided_at,
            "not_before": result.get("not_before"),  # quiet hours: deliver holds it until then
            "contact": {k: v for k, v in profile.model_dump(mode="json", include={"name", "msisdn", "email", "locale", "timezone", "push_endpoint"}).items()},
        }
