"""The ACD's own fixtures (a real ACD on the test database, a manual clock) for reports on its event log."""

from __future__ import annotations

from tests.acd.conftest import acd, acd_config, bridge, clock  # noqa: F401 - fixtures, used by name
