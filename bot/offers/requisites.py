"""The seller's requisites (``requisites.yaml`` beside the offer templates), as pydantic models.

The file is written by whoever sets the bot up, once, and printed on every offer: a
missing INN or bank account must stop the start with the field named (`company.inn:
required`), not surface as a blank on a client's document. The models read the file;
`Requisites` is what the documents print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError

from bot.common.errors import FileProblem, InvalidFile
from bot.common.formats import problems_of, why

__all__ = [
    "REQUISITES_FILE",
    "BankDetails",
    "Requisites",
    "RequisitesFile",
    "load_requisites",
]

REQUISITES_FILE = "requisites.yaml"
DIRECTOR_TITLE = "Генеральный директор"
DEFAULT_VALID_DAYS = 14


@dataclass(frozen=True, slots=True)
class BankDetails:
    name: str
    account: str
    bik: str
    corr_account: str


@dataclass(frozen=True, slots=True)
class Requisites:
    """The seller as printed on every offer, plus its default terms."""

    name: str
    inn: str
    kpp: str
    address: str
    bank: BankDetails
    director: str
    full_name: str = ""
    ogrn: str = ""
    phone: str = ""
    email: str = ""
    site: str = ""
    director_title: str = DIRECTOR_TITLE
    payment_terms: str = ""
    delivery_terms: str = ""
    valid_days: int = DEFAULT_VALID_DAYS


# --- the file ------------------------------------------------------------------------------

WORDS = {
    "": "expected a mapping with company, bank and defaults",
    "company": "required section is missing",
    "bank": "required section is missing",
    "defaults": "expected a mapping",
}


def _text(value: Any) -> str:
    """YAML reads an INN as a number; every field is text, and a blank one is absent."""
    if value is None or isinstance(value, bool) or not str(value).strip():
        return ""
    return str(value).strip()


def _required(value: Any) -> str:
    text = _text(value)
    if not text:
        raise why("required")
    return text


def _valid_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise why(f"expected a positive whole number, got {value!r}")
    return value


Text = Annotated[str, PlainValidator(_text)]
Required = Annotated[str, PlainValidator(_required)]
_Format = ConfigDict(frozen=True, extra="ignore")


def _required_field() -> Any:
    return Field("", validate_default=True)


class CompanySection(BaseModel):
    model_config = _Format

    name: Required = _required_field()
    full_name: Text = ""
    inn: Required = _required_field()
    kpp: Text = ""
    ogrn: Text = ""
    address: Required = _required_field()
    phone: Text = ""
    email: Text = ""
    site: Text = ""
    director: Required = _required_field()
    director_title: Text = ""


class BankSection(BaseModel):
    model_config = _Format

    name: Required = _required_field()
    account: Required = _required_field()
    bik: Required = _required_field()
    corr_account: Required = _required_field()


class DefaultsSection(BaseModel):
    model_config = _Format

    payment_terms: Text = ""
    delivery_terms: Text = ""
    valid_days: Annotated[int, PlainValidator(_valid_days)] = DEFAULT_VALID_DAYS


def _or_empty(value: Any) -> Any:
    return value or {}


class RequisitesFile(BaseModel):
    """``requisites.yaml``: the company, its bank and the default terms of its offers."""

    model_config = _Format

    company: CompanySection
    bank: BankSection
    defaults: Annotated[DefaultsSection, BeforeValidator(_or_empty)] = DefaultsSection()

    def requisites(self) -> Requisites:
        company, bank, defaults = self.company, self.bank, self.defaults
        return Requisites(
            name=company.name,
            full_name=company.full_name,
            inn=company.inn,
            kpp=company.kpp,
            ogrn=company.ogrn,
            address=company.address,
            phone=company.phone,
            email=company.email,
            site=company.site,
            director=company.director,
            director_title=company.director_title or DIRECTOR_TITLE,
            bank=BankDetails(bank.name, bank.account, bank.bik, bank.corr_account),
            payment_terms=defaults.payment_terms,
            delivery_terms=defaults.delivery_terms,
            valid_days=defaults.valid_days,
        )


def load_requisites(path: Path) -> Requisites:
    """Read the seller's ``requisites.yaml``; raise ``InvalidFile`` naming every bad field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        problem = FileProblem(f"cannot read: {error.strerror or error}")
        raise InvalidFile([problem], path) from error
    except yaml.YAMLError as error:
        raise InvalidFile([FileProblem(f"invalid YAML: {error}")], path) from error
    try:
        return RequisitesFile.model_validate(data).requisites()
    except ValidationError as error:
        raise InvalidFile(problems_of(error, words=WORDS), path) from None
