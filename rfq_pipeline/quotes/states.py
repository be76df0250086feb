"""The draft state machine and the 24 h / 48 h follow-up schedule for drafts nobody has acted on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

STATES = ("queued", "approved", "edited", "rejected", "expired", "sent", "won", "lost", "clarifying")
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"approved", "edited", "rejected", "expired", "clarifying"}),
    "edited": frozenset({"edited", "approved", "rejected", "expired", "clarifying"}),
    # Waiting for the buyer's answer to a question; the answer makes a new version and queues it again.
    "clarifying": frozenset({"queued", "rejected", "expired"}),
    "approved": frozenset({"sent", "expired"}),
    "sent": frozenset({"won", "lost", "expired"}),
    "rejected": frozenset(),
    "expired": frozenset(),
    "won": frozenset(),
    "lost": frozenset(),
}
REMINDER_AFTER = timedelta(hours=24)
ESCALATION_AFTER = timedelta(hours=48)


class InvalidTransition(ValueError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot move a draft from {current!r} to {target!r}")
        self.current = current
        self.target = target


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment


@dataclass(frozen=True)
class DraftState:
    draft_id: str
    ready_at: datetime
    state: str = "queued"
    history: tuple[tuple[str, str, datetime], ...] = ()
    notified: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _aware(self.ready_at)
        if self.state not in STATES:
            raise ValueError(f"unknown state {self.state!r}")


def transition(draft: DraftState, target: str, at: datetime) -> DraftState:
    if target not in STATES:
        raise ValueError(f"unknown state {target!r}")
    if target not in TRANSITIONS[draft.state]:
        raise InvalidTransition(draft.state, target)
    return replace(draft, state=target, history=(*draft.history, (draft.state, target, _aware(at))))


def expire(draft: DraftState, at: datetime) -> DraftState:
    """The expiry sweep: expires a draft if its state allows it, and leaves it unchanged otherwise, so a won or lost
    (or already closed) draft is never overwritten by expiry."""
    if "expired" not in TRANSITIONS[draft.state]:
        return draft
    return transition(draft, "expired", at)


@dataclass(frozen=True)
class DueAction:
    kind: str  # "reminder" (re-ping the rep) or "escalation" (page the sales lead)
    due_at: datetime


def due_actions(draft: DraftState, now: datetime) -> list[DueAction]:
    """Follow-ups due for a draft still queued with no human action: a reminder from 24 h after it was ready, an
    escalation from 48 h; an action already recorded in ``notified`` is not returned again."""
    _aware(now)
    if draft.state != "queued" or draft.history:
        return []
    actions = []
    for kind, after in (("reminder", REMINDER_AFTER), ("escalation", ESCALATION_AFTER)):
        due_at = draft.ready_at + after
        if now >= due_at and kind not in draft.notified:
            actions.append(DueAction(kind, due_at))
    return actions


def mark_notified(draft: DraftState, kind: str) -> DraftState:
    return replace(draft, notified=draft.notified | {kind})
