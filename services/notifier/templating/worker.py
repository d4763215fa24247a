"""A render worker: ``python -m services.notifier.templating.worker``, started by ``pool``.

It reads frames from stdin and answers each on stdout (a frame is an 8-byte big-endian
length, then that many bytes). The first frame is a pickled ``WorkerSetup``; the worker then
caps its own memory, answers ``{"ready": true}`` and renders one ``RenderJob`` (pickled) per
frame, answering ``{"renders": [[text, ...], ...]}`` or ``{"problem": "...", "overrun": bool,
"retire": bool}`` (an overrun is time or memory; a worker to retire is not used again).
Answers are JSON, so the parent never unpickles anything a template could have shaped. It
exits at end of input (the parent closed the pipe or died).

Only the parent sends pickles, and it is trusted; the templates are not, which is why they
run here: the parent kills a worker that overruns its deadline, and the memory cap turns an
allocation beyond it into a ``MemoryError`` here instead of swapping the host.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import struct
import sys
from dataclasses import dataclass
from typing import IO, Any

from services.notifier.templating.jobs import RenderJob, Sandboxes
from services.notifier.templating.problems import TemplateOverrun, TemplateProblem
from services.notifier.templating.sandbox import SandboxLimits

FRAME_HEADER = struct.Struct(">Q")
MODULE = "services.notifier.templating.worker"


@dataclass(frozen=True)
class WorkerSetup:
    limits: SandboxLimits
    memory_mb: int
    """Address space the worker may add to what it uses once started (RLIMIT_AS)."""


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload; None at end of input."""
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None
    (length,) = FRAME_HEADER.unpack(header)
    payload = stream.read(length)
    return payload if len(payload) == length else None


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(FRAME_HEADER.pack(len(payload)) + payload)
    stream.flush()


def address_space_in_use() -> int | None:
    """Bytes of address space this process maps now (Linux), or None where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def cap_memory(memory_mb: int) -> None:
    """Limit the address space to what is mapped now plus ``memory_mb``; the limit is hard,
    so nothing in this process can raise it again."""
    in_use = address_space_in_use()
    if in_use is None:
        sys.stderr.write("template worker: address space unknown here; memory is not capped\n")
        return
    limit = in_use + memory_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)  # a container's own cap stays the tighter one
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def answer(sandboxes: Sandboxes, frame: bytes) -> dict[str, Any]:
    job: RenderJob | None = None
    try:
        loaded = pickle.loads(frame)  # noqa: S301 - from the parent process, which is trusted
        if not isinstance(loaded, RenderJob):
            raise TypeError("expected a RenderJob")
        job = loaded
        return {"renders": sandboxes.run(job)}
    except TemplateOverrun as overrun:
        return {"problem": str(overrun), "overrun": True, "retire": True}
    except TemplateProblem as problem:
        return {"problem": str(problem), "overrun": False, "retire": False}
    except MemoryError:  # outside a render (reading the job, say): no part to name
        name = job.name if job is not None else "template"
        return {"problem": f"{name}: used too much memory", "overrun": True, "retire": True}
    except Exception as error:  # a bug here, whatever the template did: answer, then retire
        name = job.name if job is not None else "template"
        return {
            "problem": f"{name}: {type(error).__name__} while rendering",
            "overrun": False,
            "retire": True,
        }


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    setup_frame = read_frame(requests)
    if setup_frame is None:
        return
    setup = pickle.loads(setup_frame)  # noqa: S301 - from the parent process
    sandboxes = Sandboxes.with_limits(setup.limits)
    cap_memory(setup.memory_mb)
    write_frame(answers, b'{"ready": true}')
    while (frame := read_frame(requests)) is not None:
        write_frame(answers, json.dumps(answer(sandboxes, frame)).encode())


def main() -> None:
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries answers only: nothing else may print there
    serve(requests, answers)


if __name__ == "__main__":
    main()
