"""Typed errors of the ticket use cases; the API maps each to one JSON answer."""
from __future__ import annotations


class TicketError(Exception):
    """Base: ``code`` is the API's error code, ``status`` its HTTP status."""

    status = 400
    code = "ticket_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class TicketNotFound(TicketError):
    status, code = 404, "not_found"


class ForbiddenTransition(TicketError):
    """The rules do not allow this change in the ticket's current state."""

    status, code = 409, "forbidden_transition"


class ExtensionNotAllowed(ForbiddenTransition):
    code = "extension_not_allowed"


class InvalidRequest(TicketError):
    """The change is allowed but the request lacks what the rules require (ground, outcome, …)."""

    status, code = 422, "invalid_request"


class NotPermitted(TicketError):
    """The member of staff's role may not do this."""

    status, code = 403, "forbidden"


class VerificationRequired(TicketError):
    status, code = 403, "verification_required"
