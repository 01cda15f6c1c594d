"""Knowledge-base content: Markdown files with YAML front matter, loaded and checked.

One entry per file. Loading never fails as a whole: a broken file is skipped and
reported with its path and line, so the bot starts with the rest of the base. The front
matter is read through a pydantic model (`FrontMatter`); a problem is the `FileProblem`
of every file format, with the file and the line of the key at fault. Entry files and their
attached `files` must stay inside their content folder (`..`, absolute paths and symlinks
followed): the bot sends attached files to anyone who opens the entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, ValidationInfo

from bot.common.errors import FileProblem
from bot.common.formats import why

KINDS: frozenset[str] = frozenset(
    {"objection", "script", "product", "company", "competitor", "market", "faq"}
)
KNOWN_KEYS: frozenset[str] = frozenset({"id", "kind", "title", "aliases", "tags", "files"})
ENTRY_SUFFIX = ".md"
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^##\s+(?P<title>.*?)\s*(?:\{#(?P<id>[^}\s]+)\})?\s*#*\s*$")
_ANSWER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[(?P<label>[^\]]+)\]\(#(?P<target>[^)\s]+)\)\s*$")
_SLUG_DROP = re.compile(r"[^\w\s-]")
_SPACES = re.compile(r"\s+")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 5x faster


# A content file's problems are FileProblems: `file`, `line` (0 for the whole file), `why`.


def _problem(path: Path, line: int, message: str) -> FileProblem:
    return FileProblem(message, file=path, line=line)


@dataclass(frozen=True, slots=True)
class Answer:
    """A client's answer in a branching script: a button leading to another step."""

    label: str
    target: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """One `## heading` section of a branching script: what to say, then the answers."""

    id: str
    title: str
    text: str
    answers: tuple[Answer, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Entry:
    """One knowledge-base file. `line` is where the entry is declared (its `id:` or line 1)."""

    id: str
    kind: str
    title: str
    aliases: tuple[str, ...]
    tags: tuple[str, ...]
    files: tuple[Path, ...]
    body: str
    source: Path
    line: int = 1
    steps: tuple[ScriptStep, ...] = ()
    intro: str = ""

    @property
    def is_branching(self) -> bool:
        """True for a script walked step by step with answer buttons."""
        return bool(self.steps)

    def step(self, step_id: str) -> ScriptStep | None:
        """The step with this id, or None."""
        for step in self.steps:
            if step.id == step_id:
                return step
        return None


_QUOTE_PAIRS = {"«": "»", "“": "”", "„": "“", '"': '"', "'": "'"}


def bare_title(title: str) -> str:
    """A step title without the quotes around it, for texts that quote it themselves.

    Objection steps are titled with the client's words in quotes («Дорого»), and a prompt
    that quotes the step would print ««Дорого»»; `«Дорого» и «Подумаем»` comes back
    quoted again as it was.
    """
    text = title.strip()
    if len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


@dataclass(frozen=True, slots=True)
class ContentLoad:
    """The entries that loaded and the problems met on the way."""

    entries: tuple[Entry, ...]
    problems: tuple[FileProblem, ...]

    def library(self) -> ContentLibrary:
        return ContentLibrary(self.entries)


class ContentLibrary(Mapping[str, Entry]):
    """Read-only id → Entry map with the views the bot browses by: kind and tag."""

    __slots__ = ("_by_id", "_by_kind", "_by_tag")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        by_id: dict[str, Entry] = {}
        for entry in entries:
            by_id.setdefault(entry.id, entry)
        ordered = sorted(by_id.values(), key=lambda e: (e.title.casefold(), e.id))
        by_kind: dict[str, list[Entry]] = {}
        by_tag: dict[str, list[Entry]] = {}
        for entry in ordered:
            by_kind.setdefault(entry.kind, []).append(entry)
            for tag in dict.fromkeys(entry.tags):
                by_tag.setdefault(tag, []).append(entry)
        self._by_id = by_id
        self._by_kind = {kind: tuple(items) for kind, items in by_kind.items()}
        self._by_tag = {tag: tuple(items) for tag, items in by_tag.items()}

    def __getitem__(self, entry_id: str) -> Entry:
        return self._by_id[entry_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def titles(self) -> dict[str, str]:
        """Entry id → title, and `entry#step` → the step's title without its quotes, so a
        report can name what the ids it holds stand for (the digest's script gaps)."""
        names = {key: entry.title for key, entry in self._by_id.items()}
        for key, entry in self._by_id.items():
            for step in entry.steps:
                names[f"{key}#{step.id}"] = bare_title(step.title)
        return names

    def kinds(self) -> tuple[str, ...]:
        """Kinds that have at least one entry, in a stable order."""
        return tuple(sorted(self._by_kind))

    def by_kind(self, kind: str) -> tuple[Entry, ...]:
        """Entries of one kind, sorted by title."""
        return self._by_kind.get(kind, ())

    def tags(self, kind: str | None = None) -> tuple[str, ...]:
        """All tags (of one kind's entries, if given), sorted."""
        if kind is None:
            return tuple(sorted(self._by_tag, key=str.casefold))
        found = {tag for entry in self.by_kind(kind) for tag in entry.tags}
        return tuple(sorted(found, key=str.casefold))

    def by_tag(self, tag: str, kind: str | None = None) -> tuple[Entry, ...]:
        """Entries with this tag (and of this kind, if given), sorted by title."""
        found = self._by_tag.get(tag, ())
        if kind is None:
            return found
        return tuple(entry for entry in found if entry.kind == kind)


def load_content(dirs: Sequence[Path]) -> ContentLoad:
    """Load every entry file under `dirs`; skip and report broken ones, keep the rest.

    Duplicate ids keep the first file (in path order) and report both places.
    """
    entries: list[Entry] = []
    problems: list[FileProblem] = []
    for folder, path in _entry_files(dirs, problems):
        entry = _load_file(path, problems, folder)
        if entry is not None:
            entries.append(entry)
    return ContentLoad(tuple(_drop_duplicates(entries, problems)), tuple(problems))


def check_content(dirs: Sequence[Path]) -> list[FileProblem]:
    """Every problem of the base: load problems plus broken or unreachable script steps."""
    loaded = load_content(dirs)
    problems = list(loaded.problems)
    for entry in loaded.entries:
        problems.extend(_check_steps(entry))
    return problems


def slugify(heading: str) -> str:
    """A step id from its heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = _SLUG_DROP.sub("", heading.strip().lower())
    return _SPACES.sub("-", text.strip())


def parse_steps(body: str, first_line: int = 1) -> tuple[str, tuple[ScriptStep, ...]]:
    """Split a branching script body into its intro and steps; non-branching gives no steps.

    A body is branching when some list item is nothing but a link to `#step`.
    `first_line` is the file line of the body's first line, so steps know theirs.
    """
    lines = body.split("\n")
    if not any(_ANSWER.match(line) for line in _outside_fences(lines)):
        return body.strip(), ()
    intro: list[str] = []
    steps: list[ScriptStep] = []
    current: tuple[str, str, int] | None = None
    text: list[str] = []
    answers: list[Answer] = []
    in_fence = False

    def close() -> None:
        if current is not None:
            step_id, title, line = current
            steps.append(ScriptStep(step_id, title, _clean(text), tuple(answers), line))

    for number, line in enumerate(lines, start=first_line):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is not None:
            close()
            title = heading["title"]
            current = (heading["id"] or slugify(title), title, number)
            text, answers = [], []
            continue
        answer = None if in_fence else _ANSWER.match(line)
        if current is None:
            intro.append(line)
        elif answer is not None:
            answers.append(Answer(answer["label"].strip(), answer["target"], number))
        else:
            text.append(line)
    close()
    return _clean(intro), tuple(steps)


def _clean(lines: list[str]) -> str:
    return "\n".join(lines).strip()


def _outside_fences(lines: Iterable[str]) -> Iterator[str]:
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            yield line


@dataclass(frozen=True, slots=True)
class _Folder:
    """A content folder as configured (for messages) and resolved (to check paths against)."""

    root: Path
    real: Path

    def holds(self, path: Path) -> bool | None:
        """Whether `path`, every `..` and symlink followed, is inside; None when it cannot
        be resolved (a symlink loop, a NUL in the name)."""
        try:
            return path.resolve().is_relative_to(self.real)
        except (OSError, RuntimeError, ValueError):
            return None


def _entry_files(dirs: Sequence[Path], problems: list[FileProblem]) -> list[tuple[_Folder, Path]]:
    """The entry files of each folder; one that is a symlink to outside its folder is
    reported and not read, so content cannot pull in a file from elsewhere on the server."""
    files: list[tuple[_Folder, Path]] = []
    for root in dirs:
        if not root.is_dir():
            problems.append(_problem(root, 0, "content folder not found"))
            continue
        folder = _Folder(root, root.resolve())
        for path in sorted(root.rglob(f"*{ENTRY_SUFFIX}")):
            relative = path.relative_to(root).parts
            if any(part.startswith(".") for part in relative):
                continue
            if path.name.lower() == "readme.md" or not path.is_file():
                continue
            if not folder.holds(path):
                problems.append(
                    _problem(path, 0, f"the file links to outside the content folder {root}")
                )
                continue
            files.append((folder, path))
    return files


@dataclass(frozen=True, slots=True)
class _FrontMatter:
    data: dict[str, Any]
    key_lines: dict[str, int]
    body: str
    body_line: int


def _split_front_matter(path: Path, text: str, problems: list[FileProblem]) -> _FrontMatter | None:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.append(_problem(path, 1, "no front matter: the file must start with a '---' line"))
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        problems.append(_problem(path, 1, "front matter is not closed with a '---' line"))
        return None
    yaml_text = "\n".join(lines[1:end])
    try:
        loader = _Loader(yaml_text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        problems.append(_problem(path, line, f"broken YAML in front matter: {reason}"))
        return None
    if not isinstance(data, dict):
        problems.append(_problem(path, 1, "front matter must be a YAML mapping of keys"))
        return None
    key_lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            key_lines[str(key_node.value)] = key_node.start_mark.line + 2
    body = "\n".join(lines[end + 1 :])
    return _FrontMatter({str(k): v for k, v in data.items()}, key_lines, body, end + 2)


def _load_file(path: Path, problems: list[FileProblem], folder: _Folder) -> Entry | None:
    try:
        raw = path.read_bytes()
    except OSError as error:
        problems.append(_problem(path, 0, f"cannot read: {error.strerror}"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        problems.append(_problem(path, line, "not UTF-8 text"))
        return None
    front = _split_front_matter(path, text.replace("\r\n", "\n"), problems)
    if front is None:
        return None
    data, lines = front.data, front.key_lines

    def at(key: str) -> int:
        return lines.get(key, 1)

    for key in data:
        if key not in KNOWN_KEYS:
            problems.append(_problem(path, at(key), f"unknown front-matter key {key!r}"))
    context = _Context(path, at, [])
    try:
        matter = FrontMatter.model_validate(data, context=context)
    except ValidationError as error:  # the first reason to skip the file, as the file reads
        first = error.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        problems.append(_problem(path, at(key), first["msg"]))
        return None
    problems.extend(context.problems)
    files: list[Path] = []
    for name in matter.files:
        attached, problem = _attachment(path, name, matter.id, folder)
        if attached is not None:
            files.append(attached)
        else:
            problems.append(_problem(path, at("files"), problem))
    intro, steps = parse_steps(front.body, front.body_line)
    return Entry(
        id=matter.id,
        kind=matter.kind,
        title=matter.title,
        aliases=matter.aliases,
        tags=matter.tags,
        files=tuple(files),
        body=front.body.strip(),
        source=path,
        line=at("id"),
        steps=steps,
        intro=intro if steps else "",
    )


def _attachment(path: Path, name: str, entry_id: str, folder: _Folder) -> tuple[Path | None, str]:
    """The file `name` of the entry at `path`, or why it cannot be attached.

    Only a file inside the entry's content folder is attached: `files` is written by content
    authors, and `../../../../etc/hostname`, `/etc/hostname` or a symlink to it would send a
    file of the server to whoever opens the entry.
    """
    what = f"file {name!r} of entry {entry_id!r}"
    if Path(name).is_absolute():
        return None, f"{what} is an absolute path: give it relative to the entry's file"
    attached = path.parent / name
    inside = folder.holds(attached)
    if inside is None:
        return None, f"{what} cannot be resolved (a symlink loop or a bad character)"
    if not inside:
        return None, f"{what} is outside the content folder {folder.root}: it is not attached"
    if not attached.is_file():
        return None, f"{what} not found"
    return attached, ""


@dataclass(frozen=True, slots=True)
class _Context:
    """What the front matter is checked against; problems that do not skip the file."""

    path: Path
    at: Callable[[str], int]
    problems: list[FileProblem]


def _context(info: ValidationInfo) -> _Context:
    context = info.context
    assert isinstance(context, _Context), "validate with context=_Context(...)"
    return context


_NO_ID = object()


def _id(value: Any, info: ValidationInfo) -> str:
    """The id, by default the file's name; YAML reads `id: 42` as a number."""
    if value is _NO_ID:
        value = _context(info).path.stem
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise why("id must be a non-empty string; file skipped")
    return value.strip()


def _kind(value: Any) -> str:
    if value is None:
        raise why("missing kind; file skipped")
    if not isinstance(value, str) or value not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise why(f"unknown kind {value!r} (known: {known}); file skipped")
    return value


def _title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise why("missing title; file skipped")
    return value.strip()


def _strings(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    """A list-of-strings field; anything else is reported and the usable strings kept."""
    if value is None:
        return ()
    context, key = _context(info), str(info.field_name)
    line = context.at(key)
    problems = context.problems
    if isinstance(value, str):
        problems.append(
            _problem(context.path, line, f"{key} must be a list of strings, not one string")
        )
        return (value.strip(),) if value.strip() else ()
    if not isinstance(value, list):
        problems.append(_problem(context.path, line, f"{key} must be a list of strings"))
        return ()
    kept: list[str] = []
    for item in value:
        if isinstance(item, str) and item.strip():
            kept.append(item.strip())
        else:
            problems.append(
                _problem(context.path, line, f"{key} must be a list of strings: {item!r}")
            )
    return tuple(dict.fromkeys(kept))


Strings = Annotated[tuple[str, ...], PlainValidator(_strings)]


class FrontMatter(BaseModel):
    """The YAML between the `---` lines. Checked in this order; the first bad one skips the file.

    An unusable id, kind or title skips the file; bad aliases, tags or files are
    reported and the usable part kept, so that a typo costs one alias, not the entry.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Annotated[str, PlainValidator(_id)] = Field(_NO_ID, validate_default=True)
    kind: Annotated[str, PlainValidator(_kind)] = Field(None, validate_default=True)
    title: Annotated[str, PlainValidator(_title)] = Field(None, validate_default=True)
    aliases: Strings = ()
    tags: Strings = ()
    files: Strings = ()


def _drop_duplicates(entries: list[Entry], problems: list[FileProblem]) -> list[Entry]:
    by_id: dict[str, list[Entry]] = {}
    for entry in entries:
        by_id.setdefault(entry.id, []).append(entry)
    for same in by_id.values():
        for entry in same if len(same) > 1 else ():
            where = ", ".join(f"{e.source}:{e.line}" for e in same if e is not entry)
            problems.append(
                _problem(entry.source, entry.line, f"duplicate id {entry.id!r}: also {where}")
            )
    return [same[0] for same in by_id.values()]


def _check_steps(entry: Entry) -> list[FileProblem]:
    """Broken answer links, duplicate step ids and steps no answer leads to."""
    if not entry.steps:
        return []
    problems: list[FileProblem] = []
    ids: dict[str, ScriptStep] = {}
    for step in entry.steps:
        if step.id in ids:
            problems.append(_problem(entry.source, step.line, f"duplicate step id {step.id!r}"))
        else:
            ids[step.id] = step
    for step in entry.steps:
        for answer in step.answers:
            if answer.target not in ids:
                problems.append(
                    _problem(entry.source, answer.line, f"link to missing step #{answer.target}")
                )
    reached = {entry.steps[0].id}
    queue = [entry.steps[0]]
    while queue:
        for answer in queue.pop().answers:
            target = ids.get(answer.target)
            if target is not None and target.id not in reached:
                reached.add(target.id)
                queue.append(target)
    for step in entry.steps:
        if step.id not in reached:
            problems.append(
                _problem(entry.source, step.line, f"step #{step.id} is unreachable from the start")
            )
    return problems
