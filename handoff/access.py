"""Who may read which transcript, and who may act on it. The one place for these rules.

* Supervisors and admins read every conversation, live and past.
* Agents and specialists read conversations waiting in a queue they may take
  from, and conversations whose current handoff is (or, once closed, was)
  theirs. Everything else is 403.
* Only the assignee acts on a conversation (reply, note, close, transfer);
  a supervisor acts after taking it over.
"""
from __future__ import annotations

from desk.auth import StaffUser
from handoff.models import Handoff, HandoffStatus, Role

SUPERVISING = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
FRONT_LINE = frozenset({Role.AGENT.value, Role.SPECIALIST.value, Role.SUPERVISOR.value})
# Full phone numbers, NIK and loan data: the people who resolve the complaint.
FULL_PERSONAL_DATA = frozenset({Role.SPECIALIST.value, Role.SUPERVISOR.value})


def supervises(user: StaffUser) -> bool:
    """Supervisors and admins see every conversation and the agents' load."""
    return user.role in SUPERVISING


def queue_roles(user: StaffUser) -> frozenset[str]:
    """The queues (``Handoff.queue_role``) this user may take conversations from."""
    if user.role == Role.AGENT.value:
        return frozenset({Role.AGENT.value})
    if user.role in (Role.SPECIALIST.value, Role.SUPERVISOR.value):
        return frozenset({Role.AGENT.value, Role.SPECIALIST.value})
    return frozenset()


def can_take(user: StaffUser, handoff: Handoff) -> bool:
    """May ``user`` pick this handoff up from the queue?"""
    return handoff.status == HandoffStatus.WAITING.value and handoff.queue_role in queue_roles(user)


def can_read(user: StaffUser, handoff: Handoff | None) -> bool:
    """May ``user`` open the transcript whose latest handoff is ``handoff``?"""
    if supervises(user):
        return True
    if handoff is None:
        return False  # a conversation that never reached people is not an agent's business
    if handoff.status == HandoffStatus.WAITING.value:
        return handoff.queue_role in queue_roles(user)
    return handoff.assigned_to == user.id


def can_act(user: StaffUser, handoff: Handoff | None) -> bool:
    """May ``user`` reply, write notes, change fields, transfer or close?"""
    return (handoff is not None and handoff.status == HandoffStatus.ASSIGNED.value
            and handoff.assigned_to == user.id)


def sees_full_personal_data(user: StaffUser) -> bool:
    """Unmasked phone numbers and identity numbers; others see ``desk.masking`` output."""
    return user.role in FULL_PERSONAL_DATA


def can_read_audit(user: StaffUser) -> bool:
    return user.role == Role.ADMIN.value


def can_approve_canned(user: StaffUser) -> bool:
    return user.role in SUPERVISING
