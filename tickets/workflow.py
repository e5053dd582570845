"""The rules of a ticket's life: allowed status changes, escalation order, the priority floor, roles.

Every use case in tickets.service asks these functions before it changes
anything, so each rule lives here once.
"""
from __future__ import annotations

from desk.auth import StaffUser
from tickets.errors import ExtensionNotAllowed, ForbiddenTransition, InvalidRequest, NotPermitted
from tickets.models import Category, Department, EscalationLevel, Priority, Status, Ticket

OPEN = frozenset({Status.RECEIVED.value, Status.IN_PROGRESS.value, Status.ESCALATED.value})

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED.value: frozenset({"in_progress", "escalated", "resolved", "rejected"}),
    Status.IN_PROGRESS.value: frozenset({"escalated", "resolved", "rejected"}),
    # escalated → escalated: further up the path; → in_progress: feedback to the agent.
    Status.ESCALATED.value: frozenset({"escalated", "in_progress", "resolved", "rejected"}),
    # The borrower refuses the settlement: the ticket is worked on again.
    Status.RESOLVED.value: frozenset({"in_progress"}),
    Status.REJECTED.value: frozenset(),
}

ESCALATION_ORDER = [e.value for e in EscalationLevel]
PRIORITY_ORDER = [p.value for p in Priority]
# Fraud and threats by collectors are never below high (domain.md).
PRIORITY_FLOOR = {Category.FRAUD.value: Priority.HIGH.value,
                  Category.UNETHICAL_COLLECTION.value: Priority.HIGH.value}
# Handoff reasons that mark a collector's threat whatever the category.
THREAT_REASONS = frozenset({"fraud", "collection_threat"})

AGENT, SPECIALIST, SUPERVISOR, ADMIN = "agent", "specialist", "supervisor", "admin"
STAFF = frozenset({AGENT, SPECIALIST, SUPERVISOR, ADMIN})
SENIOR = frozenset({SPECIALIST, SUPERVISOR, ADMIN})


def require_transition(ticket: Ticket, target: str, action: str) -> None:
    """Refuse ``action`` unless the ticket's status may become ``target``."""
    if target not in TRANSITIONS.get(ticket.status, frozenset()):
        raise ForbiddenTransition(
            f"cannot {action} ticket {ticket.number}: it is {ticket.status}",
            status=ticket.status, target=target)


def require_open(ticket: Ticket, action: str) -> None:
    """Refuse ``action`` on a resolved or rejected ticket."""
    if ticket.status not in OPEN:
        raise ForbiddenTransition(f"cannot {action} ticket {ticket.number}: it is {ticket.status}",
                                  status=ticket.status)


def floor_priority(category: str, priority: str | None, reason: str | None = None) -> str:
    """The priority a ticket gets: the requested one, raised to its category's floor."""
    requested = priority or Priority.MEDIUM.value
    if requested not in PRIORITY_ORDER:
        raise InvalidRequest(f"unknown priority {requested!r}; one of {', '.join(PRIORITY_ORDER)}")
    floor = PRIORITY_FLOOR.get(category)
    if reason in THREAT_REASONS:
        floor = Priority.HIGH.value
    if floor and PRIORITY_ORDER.index(requested) < PRIORITY_ORDER.index(floor):
        return floor
    return requested


def check_escalation(ticket: Ticket, level: str, department: str | None) -> None:
    """Escalation goes up the path (CS agent → specialist → department → directors)."""
    require_open(ticket, "escalate")
    if level not in ESCALATION_ORDER or level == EscalationLevel.AGENT.value:
        raise InvalidRequest(f"escalation level must be one of {', '.join(ESCALATION_ORDER[1:])}")
    if level == EscalationLevel.DEPARTMENT.value:
        if department not in {d.value for d in Department}:
            raise InvalidRequest("escalation to a department names one of: "
                                 + ", ".join(d.value for d in Department))
    elif department:
        raise InvalidRequest("only an escalation to a department names a department")
    current = ESCALATION_ORDER.index(ticket.escalation_level)
    wanted = ESCALATION_ORDER.index(level)
    rerouted = level == ticket.escalation_level == EscalationLevel.DEPARTMENT.value \
        and department != ticket.department
    if wanted <= current and not rerouted:
        raise ForbiddenTransition(
            f"ticket {ticket.number} is already at {ticket.escalation_level}; escalation only goes up",
            escalation_level=ticket.escalation_level)


def check_extension(ticket: Ticket, max_extensions: int) -> None:
    """A deadline may be extended only while open, and only as often as the policy allows."""
    require_open(ticket, "extend")
    if ticket.extension_count >= max_extensions:
        raise ExtensionNotAllowed(
            f"ticket {ticket.number} was already extended {ticket.extension_count} time(s); "
            f"the policy allows {max_extensions}")


# --- who may do what ----------------------------------------------------------------

PERMISSIONS: dict[str, frozenset[str]] = {
    "read": STAFF,
    "start": STAFF,
    "note": STAFF,
    "message": STAFF,
    "claim": STAFF,           # assign to oneself
    "assign": SENIOR,         # assign to someone else
    "escalate_specialist": STAFF,
    "escalate_higher": SENIOR,
    "feedback": SENIOR,
    "resolve": STAFF,
    "resolve_compensation": SENIOR,
    "settlement": STAFF,
    "reject": SENIOR,
    "extend": SENIOR,
    "priority": STAFF,
    "fields": STAFF,          # complete or correct the complaint's fields
    "expect": STAFF,          # the handler's new expected resolution of an overdue ticket
    "register_external": STAFF,  # a complaint forwarded by OJK's portal (APPK) or LAPS SJK
}


def can_see(user: StaffUser, ticket: Ticket) -> bool:
    """Agents see tickets assigned to them or to nobody; senior roles see every ticket."""
    if user.role in SENIOR:
        return True
    return ticket.assignee_id in (None, user.id)


def require_permission(user: StaffUser, action: str, ticket: Ticket | None = None) -> None:
    """Refuse ``action`` when ``user``'s role (or, for agents, the assignment) does not allow it."""
    allowed = PERMISSIONS[action]
    if user.role not in allowed:
        raise NotPermitted(f"{action.replace('_', ' ')} needs one of the roles: {', '.join(sorted(allowed))}")
    if ticket is not None and not can_see(user, ticket):
        raise NotPermitted(f"ticket {ticket.number} is assigned to someone else")
