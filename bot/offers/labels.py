"""Product names cut to fit a button or a line of a message: at a word boundary with «…»,
keeping what tells similar items apart."""

from __future__ import annotations


def shorten(text: str, width: int) -> str:
    """Cut at a word boundary with «…» when longer than `width`."""
    if len(text) <= width:
        return text
    cut = text[: width - 1].rstrip(" ,;")
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space].rstrip(" ,;")
    return f"{cut}…"


def item_labels(names: list[str], width: int) -> list[str]:
    """Button labels for catalog names, each at most about `width` characters, that keep
    what tells an item from the others listed with it.

    A name that fits is shown whole. A longer one keeps its first words and then, after
    «…», the words from where it stops sharing its beginning with the most similar other
    name: «Стеллаж паллетный… 8000 мм, 4 уровня» beside «… 6000 мм, 3 уровня».
    """
    labels = []
    for index, name in enumerate(names):
        if len(name) <= width:
            labels.append(name)
            continue
        words = name.split()
        shared = 0  # words this name shares from its start with the closest other one
        for other_index, other in enumerate(names):
            if other_index != index:
                shared = max(shared, _common_words(words, other.split()))
        if shared == 0 or len(" ".join(words[: shared + 1])) <= width:
            labels.append(shorten(name, width))
            continue
        tail = " ".join(words[shared:])
        head_width = max(width - len(tail) - 2, 12)
        head = shorten(" ".join(words[:shared]), head_width).rstrip("…").rstrip(" ,;")
        labels.append(shorten(f"{head}… {tail}", width + 12))
    return labels


def _common_words(a: list[str], b: list[str]) -> int:
    n = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        n += 1
    return n
