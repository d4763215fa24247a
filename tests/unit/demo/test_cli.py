"""``rituals demo`` hands ``--serve`` to the demo (which the integration test runs)."""

from __future__ import annotations

import pytest

import services.demo.run
from services.cli import main


@pytest.mark.parametrize(("argv", "serve"), [(["demo"], False), (["demo", "--serve"], True)])
def test_demo_command_passes_serve(
    argv: list[str], serve: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []

    def fake_demo(serve: bool = False) -> int:
        calls.append(serve)
        return 7

    monkeypatch.setattr(services.demo.run, "main", fake_demo)
    assert main(argv) == 7
    assert calls == [serve]
