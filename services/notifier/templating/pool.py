"""Operators' templates rendered in worker processes, bounded in time and memory and off the
event loop.

A template that gets past the sandbox's checks (``sandbox``) can still be slow or hungry:
rendered on the event loop it would stop HTTP, NATS consumers and every other prompt until
it finished. So operators' templates (stored ones and drafts) render in a small pool of
worker processes (``worker``), each with its address space capped (``RLIMIT_AS``), and the
parent enforces a wall-clock deadline per render: a worker that overruns is killed and
replaced, and the render fails as ``TemplateOverrun`` ("took too long" / "used too much
memory") — that one prompt or save, never the process. A template that overran fails at once,
without a worker, for ``overrun_quarantine_s`` afterwards: a thousand prompts sharing one
hostile template cost one deadline, not a thousand, and the workers stay free for the rest.

Workers start on first use (not at import, not at service start: most prompts use the
packaged defaults, which render in-process, see ``renderer``) and are replaced lazily. The
pool works from whichever event loop calls it: it keeps no loop-bound objects between
calls (its pipes are watched with ``add_reader``/``add_writer`` while a call waits).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.notifier.templating.jobs import RenderJob, Renders, TemplatePart
from services.notifier.templating.problems import TemplateOverrun, TemplateProblem
from services.notifier.templating.sandbox import SandboxLimits
from services.notifier.templating.worker import FRAME_HEADER, MODULE, WorkerSetup
from shared.clock import Clock, SystemClock

# A cold interpreter importing Jinja and Babel on a busy host; not part of any deadline.
WORKER_START_TIMEOUT_S = 60.0
# Far above any honest answer (80 samples x 3 parts x 50,000 characters, as JSON).
MAX_ANSWER_BYTES = 128 * 2**20
# Templates remembered as having overrun, at most (the oldest is forgotten first).
QUARANTINE_SIZE = 64


@dataclass(frozen=True)
class RenderLimits:
    """How operators' templates are rendered: the sandbox's limits and the pool's."""

    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    workers: int = 2
    """Worker processes at most (started on demand)."""
    worker_memory_mb: int = 256
    """Address space a worker may add to what it maps once started."""
    render_timeout_s: float = 2.0
    """One render of a prompt or preview, from handing it to a worker to its answer."""
    validation_timeout_s: float = 10.0
    """A save's validation: rendering every sample context, all together."""
    validation_samples: int = 80
    """Sample contexts a save is checked with at most (the full set is at most 80)."""
    overrun_quarantine_s: float = 300.0
    """How long a template whose render overran fails at once, without a worker (0: never)."""

    def __post_init__(self) -> None:
        if self.workers < 1 or self.worker_memory_mb < 1 or self.validation_samples < 1:
            raise ValueError("workers, worker_memory_mb and validation_samples must be >= 1")
        if self.render_timeout_s <= 0 or self.validation_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.overrun_quarantine_s < 0:
            raise ValueError("overrun_quarantine_s must be 0 or more")


class WorkerStopped(Exception):
    """The worker's pipe closed, or it answered something that is not an answer."""


