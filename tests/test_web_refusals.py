"""The webhook route refuses what is not Telegram's, and counts each refusal by reason."""

from __future__ import annotations

from typing import Any, cast

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import exposition
from bot.web.app import SECRET_HEADER, Webhook, build_app
from bot.web.health import Health


def refused() -> dict[str, float]:
    body, _ = exposition()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "voronka_webhook_refused_total"
    }


async def test_posts_without_the_secret_or_an_update_are_refused_and_counted() -> None:
    delivered: list[dict[str, Any]] = []

    async def deliver(data: dict[str, Any]) -> None:
        delivered.append(data)

    webhook = Webhook("/tg/hook", "s3cret", deliver)
    app = build_app(cast(Health, None), webhook)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        await check(client, delivered)


async def check(client: httpx.AsyncClient, delivered: list[dict[str, Any]]) -> None:
    before = refused()
    update = {"update_id": 1}
    assert (await client.post("/tg/hook", json=update)).status_code == 403
    assert (
        await client.post("/tg/hook", json=update, headers={SECRET_HEADER: "wrong"})
    ).status_code == 403
    good = {SECRET_HEADER: "s3cret"}
    assert (await client.post("/tg/hook", content=b"not json", headers=good)).status_code == 400
    assert (await client.post("/tg/hook", content=b"[1, 2]", headers=good)).status_code == 400
    assert delivered == []
    assert (await client.post("/tg/hook", json=update, headers=good)).status_code == 200
    assert delivered == [update]
    after = refused()
    assert after.get("secret", 0) - before.get("secret", 0) == 2
    assert after.get("body", 0) - before.get("body", 0) == 2
