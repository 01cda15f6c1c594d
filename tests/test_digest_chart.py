"""The digest chart: a real PNG, every stage named, compact amounts in both languages."""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from io import BytesIO

import pytest
from matplotlib.axes import Axes
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from bot.common.money import NBSP
from bot.reports.chart import (
    ChartData,
    ChartStage,
    build_figure,
    chart_labels,
    compact_amount,
    render_digest_chart,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RU_STAGES = (
    ("new", "Новый лид", 14, "2350000", 0),
    ("qualify", "Квалификация", 12, "1800000", 4),
    ("needs", "Выявление потребностей", 9, "4120000", 3),
    ("offer", "Коммерческое предложение", 6, "12750000", 2),
    ("talks", "Переговоры", 0, "0", 0),
    ("contract", "Согласование договора", 3, "2450000", 1),
    ("production", "Передано в производство", 1, "640000", 1),
)


def plain(text: str) -> str:
    """Amounts use NBSP; comparing against ordinary spaces keeps the expectations readable."""
    return text.replace(NBSP, " ")


def make_data(
    stages: tuple[tuple[str, str, int, str, int], ...] = RU_STAGES,
    *,
    won: int = 2,
    lost: int = 1,
    language: str = "ru",
    title: str = "Воронка «Урал» на 30.11.2026",
) -> ChartData:
    return ChartData(
        title=title,
        stages=tuple(
            ChartStage(key=key, name=name, count=count, amount=Decimal(amount), moves_in=moves)
            for key, name, count, amount, moves in stages
        ),
        won_count=won,
        lost_count=lost,
        language=language,
    )


def drawn(ax: Axes, role: str) -> list[str]:
    """Texts of one role («name» or «value») in one panel, top row first."""
    return [text.get_text() for text in ax.texts if text.get_gid() == role]


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which always comes right after the signature."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_render_returns_a_1000_by_800_png_on_white() -> None:
    png = render_digest_chart(make_data())

    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png) == (1000, 800)
    pixels = imread(BytesIO(png))
    assert pixels.shape[:2] == (800, 1000)
    assert pixels[-1, -1, :3].tolist() == [1.0, 1.0, 1.0]
    assert pixels[0, 0, :3].tolist() == [1.0, 1.0, 1.0]


def test_every_stage_name_is_drawn_in_both_panels_in_funnel_order() -> None:
    data = make_data()
    figure = build_figure(data)
    names = [name for _, name, *_ in RU_STAGES]

    funnel_ax, moves_ax = figure.axes
    assert [name.replace("\n", " ") for name in drawn(funnel_ax, "name")] == names
    moves_names = [name.replace("\n", " ") for name in drawn(moves_ax, "name")]
    assert moves_names == [*names, "Выиграно", "Проиграно"]

    labels = chart_labels(data)
    for name in names:
        assert labels.count(name) == 2, name
    assert "Воронка «Урал» на 30.11.2026" in labels


def test_long_stage_names_wrap_onto_two_lines() -> None:
    figure = build_figure(make_data())

    names = set(drawn(figure.axes[0], "name"))
    assert "Передано в\nпроизводство" in names
    assert "Коммерческое\nпредложение" in names
    assert "Новый лид" in names


def test_all_text_stays_inside_the_picture() -> None:
    """Names on the left and «12 · 1,8 млн ₽» on the right must not be cut off."""
    long_names = tuple(
        (f"s{index}", name, index * 37 % 120, str(index * 123456789), index % 5)
        for index, name in enumerate(
            [
                "Новый лид",
                "Согласование технического задания",
                "Согласование договора с юридическим отделом",
                "Передано в производство",
                "Ожидание оплаты",
                "Демонстрация продукта",
                "Коммерческое предложение",
                "Выявление потребностей",
                "Счёт выставлен",
                "Отгрузка",
            ]
        )
    )
    for data in (make_data(), make_data(long_names, won=17, lost=1234)):
        figure = build_figure(data)
        figure.canvas.draw()
        texts = list(figure.texts)
        for ax in figure.axes:
            texts += [ax.title, *ax.texts]
        for text in texts:
            box = text.get_window_extent()
            assert box.x0 >= 0 and box.x1 <= 1000, text.get_text()
            assert box.y0 >= 0 and box.y1 <= 800, text.get_text()


