"""The approval rules of a campaign (SPEC 4.6 submit/approve/reject): who may decide, and when it is done.

Pure: a request's state and one person's action in, a verdict out. Never stores, notifies or reads
the clock; the use case (marketing.app.approvals) records and acts on what this decides.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class ApprovalStatus(StrEnum):
    PENDING = "pending_approval"
    INVALID = "invalid"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"          # no decision in time: rejected by the workflow
    LIVE = "live"
    EVALUATED = "evaluated"


class Action(StrEnum):
    """What an audit record says happened (the `action` of each row of the trail)."""

    SUBMITTED = "submitted"
    INVALID = "invalid"
    ESTIMATED = "estimated"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"              # one approver's yes (the request may need another)
    REFUSED = "refused"                # an approval attempt the rules refuse (the request stays pending)
    REJECTED = "rejected"
    EXPIRED = "expired"
    ACTIVATED = "activated"
    EVALUATED = "evaluated"
    PAUSED = "paused"                  # live control: not matched until resumed
    RESUMED = "resumed"
    STOPPED = "stopped"                # ended early: evaluated now


class Refused(StrEnum):
    SELF_APPROVAL = "the submitter may not approve their own campaign"
    ALREADY_APPROVED = "already approved by this user: a second approver must be someone else"
    NOT_PENDING = "the campaign is not waiting for approval"
    COMMENT_REQUIRED = "a rejection needs a comment"
    NO_USER = "the deciding user must be named"


@dataclass(frozen=True)
class ApprovalRequest:
    campaign_id: str
    submitter: str
    required: int                           # distinct approvers needed (1, or 2 over the budget threshold)
    approvers: tuple[str, ...] = ()
    status: ApprovalStatus = ApprovalStatus.PENDING


def approvers_required(budget: float | None, threshold: float) -> int:
    """A campaign whose budget is over the threshold needs a second, distinct approver."""
    return 2 if budget is not None and budget > threshold else 1


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    complete: bool = False                  # this approval completes the request (the workflow resumes)
    refused: Refused | None = None

    @property
    def message(self) -> str:
        return self.refused.value if self.refused else "accepted"


def identity(name: str) -> str:
    """A person's name as the rules compare it: Unicode NFKC, case folded, without invisible characters
    (zero-width spaces, joiners, BOMs) or spaces; `Li.Na@Example.com`, `li.na@example.com` and
    `li.na\u200b@example.com` are one identity."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc", "Zs"))


def same_person(a: str, b: str) -> bool:
    """Equal identities, or an address and its local part (`li.na@example.com` is `li.na`)."""
    a, b = identity(a), identity(b)
    if a == b:
        return True
    local_a, at_a, _ = a.partition("@")
    local_b, at_b, _ = b.partition("@")
    return bool(at_a) != bool(at_b) and (local_a if at_a else a) == (local_b if at_b else b)


def judge_approval(request: ApprovalRequest, by: str) -> Verdict:
    if not identity(by):
        return Verdict(False, refused=Refused.NO_USER)
    if request.status != ApprovalStatus.PENDING:
        return Verdict(False, refused=Refused.NOT_PENDING)
    if same_person(by, request.submitter):
        return Verdict(False, refused=Refused.SELF_APPROVAL)
    if any(same_person(by, approver) for approver in request.approvers):
        return Verdict(False, refused=Refused.ALREADY_APPROVED)
    return Verdict(True, complete=len(request.approvers) + 1 >= request.required)


def judge_rejection(request: ApprovalRequest, by: str, comment: str | None) -> Verdict:
    """Any named user may reject (the submitter may withdraw their own campaign), always with a reason."""
    if not identity(by):
        return Verdict(False, refused=Refused.NO_USER)
    if request.status != ApprovalStatus.PENDING:
        return Verdict(False, refused=Refused.NOT_PENDING)
    if not (comment or "").strip():
        return Verdict(False, refused=Refused.COMMENT_REQUIRED)
    return Verdict(True, complete=True)
