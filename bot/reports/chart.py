"""The picture for the head of sales' daily digest: open deals by stage and the day's moves.

Rendered with a bare ``Figure`` on the Agg canvas, never pyplot: pyplot keeps global state
(current figure, registered managers), so concurrent digests would trample each other.
Global ``rcParams`` are never changed either, for the same reason; fonts and colours are
passed to every artist instead.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn: 0.4 s off every start-up
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

from bot.common.money import NBSP

__all__ = [
    "ChartData",
    "ChartStage",
    "build_figure",
    "chart_labels",
    "compact_amount",
    "render_digest_chart",
]

FIGSIZE = (10.0, 8.0)
DPI = 100
FONT = "DejaVu Sans"
"""Bundled with matplotlib and has Cyrillic, so the chart looks the same on every server."""

_INK = "#1f2933"
_MUTED = "#616e7c"
_GRID = "#e4e7eb"
_STAGE_COLOUR = "#4f6d8f"
_FORWARD_COLOUR = "#8fa6bf"
_WON_COLOUR = "#5b9a6e"
_LOST_COLOUR = "#c2675f"

_WIDTH_PX, _HEIGHT_PX = FIGSIZE[0] * DPI, FIGSIZE[1] * DPI
_EDGE_PX = 16
_TOP_PX = 56
"""Room for the title above the first panel."""
_PANEL_TITLE_PX = 28
_PANEL_GAP_PX = 30
_NAME_PAD_PX = 12
_VALUE_PAD_PX = 6
_MAX_LEFT = 0.45
"""Share of the width stage names may take before they are cut off at the left edge."""
_Y_MARGIN = 0.6
"""Rows of space above the first and below the last bar, so bars don't touch the panel edges."""
_WON_LOST_GAP = 0.5
_MAX_BAR = 0.8
"""Share of the panel's width the longest bar may take."""
_PLOT_PX = _HEIGHT_PX - _TOP_PX - 2 * _PANEL_TITLE_PX - _PANEL_GAP_PX - _EDGE_PX
"""Vertical pixels shared by the rows of both panels."""
_FONT_SIZE = 12.0
_MIN_FONT_SIZE = 7.0
_TITLE_SIZE = 18.0
_MAX_ROW_PX = 50.0

_NAME_WIDTH = 22
"""Characters per line of a stage name; «Передано в производство» becomes two lines."""

_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "funnel": "Открытые сделки по этапам",
        "total": "всего",
        "moves": "Движение за день",
        "won": "Выиграно",
        "lost": "Проиграно",
    },
    "en": {
        "funnel": "Open deals by stage",
        "total": "total",
        "moves": "Moves during the day",
        "won": "Won",
        "lost": "Lost",
    },
}

# (power of ten, Russian unit, English unit), largest first.
_SCALES = ((9, "млрд", "B"), (6, "млн", "M"), (3, "тыс", "K"))


@dataclass(frozen=True, slots=True)
class ChartStage:
    key: str
    name: str
    """Already in the reader's language."""
    count: int
    """Open deals in this stage at the end of the day."""
    amount: Decimal
    """Their total amount in roubles (with what the set rates converted); amounts in a
    currency without a rate are not drawn, and `ChartData.note` says so."""
    moves_in: int
    """Forward moves into this stage during the day."""


@dataclass(frozen=True, slots=True)
class ChartData:
    title: str
    """Already in the reader's language."""
    stages: tuple[ChartStage, ...]
    """Open stages in funnel order."""
    won_count: int
    lost_count: int
    language: str
    """«ru» or «en»: labels and number formats."""
    note: str | None = None
    """Under the title, in the reader's language: what the amounts leave out (deals in a
    currency without a rate)."""


