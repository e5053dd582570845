"""Typed errors of the privacy use cases.

They extend ``tickets.errors.TicketError`` so that the one error mapper
(``tickets.api.answers_errors``) answers them in the desk's JSON shape.
"""
from __future__ import annotations

from tickets.errors import TicketError


class PrivacyError(TicketError):
    code = "privacy_error"


class RequestNotFound(PrivacyError):
    status, code = 404, "not_found"


class IdentityNotVerified(PrivacyError):
    """Nothing about a borrower is released before their identity is verified."""

    status, code = 403, "verification_required"


class RequestClosed(PrivacyError):
    status, code = 409, "request_closed"


class InvalidPrivacyRequest(PrivacyError):
    status, code = 422, "invalid_request"


class NotAllowed(PrivacyError):
    status, code = 403, "forbidden"
