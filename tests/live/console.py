"""A member of staff in the agent console, over HTTP exactly as the browser's script does.

Login is the HTML form (CSRF cookie + field); actions are the console's
endpoints with ``X-Requested-With: fetch`` and the session's ``X-CSRF-Token``
(handoff/static/console.js), so they answer JSON.
"""
from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.live.stack import LiveStack

DEMO_PASSWORD = "aduan-demo"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_DATA = re.compile(r'data-csrf="([^"]+)"')
_TAGS = re.compile(r"<[^>]+>")


def page_text(markup: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(_TAGS.sub(" ", markup))).strip()


class Console:
    """One signed-in staff member."""

    def __init__(self, stack: LiveStack, username: str, password: str = DEMO_PASSWORD) -> None:
        self.stack = stack
        self.username = username
        self.http = httpx.Client(base_url=stack.desk_url, timeout=60, follow_redirects=False)
        self.csrf = ""
        self._login(password)

    def _login(self, password: str) -> None:
        page = self.http.get("/login")
        page.raise_for_status()
        token = _CSRF_FIELD.search(page.text)
        assert token, "the login page has no CSRF field"
        response = self.http.post("/login", data={"username": self.username, "password": password,
                                                  "csrf_token": token.group(1)})
        assert response.status_code == 302, f"login of {self.username} failed: {response.status_code}"
        console = self.http.get(response.headers["location"])
        console.raise_for_status()
        found = _CSRF_DATA.search(console.text) or _CSRF_FIELD.search(console.text)
        assert found, "no CSRF token on the console page"
        self.csrf = found.group(1)

    def _post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(path, data=data or {}, headers={"X-Requested-With": "fetch",
                                                              "X-CSRF-Token": self.csrf})

    def _ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, f"{response.request.url.path}: {response.status_code} {response.text[:300]}"
        return dict(response.json())

    # -- what an agent does ------------------------------------------------------------
    def queue_html(self) -> str:
        response = self.http.get("/console/queue", headers={"X-Requested-With": "fetch"})
        response.raise_for_status()
        return response.text

    def waiting(self) -> list[str]:
        """Public ids of the conversations in the queue, in queue order."""
        return re.findall(r'class="qitem[^"]*" data-conversation="([^"]+)"', self.queue_html())

    def pick_up(self, public_id: str) -> dict[str, Any]:
        return self._ok(self._post(f"/console/c/{public_id}/pickup"))

    def reply(self, public_id: str, text: str) -> dict[str, Any]:
        return self._ok(self._post(f"/console/c/{public_id}/reply", {"text": text}))

    def close(self, public_id: str, summary: str) -> dict[str, Any]:
        return self._ok(self._post(f"/console/c/{public_id}/close", {"summary": summary}))

    def panel(self, public_id: str) -> str:
        response = self.http.get(f"/console/c/{public_id}/panel", headers={"X-Requested-With": "fetch"})
        assert response.status_code == 200, f"panel {public_id}: {response.status_code}"
        return response.text

    def supervisor_search(self, query: str) -> str:
        response = self.http.get("/console/supervisor", params={"q": query})
        assert response.status_code == 200, f"supervisor search: {response.status_code}"
        return response.text

    def close_session(self) -> None:
        self.http.close()
