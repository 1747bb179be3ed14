"""What the ACD refuses reaches the browser as the status of its kind, with the JSON error body."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from acd.exceptions import AcdError, AgentLoggedOut, NoBridge, StateNotSettable, UnknownAgent
from hotline.web.middleware import error_middleware


async def _refused_with(exc: AcdError) -> web.StreamResponse:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise exc

    return await error_middleware(make_mocked_request("POST", "/api/desktop/state"), handler)


@pytest.mark.parametrize(("exc", "status", "code"), [
    (UnknownAgent(7), 404, "not_found"),
    (AgentLoggedOut(7), 409, "conflict"),
    (StateNotSettable("talking", ["available", "away"]), 422, "invalid"),
    (NoBridge(), 503, "unavailable"),
])
async def test_each_kind_of_acd_refusal_has_its_own_status(exc: AcdError, status: int, code: str) -> None:
    response = await _refused_with(exc)
    assert isinstance(response, web.Response)
    assert response.status == status
    assert response.text is not None and f'"code": "{code}"' in response.text and str(exc) in response.text
