"""The seller's requisites.yaml: the shipped one loads, and every bad field is named."""

from pathlib import Path

import pytest

from bot.common.errors import InvalidFile
from bot.offers.requisites import DEFAULT_VALID_DAYS, load_requisites

SHIPPED = Path(__file__).resolve().parent.parent / "templates" / "offers" / "requisites.yaml"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "requisites.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidFile) as error:
        load_requisites(path)
    assert error.value.file == path
    return [str(problem) for problem in error.value.problems]


def test_the_shipped_requisites_load_with_their_numbers_as_text() -> None:
    requisites = load_requisites(SHIPPED)
    assert requisites.inn == "6671234567"
    assert requisites.bank.bik == "046577999"
    assert requisites.valid_days == 14


def test_a_number_yaml_guessed_is_read_as_text_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "requisites.yaml"
    path.write_text(
        "company: {name: ООО, inn: 6671234567, address: Москва, director: Иванов}\n"
        "bank: {name: Банк, account: 40702810900000012345, bik: 46577999, corr_account: 301}\n",
        encoding="utf-8",
    )
    requisites = load_requisites(path)
    assert requisites.inn == "6671234567"
    assert requisites.director_title == "Генеральный директор"
    assert requisites.valid_days == DEFAULT_VALID_DAYS


def test_every_bad_field_is_named(tmp_path: Path) -> None:
    text = (
        "company: {name: ООО, inn: '  ', address: Москва}\n"
        "bank: [no, mapping]\n"
        "defaults: {valid_days: 0}\n"
    )
    assert problems_of(tmp_path, text) == [
        "company.inn: required",
        "company.director: required",
        "bank: required section is missing",
        "defaults.valid_days: expected a positive whole number, got 0",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a list", "expected a mapping with company, bank and defaults"),
        ("", "expected a mapping with company, bank and defaults"),
        ("company: [", "invalid YAML"),
        ("company: {}\nbank: {}\ndefaults: yes\n", "defaults: expected a mapping"),
    ],
)
def test_a_file_of_the_wrong_shape_says_what_is_expected(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert any(entry.startswith(problem) for entry in problems_of(tmp_path, text))


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InvalidFile, match="cannot read"):
        load_requisites(tmp_path / "requisites.yaml")