def compact_amount(amount: Decimal, language: str) -> str:
    """«1,8 млн ₽» / «₽1.8M»: a chart label has room for two or three significant digits.

    Russian uses NBSP inside the amount (as ``bot.common.money`` does), so a caption that
    reuses it never splits «1,8 млн ₽» across lines.
    """
    russian = language != "en"
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    number, unit = _scale(value)
    if number < 100 and unit:
        text = _group(number.quantize(Decimal("0.1"), ROUND_HALF_UP), russian, places=1)
    else:
        text = _group(number, russian, places=0)
    if russian:
        return f"{sign}{text}{NBSP}{unit}{NBSP}₽" if unit else f"{sign}{text}{NBSP}₽"
    return f"{sign}₽{text}{_english_unit(unit)}"


def _scale(value: Decimal) -> tuple[Decimal, str]:
    """The number in the largest unit it reaches, rounded as it will be shown; Russian unit.

    Rounding comes first so 999 960 reads «1 млн», not «1000 тыс».
    """
    for index, (power, unit, _) in enumerate(_SCALES):
        if value < Decimal(10) ** power:
            continue
        number = _round_shown(value.scaleb(-power))
        if number >= 1000 and index > 0:
            bigger_power, bigger_unit, _ = _SCALES[index - 1]
            return _round_shown(value.scaleb(-bigger_power)), bigger_unit
        return number, unit
    number = value.quantize(Decimal(1), ROUND_HALF_UP)
    if number >= 1000:
        return Decimal(1), "тыс"
    return number, ""


def _round_shown(number: Decimal) -> Decimal:
    places = Decimal("0.1") if number < 100 else Decimal(1)
    return number.quantize(places, ROUND_HALF_UP)


def _english_unit(russian_unit: str) -> str:
    return next((en for _, ru, en in _SCALES if ru == russian_unit), "")


def _group(number: Decimal, russian: bool, *, places: int) -> str:
    """Digit groups and decimal mark in the reader's convention; a trailing «,0» is dropped."""
    text = f"{number:,.{places}f}"
    if text.endswith(".0"):
        text = text[:-2]
    if russian:
        text = text.replace(",", NBSP).replace(".", ",")
    return text


def _count(value: int, language: str) -> str:
    text = f"{value:,}"
    return text.replace(",", NBSP) if language != "en" else text


def _wrap(name: str) -> str:
    """Long stage names go on balanced lines rather than squeezing the bars.

    Only wraps when joining the lines with spaces restores the name exactly, so
    ``chart_labels`` reports the name as given.
    """
    line_count = math.ceil(len(name) / _NAME_WIDTH)
    if line_count <= 1:
        return name
    width = math.ceil(len(name) / line_count)
    while True:
        lines = textwrap.wrap(name, width, break_long_words=False, break_on_hyphens=False)
        if len(lines) <= line_count:
            break
        width += 1
    return "\n".join(lines) if " ".join(lines) == name else name


def _texts(language: str) -> dict[str, str]:
    return _TEXTS.get(language, _TEXTS["ru"])


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    value: int
    label: str
    colour: str


def _funnel_rows(data: ChartData) -> list[_Row]:
    return [
        _Row(
            stage.name,
            stage.count,
            f"{_count(stage.count, data.language)} · {compact_amount(stage.amount, data.language)}",
            _STAGE_COLOUR,
        )
        for stage in data.stages
    ]


def _moves_rows(data: ChartData) -> list[_Row]:
    texts = _texts(data.language)
    forward = [
        _Row(stage.name, stage.moves_in, _count(stage.moves_in, data.language), _FORWARD_COLOUR)
        for stage in data.stages
    ]
    won = _Row(texts["won"], data.won_count, _count(data.won_count, data.language), _WON_COLOUR)
    lost = _Row(
        texts["lost"], data.lost_count, _count(data.lost_count, data.language), _LOST_COLOUR
    )
    return [*forward, won, lost]


