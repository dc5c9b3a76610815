"""Embedders: the offline hashing default, OpenAI over HTTP (mocked at the transport), the choice by
settings and its errors."""

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.memory.services import embeddings
from apps.memory.services.embeddings import EmbeddingError, HashingEmbedder, OpenAIEmbedder

API_KEY = "sk-test-0123456789abcdefSECRET"


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- hashing ------------------------------------------------------------------------------------


def test_hashing_vectors_are_unit_length_of_the_configured_dimension():
    vectors = HashingEmbedder(dimension=96).embed(["BTC oversold on the 1h", "ETH breakout", "?!"])

    assert [len(v) for v in vectors] == [96, 96, 96]
    assert all(abs(np.linalg.norm(v) - 1) < 1e-9 for v in vectors)


def test_hashing_is_the_same_in_another_process(settings):
    text = "BTC price at 45000, RSI oversold on the 1h; funding negative."
    here = HashingEmbedder(dimension=64).embed_one(text)
    script = (
        "import json, django; django.setup(); "
        "from apps.memory.services.embeddings import HashingEmbedder; "
        f"print(json.dumps(HashingEmbedder(dimension=64).embed_one({text!r})))"
    )
    # A different hash seed: Python's own hash() would give other vectors; BLAKE2b must not.
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.test"},
        cwd=settings.BASE_DIR,
    )
    assert json.loads(out.stdout) == here


def test_the_api_and_the_hashing_embedder_load_neither_numpy_nor_httpx(settings):
    """Each is ~20 MB in every API worker (bench/footprint.py); only the embedders needing them load them."""
    script = (
        "import sys, django; django.setup(); "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "from apps.memory.services.embeddings import HashingEmbedder; "
        "HashingEmbedder(dimension=64).embed_one('x'); "
        "print(sorted({'numpy', 'httpx'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.test"},
        cwd=settings.BASE_DIR,
    )
    assert out.stdout.strip() == "[]"


def test_hashing_puts_related_situations_closer_than_unrelated_ones():
    embedder = HashingEmbedder(dimension=384)
    query, related, unrelated = embedder.embed(
        [
            "BTC oversold, RSI 28 on the 1h, expecting a bounce",
            "BTC/USDT RSI oversold on the 1h chart; bounce setup",
            "ETH funding rate spiked; short the breakout failure",
        ]
    )
    assert cosine(query, related) > cosine(query, unrelated) + 0.2


def test_hashing_refuses_a_tiny_dimension():
    with pytest.raises(ImproperlyConfigured, match="MEMORY_EMBEDDING_DIMENSION"):
        HashingEmbedder(dimension=4)


# --- the configured embedder --------------------------------------------------------------------


def test_the_setting_chooses_the_embedder_and_its_dimension(settings):
    settings.MEMORY_EMBEDDER = "hashing"
    settings.MEMORY_EMBEDDING_DIMENSION = 48
    embedder = embeddings.get_embedder()

    assert isinstance(embedder, HashingEmbedder)
    assert (embedder.name, embedder.dimension) == ("hashing-v1", 48)
    assert embeddings.get_embedder() is embedder  # built once per process


def test_an_unknown_embedder_names_the_choices(settings):
    settings.MEMORY_EMBEDDER = "word2vec"
    with pytest.raises(ImproperlyConfigured, match="hashing, openai, sentence-transformers"):
        embeddings.get_embedder()


def test_openai_without_a_key_says_which_setting_is_missing(settings):
    settings.MEMORY_EMBEDDER = "openai"
    settings.OPENAI_API_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="OPENAI_API_KEY"):
        embeddings.get_embedder()


def test_openai_from_settings_uses_1536_dimensions(settings):
    settings.MEMORY_EMBEDDER = "openai"
    settings.OPENAI_API_KEY = API_KEY
    settings.MEMORY_EMBEDDING_DIMENSION = None

    embedder = embeddings.get_embedder()
    assert (embedder.name, embedder.dimension) == ("openai/text-embedding-3-small", 1536)
    assert API_KEY not in repr(embedder)


def test_sentence_transformers_not_installed_says_how_to_install(settings):
    settings.MEMORY_EMBEDDER = "sentence-transformers"
    settings.SENTENCE_TRANSFORMERS_MODEL = "/models/all-MiniLM-L6-v2"
    with pytest.raises(ImproperlyConfigured, match="pip install sentence-transformers"):
        embeddings.get_embedder()


# --- OpenAI over HTTP ---------------------------------------------------------------------------


def openai_embedder(handler, **kwargs) -> OpenAIEmbedder:
    return OpenAIEmbedder(api_key=API_KEY, transport=httpx.MockTransport(handler), **kwargs)


def fake_vectors(texts, dimension):
    return [[float(i + 1)] + [0.0] * (dimension - 1) for i in range(len(texts))]


def test_openai_posts_the_texts_and_returns_vectors_in_input_order():
    requests = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = json.loads(request.content)
        vectors = fake_vectors(body["input"], 1536)
        data = [{"index": i, "embedding": v, "object": "embedding"} for i, v in enumerate(vectors)]
        return httpx.Response(200, json={"data": list(reversed(data)), "model": body["model"]})

    vectors = openai_embedder(handler).embed(["first", "second", "third"])

    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0]
    request = requests[0]
    assert str(request.url) == "https://api.openai.com/v1/embeddings"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = json.loads(request.content)
    assert body["model"] == "text-embedding-3-small"
    assert body["input"] == ["first", "second", "third"]
    assert "dimensions" not in body


def test_openai_batches_large_inputs_and_asks_for_a_shorter_vector_when_configured():
    sizes = []

    def handler(request):
        body = json.loads(request.content)
        sizes.append((len(body["input"]), body.get("dimensions")))
        vectors = fake_vectors(body["input"], 256)
        return httpx.Response(
            200, json={"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]}
        )

    vectors = openai_embedder(handler, dimension=256).embed([f"text {n}" for n in range(300)])

    assert len(vectors) == 300
    assert sizes == [(256, 256), (44, 256)]


def test_openai_refusing_the_key_never_echoes_it():
    def handler(request):
        return httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {API_KEY}"}})

    with pytest.raises(EmbeddingError) as error:
        openai_embedder(handler).embed(["x"])
    assert "OPENAI_API_KEY" in str(error.value)
    assert API_KEY not in str(error.value)


def test_openai_errors_carry_the_status_and_message_without_the_key():
    def handler(request):
        return httpx.Response(429, json={"error": {"message": f"Rate limit reached for {API_KEY}"}})

    with pytest.raises(EmbeddingError) as error:
        openai_embedder(handler).embed(["x"])
    assert "HTTP 429" in str(error.value)
    assert "Rate limit reached" in str(error.value)
    assert API_KEY not in str(error.value)


def test_openai_network_failure_is_an_embedding_error():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(EmbeddingError, match="ConnectError"):
        openai_embedder(handler).embed(["x"])


def test_openai_answering_the_wrong_dimension_is_an_error():
    def handler(request):
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [0.1, 0.2]}]})

    with pytest.raises(EmbeddingError, match="expected 1536"):
        openai_embedder(handler).embed(["x"])
