"""GET /metrics: Prometheus text with the figures of the moment and the hot paths' latencies, for a
scraper on this host or one holding the token, and nobody else."""

from __future__ import annotations

import logging
from unittest.mock import Mock

from aiohttp.test_utils import make_mocked_request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from hotline.app import create_app
from hotline.web.keys import ACD
from hotline.web.metrics import _allowed


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return samples(await response.text())


async def test_a_scrape_from_this_host_shows_queues_agents_calls_and_the_backlog(aiohttp_client, demo_db,
                                                                                  settings) -> None:
    app = create_app(settings, demo_db)
    client = await aiohttp_client(app)
    first = next(a.agent_id for a in app[ACD].snapshot().agents)
    await app[ACD].login(first)

    figures = await scrape(client)

    assert figures[("hotline_agents", (("state", "available"),))] == 1
    assert figures[("hotline_agents", (("state", "logged_out"),))] == len(app[ACD].snapshot().agents) - 1
    queues = {q.name for q in app[ACD].snapshot().queues}
    assert {labels[0][1] for (name, labels) in figures if name == "hotline_queue_callers_waiting"} == queues
    assert figures[("hotline_calls_in_progress", (("transport", "twilio"),))] == 0
    assert figures[("hotline_ivr_sessions", ())] == 0
    assert figures[("hotline_recording_ingest_jobs", (("status", "queued"),))] == 0


async def test_error_lines_are_counted_by_their_logger(client) -> None:
    before = (await scrape(client)).get(("hotline_errors_total", (("logger", "hotline.test"),)), 0.0)

    logging.getLogger("hotline.test").error("something broke")
    logging.getLogger("hotline.test").warning("not an error")

    assert (await scrape(client))[("hotline_errors_total", (("logger", "hotline.test"),))] == before + 1


async def test_with_a_token_only_the_bearer_of_it_is_answered(aiohttp_client, demo_db, settings) -> None:
    guarded = settings.model_copy(update={"security": settings.security.model_copy(
        update={"metrics_token": SecretStr("s3cret-scrape-token")})})
    client = await aiohttp_client(create_app(guarded, demo_db))

    assert (await client.get("/metrics")).status == 403
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 403
    assert ("hotline_ivr_sessions", ()) in await scrape(client, Authorization="Bearer s3cret-scrape-token")


def test_without_a_token_a_scrape_from_another_host_is_refused(settings) -> None:
    app = create_app(settings)

    def from_address(address: str):
        transport = Mock()
        transport.get_extra_info.return_value = (address, 40000)
        return make_mocked_request("GET", "/metrics", app=app, transport=transport)

    assert _allowed(from_address("127.0.0.1")) and _allowed(from_address("::1"))
    assert not _allowed(from_address("10.1.2.3"))
