"""Staff sign-in: passwords, cookie flags, CSRF, expiry, logout."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from handoff import auth
from handoff.models import StaffSession
from storage.base import utcnow
from tests.handoff.conftest import Staff


async def test_good_password_signs_in_with_a_hardened_cookie(client, make_user) -> None:
    await make_user("ani")
    response = await client.login("ani")
    assert response.status == 302
    assert response.headers["location"] == "/console"
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("aduan_staff="))
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # plain http in tests; https deployments get Secure


async def test_cookie_is_secure_when_served_over_https(client, make_user, settings) -> None:
    settings.public_base_url = "https://desk.example.id"
    await make_user("ani")
    response = await client.login("ani")
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("aduan_staff="))
    assert "Secure" in header


async def test_bad_password_is_refused_and_audited(client, make_user, database) -> None:
    await make_user("ani")
    response = await client.login("ani", "wrong password!")
    assert response.status == 401
    assert auth.SESSION_COOKIE not in response.cookies
    unknown = await client.login("nobody", "whatever123456")
    assert unknown.status == 401
    from handoff.audit import recent
    async with database.session() as session:
        assert [r.action for r in await recent(session)].count("login.failed") == 2


async def test_password_is_stored_as_argon2(database, make_user) -> None:
    from handoff.models import User
    user_id = await make_user("ani")
    async with database.session() as session:
        user = await session.get(User, user_id)
    assert user.password_hash.startswith("$argon2id$")
    assert auth.verify_password(user.password_hash, "correct horse battery")
    assert not auth.verify_password(user.password_hash, "correct horse batterY")


async def test_login_without_csrf_is_403(client, make_user) -> None:
    await make_user("ani")
    client.asgi.cookies.clear()
    _, response = await client.asgi.post("/login", data={"username": "ani", "password": "correct horse battery"})
    assert response.status == 403
    assert response.json["error"] == "csrf_failed"


async def test_state_change_without_csrf_is_403(client, sign_in) -> None:
    ani = await sign_in("ani")
    missing = await client.post("/console/availability", ani, {"available": "1"}, csrf=False)
    assert missing.status == 403
    wrong = await client.post("/console/availability", Staff(ani.id, ani.username, ani.role, ani.cookies, "x" * 32),
                              {"available": "1"})
    assert wrong.status == 403
    ok = await client.post("/console/availability", ani, {"available": "1"}, follow_redirects=False)
    assert ok.status == 302


async def test_forged_or_missing_cookie_is_not_signed_in(client, sign_in) -> None:
    ani = await sign_in("ani")
    token = ani.cookies[auth.SESSION_COOKIE].rpartition(".")[0]
    forged = Staff(ani.id, "ani", "agent", {auth.SESSION_COOKIE: token + ".deadbeef"}, ani.csrf)
    assert (await client.get("/console/queue", forged)).status == 401
    assert (await client.get("/console/queue")).status == 401
    page = await client.get("/console", follow_redirects=False)
    assert page.status == 302 and page.headers["location"] == "/login"


async def test_session_expires(client, sign_in, database) -> None:
    ani = await sign_in("ani")
    assert (await client.get("/console/queue", ani)).status == 200
    async with database.transaction() as session:
        await session.execute(update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await client.get("/console/queue", ani)).status == 401


async def test_logout_ends_the_session(client, sign_in) -> None:
    ani = await sign_in("ani")
    response = await client.post("/logout", ani, follow_redirects=False)
    assert response.status == 302
    assert (await client.get("/console/queue", ani)).status == 401


async def test_roles_are_enforced(client, sign_in) -> None:
    ani = await sign_in("ani")
    assert (await client.get("/console/supervisor", ani)).status == 403
    assert (await client.get("/console/admin/audit", ani)).status == 403
    sri = await sign_in("sri", "supervisor")
    assert (await client.get("/console/supervisor", sri)).status == 200
    assert (await client.get("/console/admin/audit", sri)).status == 403
    root = await sign_in("root", "admin")
    assert (await client.get("/console/admin/audit", root)).status == 200
