"""Catalog: YAML and CSV loading, every problem named by item and field, forgiving search."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.common.errors import InvalidFile
from bot.offers.catalog import (
    Catalog,
    CatalogItem,
    check_catalog,
    load_catalog,
    normalize_search_text,
)

REPO_CATALOG = Path(__file__).resolve().parent.parent / "knowledge_base" / "catalog.yaml"


def problems_in(path: Path) -> list[str]:
    """The problems as `voronka content check` prints them (after the file's name)."""
    return [str(problem) for problem in check_catalog(path)]


YAML_CATALOG = """\
currency: RUB
items:
  - sku: VS-PR-2700
    name: Стеллаж паллетный фронтальный, секция 2700 мм, 3 уровня
    unit: секция
    price: "38900.00"
    vat_percent: 22
    max_discount_percent: 12
    description: Рамы и балки
  - sku: VS-PR-2700-4
    name: Стеллаж паллетный фронтальный, секция 2700 мм, 4 уровня
    unit: секция
    price: 52600
    vat_percent: 22
    max_discount_percent: 12
  - sku: VS-BM-1800
    name: Балка Z-образная 1800 мм
    unit: пара
    price: 2450.5
  - sku: VS-EQ-PT25
    name: Тележка гидравлическая 2500 кг
    price: "24 900,00"
    max_discount_percent: 7
  - sku: VS-WMS
    name: Ёмкостный учёт Вектор WMS, подписка
    unit: мес.
    price: "9900"
    vat_percent: 0
  - sku: 12345
    name: Монтаж стеллажей
    unit: усл.
    price: "45000"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return load_catalog(write(tmp_path, "catalog.yaml", YAML_CATALOG))


def test_yaml_catalog_loads_items_with_decimal_prices(catalog: Catalog) -> None:
    item = catalog.get("VS-PR-2700")
    assert item == CatalogItem(
        sku="VS-PR-2700",
        name="Стеллаж паллетный фронтальный, секция 2700 мм, 3 уровня",
        unit="секция",
        price=Decimal("38900.00"),
        currency="RUB",
        vat_percent=Decimal(22),
        max_discount_percent=Decimal(12),
        description="Рамы и балки",
    )
    assert len(catalog) == 6


def test_missing_fields_get_defaults(catalog: Catalog) -> None:
    trolley = catalog.get("VS-EQ-PT25")
    assert trolley is not None
    assert trolley.unit == "шт"
    assert trolley.price == Decimal("24900.00")
    assert trolley.vat_percent == Decimal(22)
    beam = catalog.get("VS-BM-1800")
    assert beam is not None
    assert beam.price == Decimal("2450.5")  # the YAML float read as written, not 2450.4999…
    assert beam.max_discount_percent == Decimal(100)  # no cap of its own


def test_numeric_sku_from_yaml_becomes_text(catalog: Catalog) -> None:
    item = catalog.get("12345")
    assert item is not None
    assert item.sku == "12345"


def test_get_ignores_case_and_spaces_and_returns_none_when_absent(catalog: Catalog) -> None:
    assert catalog.get(" vs-pr-2700 ") is catalog.get("VS-PR-2700")
    assert catalog.get("NOPE") is None
    assert "vs-bm-1800" in catalog


def test_search_exact_sku_ignoring_case_ranks_first(catalog: Catalog) -> None:
    assert catalog.search("vs-pr-2700")[0].sku == "VS-PR-2700"
    assert catalog.search("VS-PR-2700-4")[0].sku == "VS-PR-2700-4"


def test_search_forgives_typos_and_word_endings(catalog: Catalog) -> None:
    assert {item.sku for item in catalog.search("стелаж 2700")} >= {"VS-PR-2700", "VS-PR-2700-4"}
    assert catalog.search("тележки")[0].sku == "VS-EQ-PT25"
    assert catalog.search("БАЛКА")[0].sku == "VS-BM-1800"


def test_search_treats_yo_as_ye(catalog: Catalog) -> None:
    assert catalog.search("емкостный учет")[0].sku == "VS-WMS"
    assert catalog.search("ёмкостный")[0].sku == "VS-WMS"


def test_search_returns_nothing_for_unrelated_words(catalog: Catalog) -> None:
    assert catalog.search("болт") == []
    assert catalog.search("   ") == []


def test_search_respects_the_limit(catalog: Catalog) -> None:
    assert len(catalog.search("стеллаж", limit=1)) == 1
    assert catalog.search("стеллаж", limit=0) == []


def test_normalize_search_text_folds_case_yo_and_punctuation() -> None:
    assert normalize_search_text("Ёмкость, СТЕЛЛАЖ—2700!") == "емкость стеллаж 2700"


def test_csv_catalog_with_the_same_columns_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "catalog.csv",
        "sku,name,unit,price,currency,vat_percent,max_discount_percent,description\n"
        'VS-PR-2700,"Стеллаж паллетный, секция 2700 мм",секция,38900.00,RUB,22,12,Рамы\n'
        "VS-SRV,Монтаж,усл.,45000,,,,\n",
    )
    catalog = load_catalog(path)
    rack = catalog.get("VS-PR-2700")
    assert rack is not None
    assert rack.name == "Стеллаж паллетный, секция 2700 мм"
    assert rack.max_discount_percent == Decimal(12)
    service = catalog.get("VS-SRV")
    assert service is not None
    assert (service.currency, service.vat_percent) == ("RUB", Decimal(22))


def test_csv_from_russian_excel_with_semicolons_and_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(
        "sku;name;unit;price;currency;vat_percent;max_discount_percent;description\r\n"
        "VS-1;Стеллаж;шт;1 200,50;RUB;22;10;\r\n".encode("utf-8-sig")
    )
    item = load_catalog(path).get("VS-1")
    assert item is not None
    assert item.price == Decimal("1200.50")


def test_check_catalog_is_empty_for_a_good_catalog(tmp_path: Path) -> None:
    assert check_catalog(write(tmp_path, "catalog.yaml", YAML_CATALOG)) == []


BAD_YAML = """\
items:
  - sku: A-1
    name: Стеллаж
    price: "100"
  - sku: a-1
    name: Дубль
    price: "100"
  - sku: A-3
    price: "100"
  - sku: A-4
    name: Отрицательная цена
    price: "-5"
  - sku: A-5
    name: Не число
    price: "сто"
  - sku: A-6
    name: Скидка
    price: "1"
    max_discount_percent: 120
  - sku: A-7
    name: НДС
    price: "1"
    vat_percent: -1
  - sku: A-8
    name: Без цены
  - name: Без артикула
    price: "1"
  - sku: A-10
    name: Булево
    price: true
"""


@pytest.mark.parametrize(
    ("where", "what"),
    [
        ("items[1].sku", "duplicate SKU 'a-1' (first at items[0])"),
        ("items[2].name", "missing name"),
        ("items[3].price", "non-negative"),
        ("items[4].price", "non-negative number"),
        ("items[5].max_discount_percent", "0–100"),
        ("items[6].vat_percent", "0–100"),
        ("items[7].price", "missing price"),
        ("items[8].sku", "missing SKU"),
        ("items[9].price", "non-negative number"),
    ],
)
def test_check_catalog_names_item_index_and_field(tmp_path: Path, where: str, what: str) -> None:
    problems = problems_in(write(tmp_path, "catalog.yaml", BAD_YAML))
    matching = [problem for problem in problems if problem.startswith(f"{where}:")]
    assert matching, problems
    assert what in matching[0]


def test_check_catalog_reports_every_problem_not_just_the_first(tmp_path: Path) -> None:
    assert len(problems_in(write(tmp_path, "catalog.yaml", BAD_YAML))) == 9


def test_load_catalog_raises_with_all_problems(tmp_path: Path) -> None:
    with pytest.raises(InvalidFile) as caught:
        load_catalog(write(tmp_path, "catalog.yaml", BAD_YAML))
    assert len(caught.value.problems) == 9


def test_csv_problems_name_the_file_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "catalog.csv",
        "sku,name,unit,price\nA-1,Стеллаж,шт,100\nA-2,Балка,шт,abc\n",
    )
    problems = problems_in(path)
    assert len(problems) == 1
    assert problems[0].startswith("items[1] (line 3).price:")


def test_csv_without_required_columns_is_reported(tmp_path: Path) -> None:
    problems = problems_in(write(tmp_path, "catalog.csv", "code,title\nA,B\n"))
    assert problems and problems[0].startswith("header: missing column(s) sku, name, price")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("catalog.yaml", "items: [", "invalid YAML"),
        ("catalog.yaml", "- just a list", "mapping"),
        ("catalog.yaml", "items: []", "no items"),
        ("catalog.yaml", "currency: rubles\nitems:\n  - {sku: A, name: B, price: 1}", "currency"),
        ("catalog.json", "{}", "unsupported"),
    ],
)
def test_check_catalog_reports_unusable_files(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    problems = problems_in(write(tmp_path, name, text))
    assert any(problem in entry for entry in problems), problems


def test_check_catalog_reports_a_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in problems_in(tmp_path / "absent.yaml")[0]


@pytest.mark.skipif(not REPO_CATALOG.exists(), reason="the shipped catalog is not there yet")
def test_shipped_catalog_is_valid() -> None:
    assert check_catalog(REPO_CATALOG) == []
    assert len(load_catalog(REPO_CATALOG)) > 0
