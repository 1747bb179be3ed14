"""The one rule of the architecture (docs/architecture.md): domain packages know nothing of
Asterisk, Twilio, HTTP or aiohttp, and take from `hotline` only the persistence base and settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("calls", "audit", "bank", "ivr", "acd", "recordings", "qa", "reports")
ALLOWED_FROM_HOTLINE = ("hotline.db", "hotline.settings")
WIRE_LIBRARIES = {"aiohttp", "aiohttp_jinja2", "jinja2", "twilio", "panoramisk", "multidict", "yarl"}


def imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    return modules


def breaks_the_rule(module: str) -> bool:
    top = module.split(".")[0]
    if top == "hotline":
        return not any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED_FROM_HOTLINE)
    return top in WIRE_LIBRARIES


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_import_only_the_persistence_base_and_settings_from_hotline(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offending = [f"{path.relative_to(ROOT)}: {module}" for path in files for module in imported_modules(path)
                 if breaks_the_rule(module)]
    assert offending == []


def test_the_rule_recognises_what_it_forbids():
    assert breaks_the_rule("hotline.telephony.twilio.bridge") and breaks_the_rule("hotline.web.keys")
    assert breaks_the_rule("aiohttp.web") and breaks_the_rule("panoramisk")
    assert not breaks_the_rule("hotline.db.base") and not breaks_the_rule("hotline.settings")
    assert breaks_the_rule("hotline.dbx")  # a prefix of a name is not the module


# Above the web layer: the app factory, the CLI and the bridges' own HTTP/setup modules.
WEB_USERS = ("hotline/web/", "hotline/telephony/", "hotline/app.py", "hotline/cli.py")


def test_nothing_below_the_web_layer_imports_it():
    files = [path for path in sorted((ROOT / "hotline").rglob("*.py"))
             if not str(path.relative_to(ROOT)).startswith(WEB_USERS)]
    assert any(path.name == "users.py" for path in files)
    offending = [f"{path.relative_to(ROOT)}: {module}" for path in files for module in imported_modules(path)
                 if module == "hotline.web" or module.startswith("hotline.web.")]
    assert offending == []


def test_the_persistence_base_imports_no_domain_package():
    files = sorted((ROOT / "hotline" / "db").rglob("*.py"))
    assert any(path.name == "base.py" for path in files)
    offending = [f"{path.relative_to(ROOT)}: {module}" for path in files for module in imported_modules(path)
                 if module.split(".")[0] in DOMAIN]
    assert offending == []


def test_the_persistence_base_declares_no_tables():
    declaring = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "hotline" / "db").rglob("*.py"))
                 if "__tablename__" in path.read_text(encoding="utf-8")]
    assert declaring == []


def test_the_call_record_tables_are_declared_in_the_call_record_package():
    from calls import models as call_models
    from hotline.schema import metadata

    declared = {cls.__tablename__ for cls in vars(call_models).values() if hasattr(cls, "__tablename__")}
    assert {"calls", "call_legs", "ivr_steps", "recordings"} <= declared <= set(metadata.tables)


CALL_RECORD_MODELS = {"Call", "CallLeg", "IvrStep", "Recording", "CallEvent"}
PRODUCTION = ("hotline", "audit", "bank", "ivr", "acd", "recordings", "qa", "reports")


def writes_of_the_call_record(path: Path) -> list[str]:
    """Rows of the call record built (`Call(...)`) or statements aimed at its tables (`update(CallLeg)`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id in CALL_RECORD_MODELS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}(...)")
        elif node.func.id in ("insert", "update", "delete") and node.args and isinstance(node.args[0], ast.Name) \
                and node.args[0].id in CALL_RECORD_MODELS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}({node.args[0].id})")
    return found


def test_only_the_call_record_writes_calls_legs_and_recordings():
    files = [path for package in PRODUCTION for path in sorted((ROOT / package).rglob("*.py"))]
    assert any(path.name == "bridge.py" for path in files)
    assert [w for path in files for w in writes_of_the_call_record(path)] == []
    assert writes_of_the_call_record(ROOT / "calls" / "record.py")  # the check sees writes where they are
