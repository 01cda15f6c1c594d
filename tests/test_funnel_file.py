"""The funnel file: the shipped one loads, and every problem of a bad one is named."""

from pathlib import Path

import pytest

from bot.common.errors import InvalidFile
from bot.config import PACKAGE_DEFAULTS
from bot.deals.funnel import load_funnels, parse_funnels


def test_the_shipped_funnel_follows_the_article() -> None:
    config = load_funnels(PACKAGE_DEFAULTS / "funnel.yaml")
    funnel = config.default
    assert next(s.key for s in funnel.stages) == "lead"
    assert funnel.won_stage.key == "paid" and funnel.lost_stage.key == "lost"
    assert funnel.next_stage("contract").key == "paid"  # type: ignore[union-attr]
    assert funnel.is_forward("offer", "paid") and not funnel.is_forward("offer", "lost")
    assert {r.key for r in config.lost_reasons} >= {"price", "competitor", "no_budget"}


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ("probability: 45", "funnel 'b2b', stage 'offer', field 'probability'"),
        ("key: offer", "stage 'offer', field 'key': used twice"),
    ],
)
def test_an_invalid_funnel_names_funnel_stage_and_field(
    tmp_path: Path, mutation: str, message: str
) -> None:
    text = (PACKAGE_DEFAULTS / "funnel.yaml").read_text(encoding="utf-8")
    if mutation.startswith("probability"):
        text = text.replace("probability: 45", "probability: 450")
    else:
        text = text.replace("key: negotiation", "key: offer")
    path = tmp_path / "funnel.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidFile) as error:
        load_funnels(path)
    assert message in str(error.value)


def test_a_funnel_without_a_won_stage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "funnel.yaml"
    path.write_text(
        "funnels:\n  - key: x\n    name: X\n    stages:\n      - {key: a, name: A}\n"
        "      - {key: b, name: B, lost: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidFile, match="mark one stage 'won: true'"):
        load_funnels(path)


def problems(data: object) -> list[str]:
    with pytest.raises(InvalidFile) as error:
        parse_funnels(data)
    return [str(problem) for problem in error.value.problems]


def test_every_problem_of_a_funnel_is_named_at_once() -> None:
    data = {
        "funnels": [
            {
                "key": "x",
                "name": {"en": "no Russian name"},
                "stages": [
                    {"key": "a", "name": "A", "probability": 450, "aliases": "a word"},
                    {"key": "B", "name": "B", "won": True, "lost": True},
                ],
            }
        ],
        "lost_reasons": [{"key": "price"}, "cheaper"],
    }
    assert problems(data) == [
        "funnel 'x', field 'name': give {ru: ..., en: ...} or a string",
        "funnel 'x', stage 'a', field 'aliases': a list of words",
        "funnel 'x', stage 'a', field 'probability': a whole number from 0 to 100",
        "funnel 'x', stage #2, field 'key': lowercase latin letters, digits, '_' or '-'",
        "funnel 'x', stage #2, field 'lost': a stage cannot be both won and lost",
        "lost reason 'price', field 'name': give {ru: ..., en: ...} or a string",
        "lost reason #2: expected a mapping",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level: expected 'funnels:' with a list of funnels"),
        ({"funnels": "b2b"}, "top level, field 'funnels': expected a list of funnels"),
        ({"funnels": []}, "top level, field 'funnels': define at least one funnel"),
        (
            {"funnels": [{"key": "x", "name": "X"}]},
            "funnel 'x', field 'stages': a list of at least",
        ),
        ({"funnels": [{"key": "x", "name": "X", "stages": [{}]}]}, "funnel 'x', field 'stages'"),
    ],
)
def test_a_funnel_file_of_the_wrong_shape_says_what_is_expected(data: object, message: str) -> None:
    assert any(text.startswith(message) for text in problems(data)), problems(data)


def test_funnels_sharing_a_key_or_a_default_are_refused() -> None:
    funnel = {
        "key": "x",
        "name": "X",
        "default": True,
        "stages": [{"key": "a", "name": "A"}, {"key": "w", "name": "W", "won": True},
                   {"key": "l", "name": "L", "lost": True}],
    }  # fmt: skip
    assert problems({"funnels": [funnel, funnel]}) == [
        "funnel 'x', field 'key': two funnels share a key",
        "funnel 'x', field 'default': only one funnel can be the default",
    ]


def test_a_funnel_file_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "funnel.yaml"
    path.write_text("funnels: [", encoding="utf-8")
    with pytest.raises(InvalidFile, match="invalid YAML") as error:
        load_funnels(path)
    assert str(error.value).startswith(f"{path}: ")
    with pytest.raises(InvalidFile, match="cannot read"):
        load_funnels(tmp_path / "missing.yaml")