def build_figure(data: ChartData) -> Figure:
    """The chart as a Figure on an Agg canvas, not yet drawn, so tests can read its texts.

    ``figure.texts`` holds the title; each of the two axes (funnel, moves) has a left title
    and, in ``ax.texts``, the row names (gid «name») followed by the bar values (gid «value»).

    The layout is computed by hand from measured label widths rather than by constrained
    layout, which measures every artist once more and cost about a third of the render time.
    Measurements land in matplotlib's per-renderer cache, so drawing reuses them.
    """
    texts = _texts(data.language)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)  # text measurements below use its renderer
    stage_count = len(data.stages)
    funnel_units = max(stage_count, 1) + 2 * _Y_MARGIN - 1
    moves_units = stage_count + 2 + _WON_LOST_GAP + 2 * _Y_MARGIN - 1
    # Rows get what the height allows, up to a cap so a three-stage funnel isn't all bar.
    unit_px = min(_MAX_ROW_PX, _PLOT_PX / (funnel_units + moves_units))
    # Text shrinks only when rows get too short for the longest (wrapped) stage name.
    name_lines = max((_wrap(stage.name).count("\n") + 1 for stage in data.stages), default=1)
    font_size = min(_FONT_SIZE, max(_MIN_FONT_SIZE, unit_px / (1.55 * name_lines + 0.3)))

    title = figure.text(
        _EDGE_PX / _WIDTH_PX,
        1 - _EDGE_PX / _HEIGHT_PX,
        data.title,
        ha="left",
        va="top",
        fontsize=_TITLE_SIZE,
        fontweight="bold",
        color=_INK,
        fontfamily=FONT,
    )
    title_px = title.get_window_extent().width
    if title_px > _WIDTH_PX - 2 * _EDGE_PX:  # a long team name: shrink rather than cut off
        fit = 0.97 * (_WIDTH_PX - 2 * _EDGE_PX) / title_px  # hinting makes width not quite linear
        title.set_fontsize(max(_MIN_FONT_SIZE, _TITLE_SIZE * fit))
    if data.note:
        figure.text(
            _EDGE_PX / _WIDTH_PX,
            1 - (_EDGE_PX + 26) / _HEIGHT_PX,
            data.note,
            ha="left",
            va="top",
            fontsize=_MIN_FONT_SIZE + 2,
            color=_MUTED,
            fontfamily=FONT,
            gid="note",
        )
    total_count = sum(stage.count for stage in data.stages)
    total_amount = sum((stage.amount for stage in data.stages), Decimal(0))
    funnel_title = (
        f"{texts['funnel']} — {texts['total']} {_count(total_count, data.language)}"
        f" · {compact_amount(total_amount, data.language)}"
    )
    funnel_ax = figure.add_axes((0, 0, 1, 1))
    moves_ax = figure.add_axes((0, 0, 1, 1))
    funnel_rows, moves_rows = _funnel_rows(data), _moves_rows(data)
    funnel_names, funnel_values = _draw_panel(
        funnel_ax, funnel_rows, funnel_title, font_size, gap_before=None
    )
    moves_names, moves_values = _draw_panel(
        moves_ax, moves_rows, texts["moves"], font_size, gap_before=stage_count
    )

    name_px = max(
        (label.get_window_extent().width for label in funnel_names + moves_names),
        default=0.0,
    )
    left_px = min(_EDGE_PX + name_px + _NAME_PAD_PX, _WIDTH_PX * _MAX_LEFT)
    axes_px = _WIDTH_PX - left_px - 2 * _EDGE_PX
    funnel_top_px = _TOP_PX + _PANEL_TITLE_PX
    moves_top_px = funnel_top_px + funnel_units * unit_px + _PANEL_GAP_PX + _PANEL_TITLE_PX
    for ax, top_px, units in (
        (funnel_ax, funnel_top_px, funnel_units),
        (moves_ax, moves_top_px, moves_units),
    ):
        height_px = units * unit_px
        ax.set_position(
            (
                left_px / _WIDTH_PX,
                1 - (top_px + height_px) / _HEIGHT_PX,
                axes_px / _WIDTH_PX,
                height_px / _HEIGHT_PX,
            )
        )
    _fit_values(funnel_ax, [row.value for row in funnel_rows], funnel_values, axes_px)
    _fit_values(moves_ax, [row.value for row in moves_rows], moves_values, axes_px)
    return figure


