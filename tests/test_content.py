"""Loading and checking knowledge-base files: broken files are reported, the rest loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.common.errors import FileProblem
from bot.knowledge.content import (
    ContentLibrary,
    Entry,
    check_content,
    load_content,
    parse_steps,
    slugify,
)

SCRIPT = """\
---
id: cold
kind: script
title: Холодный звонок
aliases: [холодка]
tags: [звонки]
---
Цель — выйти на ЛПР.

## Приветствие {#start}
«Добрый день! Удобно говорить?»

- [Да](#pitch)
- [Нет, занят](#Перезвонить-позже)

## Презентация {#pitch}
Рассказываем о складе.

```
- [Не кнопка](#nowhere)
## Не шаг
```

- [Дорого](#price)
- [Интересно](#end)

## Перезвонить позже
«Когда удобно?»

## Цена {#price}
От 3 900 ₽ за место.

* [Понятно](#end)

## Конец {#end}
Спасибо!
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def entry_file(entry_id: str | None, kind: str = "objection", title: str = "Дорого") -> str:
    head = f"id: {entry_id}\n" if entry_id else ""
    return f"---\n{head}kind: {kind}\ntitle: {title}\naliases: [у вас дорого]\n---\nОтвет.\n"


def messages(problems: list[FileProblem] | tuple[FileProblem, ...]) -> list[str]:
    return [str(problem) for problem in problems]


def test_loads_fields_body_and_defaults_id_to_file_name(tmp_path: Path) -> None:
    write(tmp_path, "kb/objections/price.md", entry_file(None))
    write(tmp_path, "kb/objections/README.md", "# Not an entry\n")
    write(tmp_path, "kb/catalog.yaml", "items: []\n")
    loaded = load_content([tmp_path / "kb"])
    assert loaded.problems == ()
    (entry,) = loaded.entries
    assert entry.id == "price"
    assert entry.kind == "objection"
    assert entry.title == "Дорого"
    assert entry.aliases == ("у вас дорого",)
    assert entry.tags == ()
    assert entry.body == "Ответ."
    assert entry.source == tmp_path / "kb/objections/price.md"
    assert entry.steps == ()


def test_broken_yaml_is_reported_with_file_and_line_and_the_rest_loads(tmp_path: Path) -> None:
    write(tmp_path, "kb/a.md", entry_file("a"))
    broken = write(
        tmp_path,
        "kb/b.md",
        "---\nid: b\nkind: objection\ntitle: Дорого\naliases: [не закрыто\ntags: [x]\n---\nТекст\n",
    )
    write(tmp_path, "kb/c.md", entry_file("c"))
    loaded = load_content([tmp_path / "kb"])
    assert [entry.id for entry in loaded.entries] == ["a", "c"]
    (problem,) = loaded.problems
    assert problem.file == broken
    assert problem.line == 6  # counting the opening '---' as line 1
    assert str(problem).startswith(f"{broken}:6: broken YAML")


@pytest.mark.parametrize(
    ("front", "line", "fragment"),
    [
        ("id: x\nkind: objection\n", 1, "missing title"),
        ("id: x\nkind: objection\ntitle: '  '\n", 4, "missing title"),
        ("id: x\ntitle: Дорого\nkind: recipe\n", 4, "unknown kind 'recipe'"),
        ("id: x\ntitle: Дорого\n", 1, "missing kind"),
        ("id: x\ntitle: Дорого\nkind:\n", 4, "missing kind"),
        ("id: ''\ntitle: Дорого\nkind: faq\n", 2, "id must be a non-empty string"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)
def test_file_without_title_or_known_kind_is_skipped(
    tmp_path: Path, front: str, line: int, fragment: str
) -> None:
    bad = write(tmp_path, "kb/bad.md", f"---\n{front}---\nТекст\n")
    write(tmp_path, "kb/good.md", entry_file("good"))
    loaded = load_content([tmp_path / "kb"])
    assert [entry.id for entry in loaded.entries] == ["good"]
    (problem,) = loaded.problems
    assert (problem.file, problem.line) == (bad, line)
    assert fragment in problem.why


def test_file_without_front_matter_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "kb/plain.md", "Просто текст\n")
    write(tmp_path, "kb/open.md", "---\nid: open\nkind: faq\ntitle: Вопрос\n")
    loaded = load_content([tmp_path / "kb"])
    assert loaded.entries == ()
    assert sorted(p.file.name for p in loaded.problems) == ["open.md", "plain.md"]


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    loaded = load_content([tmp_path / "nowhere"])
    assert loaded.entries == ()
    assert messages(loaded.problems) == [f"{tmp_path / 'nowhere'}: content folder not found"]


def test_duplicate_ids_are_reported_in_both_places_and_first_wins(tmp_path: Path) -> None:
    first = write(tmp_path, "kb/a/price.md", entry_file("price", title="Дорого"))
    second = write(tmp_path, "scripts/price.md", entry_file("price", title="Цена"))
    dirs = [tmp_path / "kb", tmp_path / "scripts"]
    loaded = load_content(dirs)
    assert [entry.title for entry in loaded.entries] == ["Дорого"]
    problems = check_content(dirs)
    assert {(p.file, p.line) for p in problems} == {(first, 2), (second, 2)}
    assert all("duplicate id 'price'" in p.why for p in problems)


def test_missing_attached_files_and_non_list_fields_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "kb/price-list.pdf", "%PDF")
    path = write(
        tmp_path,
        "kb/e.md",
        "---\nid: e\nkind: product\ntitle: Стеллажи\naliases: стеллаж\n"
        "tags: [склад, 3]\nfiles: [price-list.pdf, missing.pdf]\n---\nТекст\n",
    )
    loaded = load_content([tmp_path / "kb"])
    (entry,) = loaded.entries
    assert entry.files == (tmp_path / "kb/price-list.pdf",)
    assert entry.aliases == ("стеллаж",)
    assert entry.tags == ("склад",)
    assert messages(check_content([tmp_path / "kb"])) == [
        f"{path}:5: aliases must be a list of strings, not one string",
        f"{path}:6: tags must be a list of strings: 3",
        f"{path}:7: file 'missing.pdf' of entry 'e' not found",
    ]


def _product(files: str) -> str:
    return f"---\nid: racks\nkind: product\ntitle: Стеллажи\nfiles: {files}\n---\nТекст\n"


@pytest.mark.parametrize(
    "name",
    ["../secret.txt", "../../../../../../../../etc/hostname", "products/../../secret.txt"],
)
def test_a_file_outside_the_content_folder_through_dots_is_an_error_and_not_attached(
    tmp_path: Path, name: str
) -> None:
    write(tmp_path, "secret.txt", "пароль")
    path = write(tmp_path, "kb/racks.md", _product(f'["{name}"]'))
    loaded = load_content([tmp_path / "kb"])
    (entry,) = loaded.entries  # the entry itself still loads, without the file
    assert entry.files == ()
    expected = (
        f"{path}:5: file {name!r} of entry 'racks' is outside the content folder "
        f"{tmp_path / 'kb'}: it is not attached"
    )
    assert messages(loaded.problems) == [expected]
    assert messages(check_content([tmp_path / "kb"])) == [expected]


def test_an_absolute_file_path_is_an_error_and_not_attached(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "пароль")
    inside = write(tmp_path, "kb/price.pdf", "%PDF")  # absolute even when it points inside
    path = write(tmp_path, "kb/racks.md", _product(f'["{secret}", "{inside}"]'))
    loaded = load_content([tmp_path / "kb"])
    assert loaded.entries[0].files == ()
    assert messages(check_content([tmp_path / "kb"])) == [
        f"{path}:5: file {str(where)!r} of entry 'racks' is an absolute path: "
        "give it relative to the entry's file"
        for where in (secret, inside)
    ]


def test_a_symlink_to_outside_the_content_folder_is_an_error_and_not_attached(
    tmp_path: Path,
) -> None:
    write(tmp_path, "secret.txt", "пароль")
    write(tmp_path, "outside/notes.pdf", "%PDF")
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb/price.pdf").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "kb/docs").symlink_to(tmp_path / "outside", target_is_directory=True)
    (tmp_path / "kb/loop.pdf").symlink_to(tmp_path / "kb/loop.pdf")
    path = write(tmp_path, "kb/racks.md", _product("[price.pdf, docs/notes.pdf, loop.pdf]"))
    loaded = load_content([tmp_path / "kb"])
    assert loaded.entries[0].files == ()
    kb = tmp_path / "kb"
    outside = f"of entry 'racks' is outside the content folder {kb}: it is not attached"
    assert messages(check_content([tmp_path / "kb"])) == [
        f"{path}:5: file 'price.pdf' {outside}",
        f"{path}:5: file 'docs/notes.pdf' {outside}",
        f"{path}:5: file 'loop.pdf' of entry 'racks' cannot be resolved"
        " (a symlink loop or a bad character)",
    ]


def test_an_entry_file_linked_from_outside_the_folder_is_not_read(tmp_path: Path) -> None:
    write(tmp_path, "private/notes.md", "---\nid: notes\nkind: faq\ntitle: Заметки\n---\nТайна\n")
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb/notes.md").symlink_to(tmp_path / "private/notes.md")
    loaded = load_content([tmp_path / "kb"])
    assert loaded.entries == ()
    kb = tmp_path / "kb"
    assert messages(loaded.problems) == [
        f"{kb / 'notes.md'}: the file links to outside the content folder {kb}"
    ]


def test_files_in_subfolders_and_links_within_the_folder_are_attached(tmp_path: Path) -> None:
    """`..` is fine as long as the file stays inside; so is a folder that is itself a link."""
    write(tmp_path, "real-kb/docs/price.pdf", "%PDF")
    write(tmp_path, "real-kb/shared/terms.pdf", "%PDF")
    (tmp_path / "real-kb/latest.pdf").symlink_to(tmp_path / "real-kb/docs/price.pdf")
    write(tmp_path, "real-kb/products/racks.md", _product("[../docs/price.pdf, ../latest.pdf]"))
    write(
        tmp_path,
        "real-kb/terms.md",
        "---\nid: terms\nkind: company\ntitle: Условия\nfiles: [shared/terms.pdf]\n---\nТ\n",
    )
    (tmp_path / "kb").symlink_to(tmp_path / "real-kb", target_is_directory=True)
    kb = tmp_path / "kb"
    loaded = load_content([kb])
    assert loaded.problems == ()
    assert {entry.id: entry.files for entry in loaded.entries} == {
        "racks": (kb / "products/../docs/price.pdf", kb / "products/../latest.pdf"),
        "terms": (kb / "shared/terms.pdf",),
    }
    assert check_content([kb]) == []


def test_unknown_front_matter_key_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "kb/e.md", "---\nkind: faq\ntitle: Вопрос\nalises: [x]\n---\nТекст\n")
    loaded = load_content([tmp_path / "kb"])
    assert len(loaded.entries) == 1
    assert messages(loaded.problems) == [f"{path}:4: unknown front-matter key 'alises'"]


def test_branching_script_steps_answers_and_intro(tmp_path: Path) -> None:
    write(tmp_path, "scripts/cold.md", SCRIPT)
    (entry,) = load_content([tmp_path / "scripts"]).entries
    assert entry.intro == "Цель — выйти на ЛПР."
    assert [step.id for step in entry.steps] == [
        "start",
        "pitch",
        "перезвонить-позже",
        "price",
        "end",
    ]
    start, pitch, later, price, end = entry.steps
    assert start.title == "Приветствие"
    assert start.text == "«Добрый день! Удобно говорить?»"
    assert [(a.label, a.target) for a in start.answers] == [
        ("Да", "pitch"),
        ("Нет, занят", "Перезвонить-позже"),
    ]
    assert start.line == 10
    assert "- [Не кнопка](#nowhere)" in pitch.text  # inside a code fence: text, not a button
    assert [a.target for a in pitch.answers] == ["price", "end"]
    assert later.title == "Перезвонить позже"
    assert [a.target for a in price.answers] == ["end"]
    assert end.answers == ()
    assert entry.step("price") is price
    assert entry.is_branching


def test_check_reports_missing_step_links_and_unreachable_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "scripts/cold.md", SCRIPT)
    problems = check_content([tmp_path / "scripts"])
    assert messages(problems) == [
        f"{path}:14: link to missing step #Перезвонить-позже",
        f"{path}:27: step #перезвонить-позже is unreachable from the start",
    ]


def test_sections_without_answer_links_are_not_a_branching_script() -> None:
    intro, steps = parse_steps("## Ответ\nТекст\n\n## Почему работает\n- [сайт](https://x.ru)\n")
    assert steps == ()
    assert intro.startswith("## Ответ")


def test_slugify_keeps_cyrillic() -> None:
    assert slugify("Клиент  согласен!") == "клиент-согласен"
    assert slugify("«Нам ничего не нужно»") == "нам-ничего-не-нужно"


def test_library_browses_by_kind_and_tag(tmp_path: Path) -> None:
    def entry(entry_id: str, kind: str, title: str, tags: tuple[str, ...]) -> Entry:
        return Entry(entry_id, kind, title, (), tags, (), "", tmp_path / f"{entry_id}.md")

    library = ContentLibrary(
        [
            entry("price", "objection", "Дорого", ("цена", "деньги")),
            entry("budget", "objection", "Бюджета нет", ("деньги",)),
            entry("racks", "product", "Стеллажи", ("склад",)),
        ]
    )
    assert len(library) == 3
    assert library["racks"].title == "Стеллажи"
    assert "nope" not in library
    assert library.kinds() == ("objection", "product")
    assert [e.id for e in library.by_kind("objection")] == ["budget", "price"]
    assert library.by_kind("faq") == ()
    assert library.tags() == ("деньги", "склад", "цена")
    assert library.tags("product") == ("склад",)
    assert [e.id for e in library.by_tag("деньги")] == ["budget", "price"]
    assert library.by_tag("деньги", kind="product") == ()


def test_content_load_gives_a_library(tmp_path: Path) -> None:
    write(tmp_path, "kb/a.md", entry_file("a"))
    library = load_content([tmp_path / "kb"]).library()
    assert list(library) == ["a"]
