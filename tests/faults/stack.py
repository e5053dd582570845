"""One desk deployment as an operator runs it, with every outside service under the harness's hand.

``Stack`` owns: a throw-away PostgreSQL database migrated with ``aduan migrate``;
a TCP proxy in front of PostgreSQL (``tests.faults.dbproxy``) that the desk
connects through; Redis (a key prefix of its own); the fake Rasa
(``tests.desk.fake_rasa``) as a separate process that can be killed with
SIGKILL and started again on its port; the fake Twilio and Telegram APIs
(``tests.fakes``); and ``aduan serve --workers N`` with ``REDIS_URL`` set, the
real router and outbox. Every port is picked free at run time.

Only processes this module started are ever signalled, by their own pid or
process group.
"""
from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.faults.dbproxy import PgProxy
from tests.fakes import FakeTelegram, FakeTwilio
from tests.support.services import ensure_postgres, ensure_redis, port_open

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("ADUAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/0"
ADUAN = str(Path(sys.executable).with_name("aduan"))
TWILIO_ACCOUNT_SID = "AC" + "f" * 32
TWILIO_FROM = "whatsapp:+14155238886"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Secrets:
    """Per-run secrets shared by the desk and the harness's borrowers."""

    service_token: str = field(default_factory=lambda: "svc-" + secrets.token_hex(16))
    twilio_auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    telegram_bot_token: str = field(default_factory=lambda: "777000:" + secrets.token_hex(12))
    telegram_secret_token: str = field(default_factory=lambda: "tg-" + secrets.token_hex(12))
    inapp_signing_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    session_secret: str = field(default_factory=lambda: secrets.token_hex(24))

    def values(self) -> list[str]:
        """Every secret, and the Twilio basic-auth header value built from one: none may reach a log."""
        basic = base64.b64encode(f"{TWILIO_ACCOUNT_SID}:{self.twilio_auth_token}".encode()).decode()
        return [self.service_token, self.twilio_auth_token, self.telegram_bot_token,
                self.telegram_bot_token.split(":", 1)[1], self.telegram_secret_token,
                self.inapp_signing_secret, self.session_secret, basic]


class Stack:
    """A desk with ``workers`` processes and its fakes; ``name`` labels logs and the Redis prefix."""

    def __init__(self, name: str, workdir: Path, *, workers: int = 2, rasa_delay: float = 0.05) -> None:
        self.name = name
        self.workdir = workdir
        self.workers = workers
        self.rasa_delay = rasa_delay
        self.secrets = Secrets()
        self.db_name = f"aduan_faults_{name.lower()}_{uuid.uuid4().hex[:8]}"
        admin = make_url(PG_ADMIN_URL)
        self.direct_url = admin.set(database=self.db_name).render_as_string(hide_password=False)
        self.proxy = PgProxy(admin.host or "127.0.0.1", admin.port or 5432)
        self.twilio = FakeTwilio()
        self.telegram = FakeTelegram(token=self.secrets.telegram_bot_token)
        self.rasa_port = free_port()
        self.desk_port = free_port()
        self.rasa: subprocess.Popen[bytes] | None = None
        self.desk: subprocess.Popen[bytes] | None = None
        self.redis_prefix = f"aduan-faults-{name.lower()}-{uuid.uuid4().hex[:8]}:"
        self.killed_workers: list[int] = []

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.desk_port}"

    # -- start and stop ------------------------------------------------------------
    async def start(self) -> None:
        """Database (created and migrated), proxy, fakes, fake Rasa, then the desk; ready when it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        ensure_postgres()
        ensure_redis()
        await self._create_database()
        self._migrate()
        self.proxy.start()
        self.twilio.start()
        self.telegram.start()
        self.start_rasa()
        self.desk = subprocess.Popen(
            [ADUAN, "serve", "--workers", str(self.workers), "--host", "127.0.0.1", "--port", str(self.desk_port)],
            cwd=self.workdir, env=self._desk_env(), stdout=self._log("desk"), stderr=subprocess.STDOUT,
            start_new_session=True)
        await self._wait_ready(90.0)

    async def stop(self) -> None:
        """Stop the desk and fake Rasa (their process groups), the fakes and the proxy; drop the database."""
        await asyncio.gather(*(asyncio.to_thread(_stop_group, proc) for proc in (self.desk, self.rasa)))
        self.twilio.stop()
        self.telegram.stop()
        self.proxy.stop()
        await self._drop_database()

    def _desk_env(self) -> dict[str, str]:
        s = self.secrets
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DESK_", "RASA_", "TWILIO_", "TELEGRAM_"))}
        env.update({
            # Through the proxy, so the harness can take the database away.
            "DATABASE_URL": make_url(self.direct_url).set(host="127.0.0.1", port=self.proxy.port)
            .render_as_string(hide_password=False),
            "REDIS_URL": REDIS_URL, "REDIS_PREFIX": self.redis_prefix,
            "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
            "PUBLIC_BASE_URL": self.desk_url,
            "DESK_SERVICE_TOKEN": s.service_token, "SESSION_SECRET": s.session_secret,
            "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": s.twilio_auth_token,
            "TWILIO_WHATSAPP_FROM": TWILIO_FROM, "TWILIO_API_BASE": self.twilio.base_url,
            "TELEGRAM_BOT_TOKEN": s.telegram_bot_token, "TELEGRAM_SECRET_TOKEN": s.telegram_secret_token,
            "TELEGRAM_API_BASE": self.telegram.base_url,
            "INAPP_SIGNING_SECRET": s.inapp_signing_secret,
            "LOG_LEVEL": "INFO", "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env

    def _log(self, what: str) -> int:
        return os.open(self.workdir / f"{what}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def _create_database(self) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
        try:
            await conn.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await conn.close()

    async def _drop_database(self) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            await conn.close()

    def _migrate(self) -> None:
        """``aduan migrate`` straight at the server, as an operator does before starting the desk."""
        env = {**os.environ, "DATABASE_URL": self.direct_url}
        with open(self.workdir / "migrate.log", "wb") as log:
            subprocess.run([ADUAN, "migrate"], cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                           check=True, timeout=120)

    async def _wait_ready(self, seconds: float) -> None:
        """Until every worker runs and the desk answers ``/readyz`` with its database reachable."""
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=3.0) as client:
            while time.monotonic() < deadline:
                if self.desk is not None and self.desk.poll() is not None:
                    raise RuntimeError(f"desk {self.name} exited with {self.desk.returncode}; see {self.workdir}")
                try:
                    ready = (await client.get(self.desk_url + "/readyz")).status_code == 200
                except httpx.HTTPError:
                    ready = False
                if ready and len(self.worker_pids()) >= self.workers:
                    return
                await asyncio.sleep(0.5)
        raise RuntimeError(f"desk {self.name} not ready within {seconds}s; see {self.workdir}/desk.log")

    def log_leaks(self) -> tuple[int, list[str]]:
        """Scan this stack's process logs (desk, Rasa, migrate) for secrets and unmasked personal data:
        (lines scanned, the leaking lines with what they leak)."""
        from tests.support.log_scan import LeakScanner

        scanner = LeakScanner(self.secrets.values())
        lines, leaks = 0, []
        for path in sorted(self.workdir.glob("*.log")):
            with open(path, encoding="utf-8", errors="replace") as log:
                for line in log:
                    lines += 1
                    for what in scanner.findings(line):
                        leaks.append(f"{path.name}: {what}: {line.strip()[:300]}")
        return lines, leaks

    # -- faults ----------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """The pids of the desk's serving processes: the processes below ``aduan serve`` that hold
        its listening socket (Sanic's workers; whatever supervises them stays out of the list)."""
        if self.desk is None:
            return []
        inodes = _socket_inodes(self.desk_port, state="0A")  # 0A = LISTEN
        return sorted(pid for pid in _descendants(self.desk.pid) if _held(pid, inodes))

    def kill_worker(self) -> tuple[int, int]:
        """``kill -9`` the desk worker holding the most open client connections (the one under load,
        so requests die with it); return its pid and how many connections it held."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError(f"desk {self.name} has no worker to kill")
        connected = _socket_inodes(self.desk_port, state="01")  # 01 = ESTABLISHED
        busiest = max(pids, key=lambda pid: (_held(pid, connected), -pid))
        held = _held(busiest, connected)
        os.kill(busiest, signal.SIGKILL)
        self.killed_workers.append(busiest)
        return busiest, held

    def start_rasa(self) -> None:
        """Start the fake Rasa on its port (the same port after a kill) and wait until it listens."""
        self.rasa = subprocess.Popen(
            [sys.executable, "-m", "tests.desk.fake_rasa", "--port", str(self.rasa_port),
             "--delay", str(self.rasa_delay)],
            cwd=ROOT, stdout=self._log("rasa"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", self.rasa_port):
            if time.monotonic() > deadline or self.rasa.poll() is not None:
                raise RuntimeError(f"fake Rasa of {self.name} did not start; see {self.workdir}/rasa.log")
            time.sleep(0.1)

    def kill_rasa(self) -> None:
        """``kill -9`` the fake Rasa: in-flight calls see their connection reset, new ones are refused."""
        if self.rasa is not None:
            self.rasa.kill()
            self.rasa.wait(10)


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, grandchildren …), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _socket_inodes(port: int, *, state: str) -> set[str]:
    """The inodes of the TCP sockets in ``state`` (/proc/net/tcp's hex code) whose local port is ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def _held(pid: int, inodes: set[str]) -> int:
    """How many of the sockets ``inodes`` process ``pid`` holds open."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return 0
    held = 0
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def _stop_group(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers (the run is over: no long grace)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