def _draw_panel(
    ax: Axes, rows: list[_Row], title: str, font_size: float, *, gap_before: int | None
) -> tuple[list[Text], list[Text]]:
    """Horizontal bars, first row on top, named on the left, valued past the bar's end.

    No axis ticks: every bar carries its number, so a scale would only add noise, and row
    names are plain texts rather than tick labels because ticks cost about a millisecond each.
    ``gap_before`` sets the won/lost rows apart from the stages. Returns the name and the
    value labels (gid «name» / «value»), which the layout measures.
    """
    positions = [
        index + (_WON_LOST_GAP if gap_before is not None and index >= gap_before else 0.0)
        for index in range(len(rows))
    ]
    from matplotlib.transforms import ScaledTranslation

    dpi_scale = ax.figure.dpi_scale_trans
    # Fixed pixel gaps from the axes edge and from the bar's end, whatever the x scale.
    name_at = ax.get_yaxis_transform() + ScaledTranslation(-_NAME_PAD_PX / DPI, 0, dpi_scale)
    value_at = ax.transData + ScaledTranslation(_VALUE_PAD_PX / DPI, 0, dpi_scale)
    text_style: dict[str, Any] = {
        "va": "center",
        "fontsize": font_size,
        "color": _INK,
        "fontfamily": FONT,
    }
    name_labels = [
        ax.text(
            0,
            position,
            _wrap(row.name),
            transform=name_at,
            ha="right",
            multialignment="right",
            gid="name",
            **text_style,
        )
        for row, position in zip(rows, positions, strict=True)
    ]
    value_labels = [
        ax.text(
            row.value, position, row.label, transform=value_at, ha="left", gid="value", **text_style
        )
        for row, position in zip(rows, positions, strict=True)
    ]
    ax.barh(
        positions,
        [row.value for row in rows],
        height=0.62,
        color=[row.colour for row in rows],
        zorder=2,
    )
    if gap_before is not None and 0 < gap_before < len(rows):
        ax.axhline(gap_before - 0.5 + _WON_LOST_GAP / 2, color=_GRID, linewidth=1.0, zorder=1)

    ax.set_ylim(max(positions, default=0.0) + _Y_MARGIN, -_Y_MARGIN)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(_GRID)
    ax.set_title(title, loc="left", fontsize=font_size + 1.5, color=_MUTED, fontfamily=FONT, pad=8)
    return name_labels, value_labels


def _fit_values(ax: Axes, values: list[int], value_labels: list[Text], axes_px: float) -> None:
    """Scale the x axis so the longest bar plus its label just fits the panel's width.

    A fixed headroom either wastes half the width or lets «14 · 2,4 млн ₽» run off the edge;
    the longest bar still stops at ``_MAX_BAR`` so a day of four moves doesn't look huge.
    """
    x_max = max([1.0] + [value / _MAX_BAR for value in values])
    for value, label in zip(values, value_labels, strict=True):
        room_px = axes_px - _VALUE_PAD_PX - label.get_window_extent().width - 2
        if room_px > 0:
            x_max = max(x_max, value * axes_px / room_px)
    ax.set_xlim(0, x_max)


def render_digest_chart(data: ChartData) -> bytes:
    """PNG bytes, 1000×800 px on white, ready to send as a Telegram photo."""
    figure = build_figure(data)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def chart_labels(data: ChartData) -> list[str]:
    """Every text the chart draws, top to bottom; wrapped names come back on one line.

    Read from the built figure rather than recomputed, so it cannot drift from the picture.
    """
    figure = build_figure(data)
    labels = [text.get_text() for text in figure.texts]
    for ax in figure.axes:
        labels.extend(ax.get_title(loc) for loc in ("left", "center", "right"))
        labels.extend(tick.get_text() for tick in ax.get_xticklabels() + ax.get_yticklabels())
        labels.extend(text.get_text() for text in ax.texts)
    return [label.replace("\n", " ") for label in labels if label]
