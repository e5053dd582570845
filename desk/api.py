"""The desk API the action server calls: customer verification and account reads.

Every route needs the service token (``desk.auth.service_token_required``).
Ticket and office-hours routes live with the tickets part (``tickets/api.py``).
"""
from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from desk.auth import error, service_token_required
from desk.services import core_services

log = logging.getLogger(__name__)

bp = Blueprint("desk_api", url_prefix="/api/v1")


class VerifyRequest(BaseModel):
    """Body of ``POST /api/v1/customers/verify``."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    conversation_id: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=40)
    loan_id: str = Field(min_length=1, max_length=64)


def json_body(request: Request) -> dict[str, Any] | HTTPResponse:
    """The request's JSON object, or the desk's 400 error when it is not one."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic raises BadRequest on malformed JSON
        return error(400, "malformed_json", "the body must be a JSON object")
    if not isinstance(body, dict):
        return error(400, "malformed_json", "the body must be a JSON object")
    return body


@bp.post("/customers/verify")
@service_token_required
async def verify_customer(request: Request) -> HTTPResponse:
    """Check full name + registered phone + loan/order id; record the customer on success.

    The answer is the same whichever part did not match, so it cannot be used
    to find out whether a phone number is registered.
    """
    body = json_body(request)
    if isinstance(body, HTTPResponse):
        return body
    try:
        data = VerifyRequest.model_validate(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return error(400, "invalid_request", f"missing or invalid fields: {', '.join(fields)}")
    outcome = await core_services(request.app).verify(
        conversation_id=data.conversation_id, full_name=data.full_name, phone=data.phone, loan_id=data.loan_id)
    if not outcome.verified:
        # One answer for every failure, throttled or not (desk/verification.py).
        return json({"verified": False})
    return json({"verified": True, "customer_id": outcome.customer_id})


@bp.get("/customers/<customer_id:str>/account")
@service_token_required
async def customer_account(request: Request, customer_id: str) -> HTTPResponse:
    """The account summary (loans, bills, applications) of a verified customer."""
    account = await core_services(request.app).lending.account(customer_id)
    if account is None:
        return error(404, "not_found", "no such customer")
    return json(account.to_json())
