"""The faults, each a scenario with its own borrowers, and the run that schedules them.

Two desk deployments run side by side so the whole run stays near six
minutes on two cores:

* stack **A** carries the one long fault, the providers answering 5xx for
  two minutes (a provider-wide outage can share its desk with nothing else);
* stack **B** runs the others one after the other: a control without fault,
  ``kill -9`` of a desk worker under load, the database refusing connections
  for 10 s, Rasa killed and restarted, both providers answering 429 with a
  retry hint, U+0000 in texts, colliding in-app message ids.

Then the harness waits, bounded, until every message is answered or queued,
every reply is delivered and the outbox is empty, and judges each scenario
(``tests.faults.oracle``).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults import oracle
from tests.faults.borrowers import INAPP, Borrower, Borrowers, converse
from tests.faults.stack import Stack
from tests.fakes import FakeHTTPService

log = logging.getLogger("faults")

OUTAGE_SECONDS = 120.0          # the "provider 5xx for 2 minutes"
DB_REFUSE_SECONDS = 10.0
RETRY_AFTER_SECONDS = 10        # Telegram's retry_after and Twilio's Retry-After in the 429 scenario
RATE_LIMIT_SECONDS = 12.0       # how long the providers answer 429
SETTLE_DEADLINE_SECONDS = 330.0  # from the start of the scenarios: the run's bound
MIN_SETTLE_SECONDS = 30.0       # recovery always gets at least this long after the last scenario
PER_CHANNEL = 4                 # borrowers per channel in each scenario


@dataclass
class Scenario:
    """One fault: its name, its borrowers and the provider hint it checks (if any)."""

    fault: str
    stack: str
    borrowers: list[Borrower] = field(default_factory=list)
    retry_after: float | None = None
    killed_at: float | None = None
    """``time.monotonic()`` of a worker's ``kill -9`` in this scenario."""
    notes: list[str] = field(default_factory=list)
    evidence: dict[str, bool] = field(default_factory=dict)
    """Checks that the fault really happened (a harness that injects nothing must not pass)."""


def _answered_with(fakes: tuple[FakeHTTPService, ...], statuses: range) -> list[int]:
    """How many requests each fake answered with one of ``statuses``."""
    return [sum(1 for r in list(f.requests) if r.status in statuses) for f in fakes]


def _redelivered(people: Borrowers, scenario: Scenario) -> int:
    """How many of the scenario's messages needed more than one delivery."""
    return sum(1 for m in people.sent if m.scenario == scenario.fault and len(m.outcomes) > 1)


