"""Who may do what: strangers and deactivated people get only the refusal."""

import pytest

from bot.common.i18n import catalog
from bot.people.service import Role
from bot.tg import callbacks as cb
from tests.conftest import Harness

REFUSAL_RU = catalog("ru")("common.refusal", company="Вектор Склад")
REFUSAL_EN = catalog("en")("common.refusal", company="Вектор Склад")

COMMANDS = [
    "/start", "/help", "/cancel", "/invite", "/team", "/new Ромашка", "/deals", "/move a b",
    "/nonsense", "/start garbage", "/funnel",
]  # fmt: skip
TEXTS = ["Ромашка → переговоры", "привет", "😀😀", "x" * 4096]


@pytest.mark.parametrize("text", COMMANDS + TEXTS)
async def test_a_stranger_gets_only_the_refusal(harness: Harness, text: str) -> None:
    stranger = harness.stranger()
    replies = await stranger.send(text)
    if text == "/start garbage":  # an invite attempt gets the invite's own answer
        assert [r.text for r in replies] == [catalog("ru")("invite.malformed")]
        return
    assert [r.text for r in replies] == [REFUSAL_RU]


async def test_an_english_stranger_is_refused_in_english(harness: Harness) -> None:
    replies = await harness.stranger("en-US").send("/help")
    assert [r.text for r in replies] == [REFUSAL_EN]


async def test_a_stranger_without_a_language_is_refused_in_russian(harness: Harness) -> None:
    replies = await harness.stranger(None).send("hello")
    assert [r.text for r in replies] == [REFUSAL_RU]


@pytest.mark.parametrize("prefix", cb.ALL_PREFIXES)
async def test_a_strangers_button_press_reveals_nothing(harness: Harness, prefix: str) -> None:
    admin, admin_chat = await harness.person(Role.ADMIN)
    await admin_chat.send("/team")
    message = admin_chat.last_reply()
    stranger = harness.stranger()
    before = len(harness.request.calls)
    await stranger.press(message, cb.pack(prefix, admin.id, "admin"))
    calls = harness.request.calls[before:]
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    assert calls[0].params["text"] == REFUSAL_RU[:200]


async def test_a_strangers_inline_query_gets_no_results(harness: Harness) -> None:
    answers = await harness.stranger().inline("дорого")
    assert len(answers) == 1 and answers[0].params["results"] == []


async def test_a_deactivated_person_is_refused_like_a_stranger(harness: Harness) -> None:
    admin, _ = await harness.person(Role.ADMIN)
    manager, chat = await harness.person(Role.MANAGER)
    await harness.core.people.set_active(admin, manager.id, False)
    for text in ("/start", "/help", "привет"):
        assert [r.text for r in await chat.send(text)] == [REFUSAL_RU]


async def test_group_messages_are_ignored(harness: Harness) -> None:
    _, chat = await harness.person(Role.MANAGER)
    before = len(harness.request.calls)
    payload = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": -100, "type": "group", "title": "G"},
        "from": chat.user,
        "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
    }
    await chat.feed({"message": payload})
    assert harness.request.calls[before:] == []


# The access matrix: each command as each role, and the message key expected first.
MATRIX = {
    "/invite": {
        Role.MANAGER: "invite.forbidden",
        Role.LEAD: "invite.link",
        Role.ADMIN: "invite.choose_role",
    },
    "/team": {Role.MANAGER: "team.forbidden", Role.LEAD: "team.header", Role.ADMIN: "team.header"},
    "/help": {Role.MANAGER: "help.intro", Role.LEAD: "help.intro", Role.ADMIN: "help.intro"},
    "/start": {Role.MANAGER: "start.hello", Role.LEAD: "start.hello", Role.ADMIN: "start.hello"},
    "/cancel": dict.fromkeys(Role, "common.nothing_to_cancel"),
    "/deals": dict.fromkeys(Role, "deal.list_empty"),
    "/new Ромашка": dict.fromkeys(Role, "deal.created"),
    "/move ромашка договор": dict.fromkeys(Role, "deal.no_match"),
    "/nonsense": dict.fromkeys(Role, "common.unknown_command"),
    "/funnel": dict.fromkeys(Role, "funnel.header"),
}


