"""Staff sign-in: argon2 passwords, server-side sessions in a signed cookie, CSRF.

The cookie carries a random token and its HMAC under ``Settings.session_secret``;
the database keeps only the token's SHA-256, so a leaked table cannot be
replayed and logout or expiry really ends a session. Every state-changing
request that a staff cookie authenticates must carry the session's CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``); the login form uses a
double-submit cookie because there is no session yet.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sanic import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser, error
from desk.services import core_services
from handoff.models import Role, StaffSession, User
from storage.base import utcnow

SESSION_COOKIE = "aduan_staff"
LOGIN_CSRF_COOKIE = "aduan_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths whose unsafe requests are always staff actions: a bad token is a 403 here.
STAFF_PATHS = ("/console", "/logout", "/login")

_hasher = PasswordHasher()
# Verifying against a dummy hash when the user does not exist keeps timing equal.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class InvalidUser(ValueError):
    """A user cannot be created as asked (bad role, short password, taken name)."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_password_check(password: str) -> None:
    """Spend the time of a password check and discard it (a refused attempt answers as slowly as any)."""
    verify_password(_DUMMY_HASH, password)


def staff_user(user: User) -> StaffUser:
    """The handler-facing view of a user row."""
    return StaffUser(id=user.id, username=user.username, display_name=user.display_name, role=user.role)


async def create_user(session: AsyncSession, *, username: str, password: str, role: str,
                      display_name: str | None = None, capacity: int = 5, language: str = "id") -> User:
    """Create a member of staff (flushes, does not commit)."""
    if role not in {r.value for r in Role}:
        raise InvalidUser(f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}")
    if len(password) < 10:
        raise InvalidUser("the password needs at least 10 characters")
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise InvalidUser("the username may hold letters, digits, '.', '_' and '-' (at most 64)")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidUser(f"the username {username!r} is taken")
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=hash_password(password), capacity=capacity, language=language)
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with this username and password, or None."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sign(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def cookie_value(secret: str, token: str) -> str:
    """``token.signature`` as stored in the browser."""
    return f"{token}.{_sign(secret, token)}"


def token_from_cookie(secret: str, value: str | None) -> str | None:
    """The session token if the cookie's signature is valid."""
    if not value or "." not in value:
        return None
    token, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _sign(secret, token)):
        return None
    return token


async def start_session(session: AsyncSession, user: User, *, hours: float) -> tuple[str, str]:
    """Create a session for ``user``; return (token, csrf_token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(StaffSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=csrf,
                             expires_at=utcnow() + timedelta(hours=hours)))
    await session.flush()
    return token, csrf


async def end_session(session: AsyncSession, token: str) -> None:
    """Forget a session (logout)."""
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


@dataclass(frozen=True)
class LoadedSession:
    user: StaffUser
    csrf_token: str
    language: str


async def load_session(session: AsyncSession, token: str) -> LoadedSession | None:
    """The live session for ``token``: unexpired, and its user still active."""
    row = (await session.execute(
        select(StaffSession, User).join(User, User.id == StaffSession.user_id)
        .where(StaffSession.token_hash == _token_hash(token))
    )).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.expires_at <= utcnow() or not user.active:
        return None
    return LoadedSession(staff_user(user), staff_session.csrf_token, user.language)


def set_session_cookie(request: Request, response: HTTPResponse, value: str, hours: float) -> None:
    """HttpOnly, SameSite=Lax, Secure whenever the console is served over https."""
    response.add_cookie(SESSION_COOKIE, value, path="/", httponly=True, samesite="Lax",
                        secure=is_https(request), max_age=int(hours * 3600))


def expire_cookie(request: Request, response: HTTPResponse, name: str, path: str = "/") -> None:
    """Remove a cookie; Sanic's delete_cookie always marks it Secure, which http browsers drop."""
    response.add_cookie(name, "", path=path, httponly=True, samesite="Lax", secure=is_https(request), max_age=0)


def clear_session_cookie(request: Request, response: HTTPResponse) -> None:
    expire_cookie(request, response, SESSION_COOKIE)


def is_https(request: Request) -> bool:
    """True behind TLS (directly, or through a proxy Sanic is configured to trust)."""
    settings = core_services(request.app).settings
    return request.scheme in ("https", "wss") or settings.public_base_url.startswith("https://")


def submitted_csrf(request: Request) -> str:
    """The CSRF token a request carries (header first, then form field)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    try:
        form = request.form
    except Exception:  # noqa: BLE001 - unparsable body carries no token
        return ""
    return (form.get(CSRF_FIELD) if form else "") or ""


def csrf_ok(expected: str, given: str) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


async def staff_middleware(request: Request) -> HTTPResponse | None:
    """Put the signed-in ``StaffUser`` on ``request.ctx.user`` (or None) and enforce CSRF."""
    if getattr(request.ctx, "user", None) is not None:
        return None  # already authenticated by an earlier middleware (test stand-ins)
    request.ctx.user = None
    request.ctx.csrf_token = ""
    request.ctx.csrf_failed = False
    request.ctx.staff_language = None
    services = core_services(request.app)
    unsafe = request.method not in SAFE_METHODS
    staff_path = request.path.startswith(STAFF_PATHS)
    if unsafe and request.path == "/login":
        # No session yet: the form must echo the login cookie (double submit).
        if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), submitted_csrf(request)):
            return error(403, "csrf_failed", "the form is stale or forged; reload the page and try again")
        return None
    token = token_from_cookie(services.settings.session_secret, request.cookies.get(SESSION_COOKIE))
    if token is None:
        return None
    async with services.db.session() as session:
        loaded = await load_session(session, token)
    if loaded is None:
        return None
    if unsafe and not csrf_ok(loaded.csrf_token, submitted_csrf(request)):
        # The cookie alone never authorises a change: without the token it does not sign in.
        request.ctx.csrf_failed = True
        if staff_path:
            return error(403, "csrf_failed", "missing or wrong CSRF token")
        return None
    request.ctx.user = loaded.user
    request.ctx.csrf_token = loaded.csrf_token
    request.ctx.staff_language = loaded.language
    request.ctx.session_token = token
    return None
