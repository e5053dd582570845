"""The live stack: the trained Rasa model, the action server and the desk, with provider fakes.

Only the providers' HTTP edge is faked (``tests/fakes``: Twilio Messages API
and Telegram Bot API as real HTTP servers on loopback). Everything else is the
product as ``scripts/run`` starts it: ``rasa run`` with ``bot/credentials.yml``
(the ``desk`` channel), ``rasa run actions``, ``aduan migrate``,
``aduan seed-demo`` and ``aduan serve`` on a throw-away SQLite database.

Every process gets a free loopback port and writes its log under
``artifacts/live/<run>/`` so a CI failure can be read afterwards.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.fakes import FakeTelegram, FakeTwilio

REPO = Path(__file__).resolve().parents[2]
BOT_DIR = REPO / "bot"
MODEL = BOT_DIR / "models" / "aduan.tar.gz"
RASA = BOT_DIR / ".venv" / "bin" / "rasa"
ADUAN = REPO / ".venv" / "bin" / "aduan"
ARTIFACTS = REPO / "artifacts" / "live"
WIB = ZoneInfo("Asia/Jakarta")
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

TELEGRAM_TOKEN = "123456:live-telegram-token"
TELEGRAM_SECRET = "live-telegram-secret"
TWILIO_SID = "ACdev00000000000000000000000000000"
TWILIO_TOKEN = "live-twilio-auth-token"
TWILIO_FROM = "whatsapp:+14155238886"
INAPP_SECRET = "live-inapp-signing-secret-0123456789abcdef"
# Rasa answers in well under a second on a quiet machine, but this machine is
# shared: the suite checks conversations, not latency, so a slow turn must not
# turn into the desk's "bot unavailable" holding reply.
RASA_TIMEOUT_SECONDS = 60.0
START_TIMEOUT_SECONDS = float(os.environ.get("LIVE_START_TIMEOUT", "600"))
CIRCUIT_BREAKER = "Circuit breaker tripped"


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def always_open_hours() -> dict[str, Any]:
    """Office hours under which people answer on every channel, day and night.

    The default hours stay Monday–Friday 09–17 so a receipt or answer that
    shows the default instead of the channel's hours is caught.
    """
    every_day = {"days": list(DAYS), "open": "00:00", "close": "24:00", "closed_on_holidays": False}
    return {
        "default": {"days": DAYS[:5], "open": "09:00", "close": "17:00", "closed_on_holidays": True},
        "whatsapp": dict(every_day), "telegram": dict(every_day), "inapp": dict(every_day),
    }


def closed_hours(now: datetime | None = None) -> dict[str, Any]:
    """Office hours closed today and tomorrow (WIB) on every channel, open the days after.

    Closing two whole days keeps the desk closed for at least 24 hours from
    ``now``, so a test that runs across midnight still sees it closed.
    """
    today = (now or datetime.now(WIB)).astimezone(WIB).date()
    shut = {DAYS[today.weekday()], DAYS[(today + timedelta(days=1)).weekday()]}
    days = [d for d in DAYS if d not in shut]
    spec = {"days": days, "open": "08:00", "close": "20:00", "closed_on_holidays": False}
    return {name: dict(spec) for name in ("default", "whatsapp", "telegram", "inapp")}


def write_lender_content(path: Path, office_hours: dict[str, Any]) -> dict[str, Any]:
    """A copy of the demo lender's content with other office hours (the only difference)."""
    content = yaml.safe_load((REPO / "lender" / "demo.yml").read_text(encoding="utf-8"))
    content["office_hours"] = office_hours
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)  # readers never see half a file
    return content