async def _ready(fd: int, *, write: bool) -> None:
    """Until ``fd`` can be written (or read) without blocking."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _start_process() -> subprocess.Popen[bytes]:
    """Only fork and exec (milliseconds); the new interpreter's start-up is awaited."""
    return subprocess.Popen(  # noqa: S603 - a fixed command: this interpreter, our module
        [sys.executable, "-m", MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


class _Worker:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self._requests = process.stdin.fileno()
        self._answers = process.stdout.fileno()
        os.set_blocking(self._requests, False)
        os.set_blocking(self._answers, False)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def exchange(self, payload: bytes) -> dict[str, Any]:
        """Send one frame, return the answer."""
        await self._write(FRAME_HEADER.pack(len(payload)) + payload)
        (length,) = FRAME_HEADER.unpack(await self._read(FRAME_HEADER.size))
        if length > MAX_ANSWER_BYTES:
            raise WorkerStopped("answer too long")
        try:
            answer = json.loads(await self._read(length))
        except ValueError as error:
            raise WorkerStopped("answer is not JSON") from error
        if not isinstance(answer, dict):
            raise WorkerStopped("answer is not an object")
        return answer

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._requests, view)
            except BlockingIOError:
                await _ready(self._requests, write=True)
                continue
            except OSError as error:  # BrokenPipeError: it died
                raise WorkerStopped("pipe closed") from error
            view = view[written:]

    async def _read(self, count: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < count:
            try:
                chunk = os.read(self._answers, min(count - len(buffer), 2**20))
            except BlockingIOError:
                await _ready(self._answers, write=False)
                continue
            if not chunk:
                raise WorkerStopped("pipe closed")
            buffer += chunk
        return bytes(buffer)

    def kill(self) -> None:
        self.process.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class RenderPool:
    """Up to ``limits.workers`` worker processes; ``render`` hands a job to an idle one (or
    waits for one) and enforces the deadline. Also a service resource: ``close`` stops them."""

    def __init__(self, limits: RenderLimits | None = None, clock: Clock | None = None) -> None:
        self.limits = limits or RenderLimits()
        self._clock = clock or SystemClock()
        self._overran: OrderedDict[tuple[TemplatePart, ...], tuple[datetime, str]] = OrderedDict()
        self.started = 0
        """Workers started so far (replacements included)."""
        self._workers: set[_Worker] = set()
        self._idle: list[_Worker] = []
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._killed: list[subprocess.Popen[bytes]] = []
        self._starting = 0
        self._closed = False

    @property
    def pids(self) -> frozenset[int]:
        """Process ids of the workers started and not stopped."""
        return frozenset(worker.pid for worker in self._workers)

    @property
    def busy(self) -> int:
        """Workers rendering now."""
        return len(self._workers) - len(self._idle)

    async def start(self) -> None:
        """Nothing to do: workers start when the first operator's template is rendered."""

    async def close(self) -> None:
        self._closed = True
        for worker in list(self._workers):
            self._discard(worker)
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)  # to find the pool closed
        for process in self._killed:
            process.wait()  # killed already: only the kernel's clean-up remains
        self._killed.clear()

    async def render(self, job: RenderJob, *, timeout_s: float) -> Renders:
        """Renders ``job`` in a worker within ``timeout_s``; raises ``TemplateProblem`` for
        what the sandbox refuses and ``TemplateOverrun`` for a render that took too long or
        used too much memory (its worker is then replaced), or that did recently."""
        quarantined = self._quarantined(job.parts)
        if quarantined is not None:
            raise TemplateOverrun(quarantined)
        payload = pickle.dumps(job)
        worker = await self._acquire()
        healthy = False
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    answer = await worker.exchange(payload)
            except (TimeoutError, WorkerStopped) as error:
                if self._closed:  # killed by close(), not by the template
                    raise RuntimeError("the render pool was closed during the render") from None
                what = (
                    f"took too long to render (more than {timeout_s:g} s)"
                    if isinstance(error, TimeoutError)
                    else "used too much memory (its render worker stopped)"
                )
                raise self._overrun(job, f"{job.name}: {what}") from None
            if "renders" in answer:
                healthy = True
                renders: Renders = answer["renders"]
                return renders
            problem = str(answer.get("problem", f"{job.name}: the render failed"))
            healthy = not answer.get("retire", True)
            if answer.get("overrun"):
                raise self._overrun(job, problem)
            raise TemplateProblem(problem)
        finally:
            # Cancelled, timed out or broken: its state is unknown, so it does not return.
            self._release(worker, healthy)

    # -- quarantine -----------------------------------------------------------------------

    def _overrun(self, job: RenderJob, problem: str) -> TemplateOverrun:
        if self.limits.overrun_quarantine_s > 0:
            until = self._clock.now() + timedelta(seconds=self.limits.overrun_quarantine_s)
            self._overran[job.parts] = (until, problem)
            self._overran.move_to_end(job.parts)
            while len(self._overran) > QUARANTINE_SIZE:
                self._overran.popitem(last=False)
        return TemplateOverrun(problem)

    def _quarantined(self, parts: tuple[TemplatePart, ...]) -> str | None:
        """The problem ``parts`` overran with, while its quarantine lasts."""
        entry = self._overran.get(parts)
        if entry is None:
            return None
        until, problem = entry
        if self._clock.now() >= until:
            del self._overran[parts]
            return None
        return problem

    # -- workers --------------------------------------------------------------------------

    async def _acquire(self) -> _Worker:
        while True:
            if self._closed:
                raise RuntimeError("the render pool is closed")
            self._reap()
            if self._idle:
                return self._idle.pop()
            if len(self._workers) + self._starting < self.limits.workers:
                return await self._spawn()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # the turn it was given passes on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _spawn(self) -> _Worker:
        self._starting += 1
        self.started += 1
        worker = _Worker(_start_process())
        setup = WorkerSetup(self.limits.sandbox, self.limits.worker_memory_mb)
        try:
            async with asyncio.timeout(WORKER_START_TIMEOUT_S):
                answer = await worker.exchange(pickle.dumps(setup))
            if answer != {"ready": True}:
                raise WorkerStopped("no ready answer")
        except BaseException as error:
            worker.kill()
            self._killed.append(worker.process)
            self._starting -= 1
            self._wake_one()  # its place is free again
            if isinstance(error, TimeoutError | WorkerStopped):
                raise RuntimeError("a template render worker did not start") from error
            raise
        self._starting -= 1
        self._workers.add(worker)
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and not self._closed:
            self._idle.append(worker)
        else:
            self._discard(worker)
        self._wake_one()

    def _discard(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
            worker.kill()
            self._killed.append(worker.process)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _reap(self) -> None:
        self._killed = [process for process in self._killed if process.poll() is None]
