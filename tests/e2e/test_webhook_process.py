"""`voronka run` in webhook mode against the stand-in (issue 14, items 1 and 2): Telegram is
told the URL, the secret and the update types; updates posted with the secret are answered;
posts without it are refused and change nothing; the health routes tell the truth."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from typing import Any
from urllib.error import HTTPError
from urllib.request import ProxyHandler, build_opener

import pytest

from bot.common.i18n import catalog
from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import BotProcess, voronka_executable
from tests.e2e.test_bot_process import say
from tests.e2e.test_database_outage_process import PrivateServer
from tests.e2e.test_database_outage_process import server as server  # the fixture

pytestmark = pytest.mark.e2e

SECRET = "s3cret-Token_for-the-e2e"
ANNA, OLEG = 7401, 7402
ru, en = catalog("ru"), catalog("en")
DIRECT = build_opener(ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with DIRECT.open(url, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except HTTPError as error:
        return int(error.code), error.read().decode()


class WebhookBot:
    def __init__(self, process: BotProcess) -> None:
        self.process = process
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/telegram/hook"
        process.env.update(
            VORONKA_WEBHOOK_URL=self.url,
            VORONKA_WEBHOOK_SECRET=SECRET,
            VORONKA_HTTP_PORT=str(self.port),
        )

    def start(self) -> None:
        bot, standin = self.process, self.process.standin
        bot.log_path.parent.mkdir(parents=True, exist_ok=True)
        bot.process = subprocess.Popen(
            [voronka_executable(), "run"],
            env=bot.env,
            stdout=bot.log_path.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        standin.wait_until(
            lambda: standin.calls_to("setWebhook") or None, timeout=60, what="setWebhook"
        )
        deadline = time.monotonic() + 60
        while self.healthz() != 200:
            assert bot.process.poll() is None, bot.log_path.read_text()
            assert time.monotonic() < deadline, "the HTTP server did not come up"
            time.sleep(0.05)

    def healthz(self) -> int:
        try:
            return get(f"{self.base}/healthz")[0]
        except OSError:
            return 0

    def readyz(self) -> tuple[int, dict[str, Any]]:
        status, body = get(f"{self.base}/readyz")
        return status, json.loads(body)


@pytest.fixture
def webhook(bot_process: BotProcess) -> WebhookBot:
    return WebhookBot(bot_process)


def test_telegram_is_told_the_webhook_and_people_are_answered(
    standin: BotApiStandin, bot_process: BotProcess, webhook: WebhookBot
) -> None:
    invite = bot_process.invite("manager", team="Урал")
    webhook.start()
    (registered,) = standin.calls_to("setWebhook")
    assert registered["url"] == webhook.url
    assert registered["secret_token"] == SECRET
    assert set(registered["allowed_updates"]) >= {"message", "callback_query", "inline_query"}
    assert not registered.get("drop_pending_updates")
    assert not standin.calls_to("getUpdates")  # no polling beside the webhook

    welcome = say(standin, ANNA, f"/start {invite['token']}", replies=2)
    assert welcome.startswith("Добро пожаловать, U7401!")
    card = say(standin, ANNA, "/new Фиалка, 100 000", replies=1)
    assert "Фиалка" in card
    assert all(status == 200 for _, status in standin.webhook_answers)

    assert webhook.healthz() == 200
    status, ready = webhook.readyz()
    assert status == 200 and ready["ready"] is True
    assert set(ready["checks"]) == {"database", "content", "telegram"}
    with DIRECT.open(f"{webhook.base}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")

    # SIGTERM (an orchestrator stopping it): the server stops, queued updates are handled,
    # the process exits on its own, and the webhook stays registered for the next one.
    assert bot_process.process is not None
    bot_process.process.send_signal(signal.SIGTERM)
    assert bot_process.process.wait(timeout=30) == 0
    assert not standin.calls_to("deleteWebhook")
    log = bot_process.log_path.read_text()
    assert f"webhook mode: Telegram posts to {webhook.url}" in log  # what an admin looks for
    assert "SIGTERM: stopping" in log and "stopped" in log


def test_a_worker_killed_with_an_update_still_waiting_gets_it_again_after_restart(
    standin: BotApiStandin, bot_process: BotProcess, webhook: WebhookBot
) -> None:
    """Anna's first message is handled but its reply hangs; her second waits behind it.
    kill -9 then: Telegram was told nothing about the second (the 200 comes once an update
    is handled), so it posts it again to the restarted worker, and it is applied once."""
    invite = bot_process.invite("manager", team="Урал")
    webhook.start()
    say(standin, ANNA, f"/start {invite['token']}", replies=2)
    calls = len(standin.calls_to("sendMessage"))
    held = standin.hold_next("sendMessage")
    standin.send_message(ANNA, "/new Фиалка", first_name="Anna")
    standin.wait_until(  # the first one is being answered, and hangs there
        lambda: len(standin.calls_to("sendMessage")) > calls or None, timeout=30, what="a reply"
    )
    # Her second one: Telegram posts it once the first post is answered. Answered at once,
    # as before, it would be in the bot's queue now, and lost with the process.
    standin.send_message(ANNA, "/new Ромашка", first_name="Anna")
    time.sleep(0.5)
    bot_process.kill_now()
    held.set()
    before = standin.sent_count(ANNA)

    webhook.start()
    standin.wait_for_reply(ANNA, after=before + 1, timeout=30)  # «created», then the card
    assert "Сделка создана: Ромашка" in str(standin.sent(ANNA)[before]["text"])
    deals = say(standin, ANNA, "/deals")
    assert deals.count("Ромашка") == 1 and deals.count("Фиалка") == 1  # none lost or doubled


def test_a_post_without_the_right_secret_is_refused_and_changes_nothing(
    standin: BotApiStandin, bot_process: BotProcess, webhook: WebhookBot
) -> None:
    invite = bot_process.invite("manager", team="Урал")
    webhook.start()
    standin.add_chat(OLEG, first_name="Oleg", language_code="en")
    forged = {
        "update_id": 555,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": OLEG, "type": "private", "first_name": "Oleg"},
            "from": {"id": OLEG, "is_bot": False, "first_name": "Oleg", "language_code": "en"},
            "text": f"/start {invite['token']}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    assert standin.post_webhook(forged, secret=None) == 403
    assert standin.post_webhook(forged, secret="not-" + SECRET) == 403
    assert standin.post_webhook(forged, secret=SECRET[:-1]) == 403
    assert standin.post_webhook(b"{not json", secret=SECRET) == 400
    assert standin.post_webhook(b'{"no": "update"}', secret=SECRET) == 400
    assert standin.post_webhook(b"[1, 2]", secret=SECRET) == 400

    # Nothing was handled: the invite is still unused, so Oleg's real /start registers him.
    welcome = say(standin, OLEG, f"/start {invite['token']}", language="en", replies=2)
    assert welcome.startswith("Welcome, U7402!")
    assert len(standin.sent(OLEG)) == 2  # the forged /start got no reply of its own
    log = bot_process.stop()
    assert "webhook request without a secret token refused" in log
    # a post with another secret is most likely Telegram's, registered by another worker:
    # the admin is told that at ERROR, once, with what to do
    assert log.count("webhook posts come with another secret token") == 1
    assert "Give every worker the same secret" in log
    assert SECRET not in log


@pytest.mark.postgres
def test_readyz_turns_503_while_postgresql_is_down(
    standin: BotApiStandin, bot_process: BotProcess, webhook: WebhookBot, server: PrivateServer
) -> None:
    bot_process.env["VORONKA_DATABASE_URL"] = server.url
    webhook.start()
    assert webhook.readyz()[0] == 200
    server.stop()
    status, ready = webhook.readyz()
    assert status == 503 and ready["ready"] is False
    assert ready["checks"]["database"]["ok"] is False
    assert ready["checks"]["content"]["ok"] is True
    assert webhook.healthz() == 200  # alive all the same: not a reason to restart it
    server.start()
    deadline = time.monotonic() + 30
    while webhook.readyz()[0] != 200:
        assert time.monotonic() < deadline, "not ready again after PostgreSQL came back"
        time.sleep(0.2)


def test_polling_mode_serves_health_on_its_own_port_without_a_webhook_route(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    port = free_port()
    bot_process.env["VORONKA_HTTP_PORT"] = str(port)
    bot_process.start()  # polls, as without the port
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            status, body = get(f"{base}/readyz")
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert status == 200 and json.loads(body)["checks"]["telegram"]["ok"] is True
    assert get(f"{base}/healthz")[0] == 200
    assert standin.post_webhook(b"{}", secret=SECRET, url=f"{base}/telegram/hook") in (404, 405)
    assert not standin.calls_to("setWebhook")


def one_line_failure(bot: BotProcess) -> str:
    done = subprocess.run(
        [voronka_executable(), "run"], env=bot.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_port_in_use_is_told_in_one_line_and_changes_nothing(
    standin: BotApiStandin, bot_process: BotProcess, webhook: WebhookBot
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", webhook.port))
        taken.listen(1)
        line = one_line_failure(bot_process)
    where = f"127.0.0.1:{webhook.port}"
    assert line.startswith(f"Cannot start: the HTTP port {where} is already in use")
    assert "VORONKA_HTTP_PORT" in line
    assert not standin.calls_to("setWebhook")
    assert not standin.calls  # refused before Telegram was even asked who the bot is


def test_webhook_without_a_secret_is_refused_at_start(
    standin: BotApiStandin, bot_process: BotProcess, webhook: WebhookBot
) -> None:
    bot_process.env.pop("VORONKA_WEBHOOK_SECRET")
    line = one_line_failure(bot_process)
    assert "VORONKA_WEBHOOK_SECRET is not" in line and "the same for every worker" in line
    assert not standin.calls  # not even getMe: nothing was tried
    bot_process.env["VORONKA_WEBHOOK_SECRET"] = "has spaces!"
    done = subprocess.run(
        [voronka_executable(), "run"], env=bot_process.env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "VORONKA_WEBHOOK_SECRET" in done.stderr
