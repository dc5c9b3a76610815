"""A distributed Qdrant: shard_number, replication_factor and write_consistency_factor from the settings
reach the server when the collection is created; the embedded engines ignore them."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.memory.services import long_term
from apps.memory.services.long_term.interface import DENSE_VECTOR, SPARSE_VECTOR


class RecordingClient:
    """What a Qdrant server would be asked to do."""

    def __init__(self):
        self.created = None

    def create_collection(self, name, **kwargs):
        self.created = (name, kwargs)


@pytest.fixture(autouse=True)
def fresh_backend(monkeypatch):
    # No server answers at the URL; the client's background version probe would only warn.
    from qdrant_client.qdrant_remote import QdrantRemote

    monkeypatch.setattr(QdrantRemote, "_check_compatibility", staticmethod(lambda *args, **kwargs: None))
    long_term.reset_backend()
    yield
    long_term.reset_backend()


def test_the_cluster_layout_is_sent_when_the_collection_is_created(settings):
    settings.QDRANT_URL = "http://127.0.0.1:9"
    settings.QDRANT_SHARD_NUMBER = 6
    settings.QDRANT_REPLICATION_FACTOR = 2
    settings.QDRANT_WRITE_CONSISTENCY_FACTOR = 1
    backend = long_term.build_backend()
    backend._client = RecordingClient()

    backend.create_collection(dimension=384, metadata={"embedder": "hashing-v1", "dimension": 384})

    name, arguments = backend._client.created
    assert name == settings.QDRANT_COLLECTION
    assert (arguments["shard_number"], arguments["replication_factor"]) == (6, 2)
    assert arguments["write_consistency_factor"] == 1
    assert arguments["vectors_config"][DENSE_VECTOR].size == 384
    assert arguments["sparse_vectors_config"][SPARSE_VECTOR].modifier == "idf"  # the lexical half
    assert arguments["metadata"] == {"embedder": "hashing-v1", "dimension": 384}


def test_unset_the_server_chooses_and_the_embedded_engines_never_see_them(settings, tmp_path):
    settings.QDRANT_URL = "http://127.0.0.1:9"
    settings.QDRANT_SHARD_NUMBER = None
    settings.QDRANT_REPLICATION_FACTOR = None
    server = long_term.build_backend()
    server._client = RecordingClient()
    server.create_collection(dimension=8, metadata={})
    assert "shard_number" not in server._client.created[1]
    assert "replication_factor" not in server._client.created[1]

    settings.QDRANT_URL = ""
    settings.QDRANT_SHARD_NUMBER = 6
    settings.QDRANT_EMBEDDED_ENGINE = "local"
    settings.QDRANT_PATH = ":memory:"
    assert long_term.build_backend().distribution == {}


def test_an_unknown_embedded_engine_is_refused(settings):
    settings.QDRANT_URL = ""
    settings.QDRANT_EMBEDDED_ENGINE = "faiss"
    with pytest.raises(ImproperlyConfigured, match="'edge' or 'local'"):
        long_term.build_backend()