def test_a_zero_deal_stage_keeps_its_row_label_and_value() -> None:
    data = make_data()
    figure = build_figure(data)
    funnel_ax = figure.axes[0]

    talks = [name for _, name, *_ in RU_STAGES].index("Переговоры")
    assert drawn(funnel_ax, "name")[talks] == "Переговоры"
    bar = funnel_ax.patches[talks]
    assert isinstance(bar, Rectangle)
    assert bar.get_width() == 0
    assert plain(drawn(funnel_ax, "value")[talks]) == "0 · 0 ₽"


def test_bar_labels_carry_count_and_compact_amount_in_the_readers_language() -> None:
    ru = [plain(label) for label in chart_labels(make_data())]
    assert "12 · 1,8 млн ₽" in ru
    assert "6 · 12,8 млн ₽" in ru
    assert "1 · 640 тыс ₽" in ru
    assert "Открытые сделки по этапам — всего 45 · 24,1 млн ₽" in ru

    en = chart_labels(make_data(language="en", title="Funnel «Ural» on 30.11.2026"))
    assert "12 · ₽1.8M" in en
    assert "1 · ₽640K" in en
    assert {"Funnel «Ural» on 30.11.2026", "Won", "Lost", "Moves during the day"} <= set(en)


@pytest.mark.parametrize(
    ("amount", "ru", "en"),
    [
        ("1800000", "1,8 млн ₽", "₽1.8M"),
        ("2000000", "2 млн ₽", "₽2M"),
        ("12750000", "12,8 млн ₽", "₽12.8M"),
        ("45000", "45 тыс ₽", "₽45K"),
        ("125400", "125 тыс ₽", "₽125K"),
        ("950", "950 ₽", "₽950"),
        ("950.50", "951 ₽", "₽951"),
        ("0", "0 ₽", "₽0"),
        ("999.6", "1 тыс ₽", "₽1K"),
        ("999960", "1 млн ₽", "₽1M"),
        ("2450000000", "2,5 млрд ₽", "₽2.5B"),
        ("1500000000000", "1 500 млрд ₽", "₽1,500B"),
        ("-1800000", "-1,8 млн ₽", "-₽1.8M"),
    ],
)
def test_compact_amount(amount: str, ru: str, en: str) -> None:
    assert plain(compact_amount(Decimal(amount), "ru")) == ru
    assert compact_amount(Decimal(amount), "en") == en


def test_russian_amounts_do_not_break_across_lines() -> None:
    assert compact_amount(Decimal("1800000"), "ru") == f"1,8{NBSP}млн{NBSP}₽"


def test_an_empty_day_still_renders_every_row() -> None:
    zeros = tuple((key, name, 0, "0", 0) for key, name, *_ in RU_STAGES)
    data = make_data(zeros, won=0, lost=0)

    png = render_digest_chart(data)

    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png) == (1000, 800)
    labels = [plain(label) for label in chart_labels(data)]
    for _, name, *_ in RU_STAGES:
        assert labels.count(name) == 2
    assert labels.count("0 · 0 ₽") == len(RU_STAGES)
    assert labels.count("0") == len(RU_STAGES) + 2


def test_a_funnel_without_open_stages_still_renders() -> None:
    data = make_data((), won=0, lost=0, language="en", title="Funnel «Ural» on 30.11.2026")

    png = render_digest_chart(data)

    assert png_size(png) == (1000, 800)
    assert {"Won", "Lost"} <= set(chart_labels(data))


def test_a_long_title_shrinks_to_fit() -> None:
    title = "Воронка «Очень длинное название команды продаж Северо-Запад» на 30.11.2026"
    figure = build_figure(make_data(title=title))
    figure.canvas.draw()

    (title_text,) = figure.texts
    assert title_text.get_window_extent().x1 <= 1000


def test_concurrent_renders_match_sequential_ones() -> None:
    """No pyplot and no global rcParams: threads rendering at once must not interfere."""
    datasets = [make_data(), make_data(language="en"), make_data(won=5, lost=0)] * 2
    sequential = [render_digest_chart(data) for data in datasets]

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(render_digest_chart, datasets))

    assert concurrent == sequential