def _prefix_of(key: str, **params: object) -> str:
    """The text of a message up to its first variable part."""
    marker = "\x00"
    names = ("name", "role", "team", "command", "count", "link", "expires", "company", "active",
             "title", "amount", "stage", "funnel")  # fmt: skip
    sample = dict.fromkeys(names, marker)
    sample.update(params)  # type: ignore[arg-type]
    text = catalog("ru")(key, **{**sample, "count": 1})
    return text.split(marker)[0]


@pytest.mark.parametrize("command", list(MATRIX))
@pytest.mark.parametrize("role", list(Role))
async def test_access_matrix_for_commands(harness: Harness, command: str, role: Role) -> None:
    _, chat = await harness.person(role, team="Урал")
    replies = await chat.send(command)
    assert replies, f"{command} as {role} got no answer"
    assert replies[0].text.startswith(_prefix_of(MATRIX[command][role]))


@pytest.mark.parametrize(
    ("prefix", "role", "expected"),
    [
        (cb.TEAM_PERSON, Role.MANAGER, "team.forbidden"),
        (cb.TEAM_PERSON, Role.LEAD, "team.card"),
        (cb.TEAM_PERSON, Role.ADMIN, "team.card"),
        (cb.TEAM_SET_ROLE, Role.MANAGER, "team.admin_only"),
        (cb.TEAM_SET_ROLE, Role.LEAD, "team.admin_only"),
        (cb.TEAM_SET_ROLE, Role.ADMIN, "team.role_changed"),
        (cb.TEAM_SET_TEAM, Role.LEAD, "team.admin_only"),
        (cb.TEAM_DEACTIVATE, Role.MANAGER, "team.admin_only"),
        (cb.TEAM_DEACTIVATE, Role.LEAD, "team.admin_only"),
        (cb.TEAM_DEACTIVATE, Role.ADMIN, "team.deactivated"),
        (cb.TEAM_REACTIVATE, Role.LEAD, "team.admin_only"),
        (cb.TEAM_LIST, Role.MANAGER, "team.forbidden"),
        (cb.TEAM_LIST, Role.LEAD, "team.header"),
        (cb.INVITE_ROLE, Role.ADMIN, "common.expired_button"),  # no such role
        (cb.INVITE_TEAM, Role.ADMIN, "common.expired_button"),
        (cb.INVITE_ROLE, Role.LEAD, "team.admin_only"),  # a real role, pressed by a lead
        (cb.INVITE_TEAM, Role.MANAGER, "team.admin_only"),
    ],
)
async def test_access_matrix_for_buttons(
    harness: Harness, prefix: str, role: Role, expected: str
) -> None:
    _, chat = await harness.person(role, team="Урал")
    target, _ = await harness.person(Role.MANAGER, team="Урал", name="Цель")
    extra = {cb.TEAM_SET_ROLE: "lead", cb.TEAM_SET_TEAM: "1", cb.TEAM_DEACTIVATE: "yes"}
    args: list[object] = [] if prefix == cb.TEAM_LIST else [target.id]
    if prefix in (cb.INVITE_ROLE, cb.INVITE_TEAM) and role is not Role.ADMIN:
        args = ["manager", "new"]
    if prefix in extra:
        args.append(extra[prefix])
    await chat.send("/help")
    replies = await chat.press(chat.last_reply(), cb.pack(prefix, *args))
    assert replies, f"{prefix} as {role} got no answer"
    if expected == "team.header":
        assert replies[-1].text.startswith("<b>Урал</b> — 2 человека"), replies[-1].text
        return
    assert replies[-1].text.startswith(_prefix_of(expected, name="Цель")), replies[-1].text