@dataclass
class Process:
    """One child process of the stack and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        # Each child leads its own process group: rasa forks helpers.
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class LiveStack:
    """The running stack; ``start()`` brings it up, ``stop()`` tears it down."""

    run_dir: Path
    desk_port: int = field(default_factory=free_port)
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    service_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    twilio: FakeTwilio = field(default_factory=FakeTwilio)
    telegram: FakeTelegram = field(default_factory=lambda: FakeTelegram(token=TELEGRAM_TOKEN))
    processes: dict[str, Process] = field(default_factory=dict)
    # More than one: every replica keeps its trackers in Redis and uses Rasa's Redis lock store
    # (bot/endpoints.redis.yml) and the desk spreads conversations over them (RASA_URLS).
    rasa_replicas: int = 1
    extra_rasa_ports: list[int] = field(default_factory=list)
    redis_prefix: str = field(default_factory=lambda: "live" + secrets.token_hex(6))

    @classmethod
    def create(cls, label: str = "run", *, rasa_replicas: int = 1) -> LiveStack:
        run_dir = ARTIFACTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}-{os.getpid()}"
        run_dir.mkdir(parents=True, exist_ok=True)
        return cls(run_dir=run_dir, rasa_replicas=rasa_replicas,
                   extra_rasa_ports=[free_port() for _ in range(rasa_replicas - 1)])

    # -- addresses ------------------------------------------------------------------
    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.desk_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rasa_urls(self) -> list[str]:
        """Every Rasa replica, in the order the desk's ``RASA_URLS`` lists them."""
        return [f"http://127.0.0.1:{p}" for p in (self.rasa_port, *self.extra_rasa_ports)]

    @staticmethod
    def rasa_name(index: int) -> str:
        """The process (and log) name of replica ``index``: rasa, rasa2, rasa3…"""
        return "rasa" if index == 0 else f"rasa{index + 1}"

    @property
    def db_path(self) -> Path:
        return self.run_dir / "aduan.db"

    @property
    def lender_content(self) -> Path:
        return self.run_dir / "lender.yml"

    @property
    def rasa_log(self) -> Path:
        return self.run_dir / "rasa.log"

    # -- environment ----------------------------------------------------------------
    def desk_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
        env.update({
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "DESK_HOST": "127.0.0.1",
            "DESK_PORT": str(self.desk_port),
            "PUBLIC_BASE_URL": self.desk_url,
            "RASA_URL": self.rasa_url,
            "RASA_URLS": ",".join(self.rasa_urls),
            "RASA_TIMEOUT_SECONDS": str(RASA_TIMEOUT_SECONDS),
            "DESK_SERVICE_TOKEN": self.service_token,
            "SESSION_SECRET": "live-session-secret-0123456789abcdef",
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_WHATSAPP_FROM": TWILIO_FROM,
            "TWILIO_API_BASE": self.twilio.base_url,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE": self.telegram.base_url,
            "INAPP_SIGNING_SECRET": INAPP_SECRET,
            "DEMO_MODE": "true",
            "LENDER_CONTENT": str(self.lender_content),
            "LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env

    def bot_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": str(BOT_DIR),
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "DESK_API_URL": self.desk_url,
            "DESK_SERVICE_TOKEN": self.service_token,
            "LENDER_CONTENT": str(self.lender_content),
            "PYTHONDONTWRITEBYTECODE": "1",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "REDIS_HOST": "127.0.0.1",
            "RASA_REDIS_PREFIX": self.redis_prefix,
        })
        return env

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> LiveStack:
        """Start the fakes, migrate and seed, start actions, Rasa and the desk; wait until all answer."""
        if not MODEL.exists():
            raise RuntimeError(f"no trained model at {MODEL}: run `make bot-train`")
        for path, what in ((RASA, "make bot-setup"), (ADUAN, "make desk-setup")):
            if not path.exists():
                raise RuntimeError(f"{path} is missing: run `{what}`")
        self.twilio.start()
        self.telegram.start()
        write_lender_content(self.lender_content, always_open_hours())
        endpoints = self.run_dir / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n',
                             encoding="utf-8")
        self._run_once("migrate", [str(ADUAN), "migrate"])
        self._run_once("seed-demo", [str(ADUAN), "seed-demo"])
        self._spawn("actions", [str(RASA), "run", "actions", "--actions", "actions",
                                "--port", str(self.actions_port)], cwd=BOT_DIR, env=self.bot_env())
        if self.rasa_replicas > 1:
            endpoints = BOT_DIR / "endpoints.redis.yml"
        for index, url in enumerate(self.rasa_urls):
            self._spawn(self.rasa_name(index), [
                str(RASA), "run", "--model", str(MODEL), "--port", url.rsplit(":", 1)[1],
                "--interface", "127.0.0.1", "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
                cwd=BOT_DIR, env=self.bot_env())
        self.start_desk()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        self._wait("actions", f"http://127.0.0.1:{self.actions_port}/health", deadline)
        for index, url in enumerate(self.rasa_urls):
            self._wait(self.rasa_name(index), url + "/", deadline)
            self._wait_rasa_answers(deadline, index)
        (self.run_dir / "stack.json").write_text(json.dumps({
            "desk": self.desk_url, "rasa": self.rasa_url, "actions_port": self.actions_port,
            "twilio": self.twilio.base_url, "telegram": self.telegram.base_url, "db": str(self.db_path),
        }, indent=2), encoding="utf-8")
        return self

    def start_desk(self) -> None:
        """(Re)start ``aduan serve``; the desk reads the lender content once per process."""
        self._spawn("desk", [str(ADUAN), "serve"], cwd=self.run_dir, env=self.desk_env())
        self._wait("desk", self.desk_url + "/healthz", time.monotonic() + 120)

    def restart_desk(self, office_hours: dict[str, Any]) -> None:
        """New office hours: rewrite the content file (the actions re-read it) and restart the desk."""
        write_lender_content(self.lender_content, office_hours)
        self.processes.pop("desk").stop()
        self.start_desk()

    def kill_rasa(self, url: str) -> None:
        """``kill -9`` the replica serving ``url`` (and its helpers): it stops answering mid-run."""
        process = self.processes[self.rasa_name(self.rasa_urls.index(url))]
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(10)

    def stop(self) -> None:
        for name in ("desk", *(self.rasa_name(i) for i in range(self.rasa_replicas)), "actions"):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop()
        self.twilio.stop()
        self.telegram.stop()

    def __enter__(self) -> LiveStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------
    def _run_once(self, name: str, argv: list[str]) -> None:
        log = self.run_dir / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(argv, cwd=self.run_dir, env=self.desk_env(), stdout=out,
                                  stderr=subprocess.STDOUT, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(argv[1:])}` failed ({done.returncode}); see {log}")

    def _spawn(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        log = self.run_dir / f"{name}.log"
        # Append: a restarted desk keeps its earlier log above the new one.
        out = log.open("ab")
        popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.processes[name] = Process(name, popen, log)

    def _wait(self, name: str, url: str, deadline: float) -> None:
        process = self.processes[name]
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"{name} exited ({process.popen.returncode}):\n{process.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status < 500:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} did not answer {url} in time:\n{process.tail()}")

    def _wait_rasa_answers(self, deadline: float, index: int = 0) -> None:
        """The model is loaded when the REST channel answers a greeting."""
        body = json.dumps({"sender": f"readiness-{secrets.token_hex(4)}", "message": "halo"}).encode()
        name = self.rasa_name(index)
        while time.monotonic() < deadline:
            request = urllib.request.Request(self.rasa_urls[index] + "/webhooks/rest/webhook", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if json.loads(response.read() or b"[]"):
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if not self.processes[name].alive():
                raise RuntimeError(f"{name} exited:\n{self.processes[name].tail()}")
            time.sleep(1)
        raise RuntimeError(f"{name} never answered a greeting:\n{self.processes[name].tail()}")

    def db(self) -> sqlite3.Connection:
        """A read-only connection to the desk's database (WAL: reads beside the desk's writes)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def rasa_log_size(self) -> int:
        try:
            return self.rasa_log.stat().st_size
        except OSError:
            return 0

    def rasa_log_since(self, offset: int) -> str:
        with self.rasa_log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")

    def keep_artifacts(self) -> None:
        """Drop the bulky database on success; logs stay for reading."""
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(self.db_path) + suffix)
            if path.exists():
                path.unlink()
        shutil.rmtree(self.run_dir / "__pycache__", ignore_errors=True)