class FaultRun:
    """Both stacks, their borrowers, the scenarios and the result."""

    def __init__(self, workdir: Path) -> None:
        self.run_id = uuid.uuid4().hex[:6]
        self.workdir = workdir
        self.stacks = {"A": Stack("A", workdir / "stack-a", rasa_delay=0.05),
                       "B": Stack("B", workdir / "stack-b", rasa_delay=0.25)}
        self.people: dict[str, Borrowers] = {}
        self.scenarios: list[Scenario] = []
        self.rows: list[oracle.Row] = []
        self.settle_seconds = 0.0
        self.settled = False
        self.log_lines = 0
        self.log_leaks: list[str] = []

    # -- the run ------------------------------------------------------------------
    async def run(self) -> list[oracle.Row]:
        """Start both stacks, run every scenario, wait for recovery, judge; always stop the stacks."""
        try:
            await asyncio.gather(*(s.start() for s in self.stacks.values()))
            self.people = {name: Borrowers(stack, self.run_id) for name, stack in self.stacks.items()}
            started = time.monotonic()
            await asyncio.gather(self._timeline_a(), self._timeline_b())
            await self._settle(max(started + SETTLE_DEADLINE_SECONDS, time.monotonic() + MIN_SETTLE_SECONDS))
            self._write_details()
            return self.rows
        finally:
            for people in self.people.values():
                await people.aclose()
            stopped = await asyncio.gather(*(stack.stop() for stack in self.stacks.values()), return_exceptions=True)
            for failure in (r for r in stopped if isinstance(r, BaseException)):
                log.warning("stopping a stack failed: %r", failure)
            for stack in self.stacks.values():
                lines, leaks = stack.log_leaks()
                self.log_lines += lines
                self.log_leaks += [f"stack {stack.name} {leak}" for leak in leaks]

    async def _timeline_a(self) -> None:
        await self._scenario("A", "provider 5xx for 2 min", self.provider_outage)

    async def _timeline_b(self) -> None:
        for fault, body in (
            ("none (control)", self.control),
            ("desk worker kill -9", self.kill_worker),
            ("database refuses 10 s", self.database_refuses),
            ("Rasa killed, restarted", self.rasa_killed),
            ("provider 429 + retry_after", self.rate_limited),
            ("U+0000 in text", self.poison),
            ("colliding in-app ids", self.colliding_ids),
        ):
            await self._scenario("B", fault, body)

    async def _scenario(self, stack: str, fault: str, body: Callable[[Scenario], Awaitable[None]]) -> None:
        scenario = Scenario(fault, stack)
        self.scenarios.append(scenario)
        began = time.monotonic()
        log.warning("scenario %s on stack %s: start", fault, stack)
        await body(scenario)
        log.warning("scenario %s: done in %.1fs %s", fault, time.monotonic() - began, "; ".join(scenario.notes))

    def _new(self, scenario: Scenario, per_channel: int = PER_CHANNEL) -> tuple[Borrowers, list[Borrower]]:
        people = self.people[scenario.stack]
        who = people.make(scenario.fault, per_channel)
        scenario.borrowers.extend(who)
        return people, who

    # -- the scenarios ---------------------------------------------------------------
    async def control(self, scenario: Scenario) -> None:
        """No fault: proves the harness counts a healthy desk as healthy."""
        people, who = self._new(scenario)
        await converse(people, who, until=time.monotonic() + 10, max_messages=3, think=0.2)

    async def kill_worker(self, scenario: Scenario) -> None:
        """``kill -9`` the busier of the two desk workers while messages are inside it (Rasa takes 250 ms)."""
        people, who = self._new(scenario)
        stack = self.stacks[scenario.stack]
        load = asyncio.ensure_future(converse(people, who, until=time.monotonic() + 12, max_messages=40,
                                              think=0.05))
        await asyncio.sleep(4)
        before = stack.worker_pids()
        pid, connections = stack.kill_worker()
        scenario.killed_at = time.monotonic()
        scenario.notes.append(f"killed worker {pid} of {before} (it held {connections} client connections) "
                              f"with {people.in_flight} deliveries in flight")
        scenario.evidence["a worker was killed with deliveries in flight"] = people.in_flight > 0
        await load
        scenario.evidence["deliveries were cut and redelivered"] = _redelivered(people, scenario) > 0
        await asyncio.sleep(3)
        scenario.notes.append(f"workers afterwards: {stack.worker_pids()}")

    async def database_refuses(self, scenario: Scenario) -> None:
        """The database refuses connections for 10 s and drops the live ones, under load."""
        people, who = self._new(scenario)
        stack = self.stacks[scenario.stack]
        load = asyncio.ensure_future(converse(people, who, until=time.monotonic() + 20, max_messages=30,
                                              think=0.2))
        await asyncio.sleep(4)
        dropped = stack.proxy.refuse()
        scenario.notes.append(f"dropped {dropped} live connections, {people.in_flight} deliveries in flight")
        scenario.evidence["live database connections were dropped"] = dropped > 0
        await asyncio.sleep(DB_REFUSE_SECONDS)
        stack.proxy.accept()
        await load
        scenario.evidence["deliveries were refused and redelivered"] = _redelivered(people, scenario) > 0

    async def rasa_killed(self, scenario: Scenario) -> None:
        """Rasa is killed (SIGKILL) under load and started again 8 s later."""
        people, who = self._new(scenario)
        stack = self.stacks[scenario.stack]
        load = asyncio.ensure_future(converse(people, who, until=time.monotonic() + 16, max_messages=15,
                                              think=0.2))
        await asyncio.sleep(3)
        stack.kill_rasa()
        scenario.notes.append(f"Rasa killed with {people.in_flight} deliveries in flight")
        scenario.evidence["Rasa was killed with deliveries in flight"] = people.in_flight > 0
        await asyncio.sleep(8)
        stack.start_rasa()
        await load

    async def rate_limited(self, scenario: Scenario) -> None:
        """Both providers answer 429 with a 10 s hint for 12 s while borrowers write."""
        scenario.retry_after = RETRY_AFTER_SECONDS
        people, who = self._new(scenario)
        stack = self.stacks[scenario.stack]
        load = asyncio.ensure_future(converse(people, who, until=time.monotonic() + 8, max_messages=6,
                                              think=0.5))
        await asyncio.sleep(1)
        for fake in (stack.twilio, stack.telegram):
            fake.start_outage(429, retry_after=RETRY_AFTER_SECONDS)
        await asyncio.sleep(RATE_LIMIT_SECONDS)
        for fake in (stack.twilio, stack.telegram):
            fake.end_outage()
        await load
        limited = _answered_with((stack.twilio, stack.telegram), range(429, 430))
        scenario.notes.append(f"429 answers (Twilio, Telegram): {limited}")
        scenario.evidence["both providers answered 429"] = min(limited) > 0

    async def poison(self, scenario: Scenario) -> None:
        """Texts with U+0000 on every channel, then one clean message from the same borrower."""
        people, who = self._new(scenario)

        async def one(b: Borrower) -> None:
            await people.send(b, poison=True)
            await people.send(b, poison=True)
            await people.send(b)

        await asyncio.gather(*(one(b) for b in who))

    async def colliding_ids(self, scenario: Scenario) -> None:
        """Customer ``X`` sends client id ``x:m1``, customer ``X:x`` sends ``m1``: both must be kept."""
        people = self.people[scenario.stack]
        pairs = []
        for k in range(4):
            base = f"cx-{self.run_id}-{k}"
            plain = people.borrower(scenario.fault, INAPP, base)
            colon = people.borrower(scenario.fault, INAPP, base + ":x")
            scenario.borrowers.extend([plain, colon])
            pairs.append((plain, colon))
        # Both orders, one after the other, then two pairs at the same moment.
        a, b = pairs[0]
        await people.send(b, client_message_id="m1")
        await people.send(a, client_message_id="x:m1")
        a, b = pairs[1]
        await people.send(a, client_message_id="x:m1")
        await people.send(b, client_message_id="m1")
        await asyncio.gather(*(people.send(x, client_message_id=cid)
                               for a, b in pairs[2:] for x, cid in ((a, "x:m1"), (b, "m1"))))

    async def provider_outage(self, scenario: Scenario) -> None:
        """Twilio and Telegram answer 5xx for two minutes while borrowers keep writing."""
        people, who = self._new(scenario)
        stack = self.stacks[scenario.stack]
        await converse(people, who, until=time.monotonic() + 5, max_messages=1, think=0.2)
        stack.twilio.start_outage(503)
        stack.telegram.start_outage(502)
        began = time.monotonic()
        await converse(people, who, until=began + OUTAGE_SECONDS - 30, max_messages=6, think=12.0)
        await asyncio.sleep(max(0.0, began + OUTAGE_SECONDS - time.monotonic()))
        stack.twilio.end_outage()
        stack.telegram.end_outage()
        failed = _answered_with((stack.twilio, stack.telegram), range(500, 600))
        scenario.notes.append(f"outage lasted {time.monotonic() - began:.0f}s; 5xx answers (Twilio, Telegram): {failed}")
        scenario.evidence["both providers answered 5xx"] = min(failed) > 0

    # -- after recovery -----------------------------------------------------------------
    async def _judge(self) -> tuple[list[oracle.Row], bool]:
        rows, all_settled = [], True
        snapshots = {name: await oracle.snapshot(stack) for name, stack in self.stacks.items()}
        for name, people in self.people.items():
            stack_rows = []
            for scenario in (s for s in self.scenarios if s.stack == name):
                sent = [m for m in people.sent if m.scenario == scenario.fault]
                stack_rows.append(oracle.judge(scenario.fault, snapshots[name], sent, scenario.borrowers,
                                               retry_after=scenario.retry_after, killed_at=scenario.killed_at))
            all_settled &= oracle.settled(stack_rows, snapshots[name])
            rows.extend(stack_rows)
        order = [s.fault for s in self.scenarios]
        rows.sort(key=lambda r: order.index(r.fault))
        return rows, all_settled

    async def _settle(self, deadline: float) -> None:
        """Wait (bounded by ``deadline``) until nothing is lost or waiting; keep the last judgement."""
        began = time.monotonic()
        while True:
            self.rows, self.settled = await self._judge()
            if self.settled or time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(3.0, max(0.0, deadline - time.monotonic())))
        self.settle_seconds = time.monotonic() - began

    def _write_details(self) -> None:
        details = {r.fault: {"problems": r.problems[:200]} for r in self.rows}
        for scenario in self.scenarios:
            details.setdefault(scenario.fault, {})["notes"] = scenario.notes
        (self.workdir / "details.json").write_text(json.dumps(details, indent=1, ensure_ascii=True))
