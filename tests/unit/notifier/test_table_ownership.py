"""The ``deliveries`` and ``contacts`` tables (and the consent trail, ``consent_records``) are
touched by their repositories only: ``adapters/deliveries/`` and ``adapters/contacts.py``.

A statement written anywhere else would bypass what the repositories promise: the rank guard on
provider statuses, the lease token on outcomes, and the consent trail behind every consent
change. The check reads the source (AST), so it needs no database: any import of those Table
objects from ``adapters.tables`` outside the owners fails it, however it is spelled (``from ...
import deliveries as d``, ``tables.contacts``, ``metadata.tables["contacts"]``, raw ``text()``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

NOTIFIER = Path(__file__).resolve().parents[3] / "services" / "notifier"
TABLES_MODULE = "services.notifier.adapters.tables"
OWNED = frozenset({"deliveries", "contacts", "consent_records", "ritual_choices"})
# Where the owned tables may be named: their definition, the migrations (which must describe the
# schema as it was at each revision, not go through today's code) and the two repositories.
ALLOWED = (
    "adapters/tables.py",
    "migrations/",
    "adapters/deliveries/",
    "adapters/contacts.py",
)
_RAW_SQL = re.compile(
    r"\b(from|into|update|join|table)\s+\"?(" + "|".join(sorted(OWNED)) + r")\b", re.IGNORECASE
)


def offences(source: str) -> list[str]:
    """Every place in ``source`` that reaches an owned table; empty if none."""
    tree = ast.parse(source)
    module_aliases: set[str] = set()  # names bound to the tables module itself
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == TABLES_MODULE:
            for alias in node.names:
                if alias.name in OWNED or alias.name == "*":
                    found.append(f"line {node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module == "services.notifier.adapters":
            module_aliases.update(a.asname or a.name for a in node.names if a.name == "tables")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == TABLES_MODULE:
                    # "import a.b.tables" binds "a"; "import ... as t" binds "t".
                    module_aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in OWNED:
            if ast.unparse(node.value) in module_aliases or ast.unparse(node.value).endswith(
                TABLES_MODULE
            ):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and node.slice.value in OWNED
            and ast.unparse(node.value).endswith("tables")
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).split(".")[-1] == "text"
            and any(
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and _RAW_SQL.search(arg.value)
                for arg in node.args
            )
        ):
            found.append(f"line {node.lineno}: raw SQL on an owned table")
    return found


def _modules() -> list[Path]:
    return sorted(NOTIFIER.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(NOTIFIER).as_posix()


def test_only_the_repositories_touch_deliveries_contacts_and_the_consent_trail() -> None:
    trespass = {
        _relative(path): found
        for path in _modules()
        if not _relative(path).startswith(ALLOWED)
        and (found := offences(path.read_text(encoding="utf-8")))
    }
    assert trespass == {}, (
        "only adapters/deliveries/ and adapters/contacts.py may use these tables; "
        f"add a method to the repository instead: {trespass}"
    )


def test_the_check_sees_the_repositories_themselves() -> None:
    """Against a check that silently finds nothing (a moved module, a renamed constant)."""
    owners = {
        _relative(path)
        for path in _modules()
        if _relative(path).startswith(("adapters/deliveries/", "adapters/contacts.py"))
        and offences(path.read_text(encoding="utf-8"))
    }
    assert "adapters/contacts.py" in owners
    assert any(owner.startswith("adapters/deliveries/") for owner in owners)


def test_every_spelling_is_caught() -> None:
    spellings = {
        "from services.notifier.adapters.tables import deliveries": 1,
        "from services.notifier.adapters.tables import contacts as c": 1,
        "from services.notifier.adapters.tables import *": 1,
        "from services.notifier.adapters import tables\ntables.consent_records.insert()": 1,
        "from services.notifier.adapters import tables as t\nt.deliveries": 1,
        "import services.notifier.adapters.tables\nservices.notifier.adapters.tables.contacts": 1,
        "import services.notifier.adapters.tables as t\nt.contacts": 1,
        "metadata.tables['deliveries']": 1,
        "text('UPDATE contacts SET locale = :l')": 1,
        "text('select 1 from \"deliveries\"')": 1,
        # Not the tables: a field, a keyword argument, other tables, prose.
        "policy.deliveries\nf(deliveries=1)": 0,
        "from services.notifier.adapters.tables import answers, outbox": 0,
        "'''Erase their deliveries and contacts.'''": 0,
    }
    for source, expected in spellings.items():
        assert len(offences(source)) == expected, source
