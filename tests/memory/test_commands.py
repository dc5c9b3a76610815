"""The memory commands: init_databases (idempotent, clear failures), check_memory (finds planted
drift, exits non-zero), reindex_memory (rebuilds, --recreate after an embedder change)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from apps.memory.models import Experience
from apps.memory.services import long_term
from apps.memory.services.long_term import MemoryPoint
from tests.factories import ExperienceFactory

from .conftest import TEST_DIMENSION

pytestmark = pytest.mark.django_db


def run(*args, stderr=None) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=stderr if stderr is not None else io.StringIO())
    return out.getvalue()


@pytest.fixture
def indexed(backend):
    """Ten experiences, in PostgreSQL and in Qdrant."""
    experiences = ExperienceFactory.create_batch(10)
    long_term.experiences_upsert(Experience.objects.filter(pk__in=[e.pk for e in experiences]))
    return experiences


# --- init_databases -----------------------------------------------------------------------------


def test_init_databases_makes_the_stores_ready_and_is_idempotent():
    first = run("init_databases")
    second = run("init_databases")

    assert "PostgreSQL: migrations up to date" in first
    assert "Redis answers" in first
    assert "collection 'trading_experiences' created" in first
    assert "collection 'trading_experiences' present" in second
    state = long_term.get_backend().describe()
    assert (state.exists, state.dimension) == (True, TEST_DIMENSION)


def test_init_databases_dry_run_creates_nothing():
    out = run("init_databases", "--dry-run")

    assert "would be created" in out
    assert long_term.get_backend().describe().exists is False


def test_init_databases_with_redis_down_says_what_to_check():
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"), pytest.raises(CommandError, match="REDIS_URL"):
        run("init_databases")


def test_init_databases_refuses_a_collection_of_another_embedder(backend, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32

    with pytest.raises(CommandError, match=r"manage\.py reindex_memory --recreate"):
        run("init_databases")


# --- check_memory -------------------------------------------------------------------------------


def test_check_memory_reports_no_drift_when_in_step(indexed):
    assert "No drift: 10 experiences in PostgreSQL; 10 points" in run("check_memory")


def test_check_memory_finds_planted_drift_and_exits_non_zero(indexed, backend):
    missing, stale = indexed[0], indexed[1]
    backend.delete([missing.id])
    Experience.objects.filter(pk=stale.pk).update(reflection="changed behind the memory service's back")
    backend.upsert(
        [MemoryPoint(experience_id="exp_stray", vector=[1.0] * TEST_DIMENSION, payload={"id": "exp_stray"})]
    )

    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("check_memory", stdout=out, stderr=io.StringIO())

    message = str(error.value)
    assert "1 missing from Qdrant" in message
    assert "1 only in Qdrant" in message
    assert "1 stale" in message
    assert f"missing: {missing.id}" in out.getvalue()
    assert f"stale: {stale.id}" in out.getvalue()
    assert "orphaned: exp_stray" in out.getvalue()


def test_reindex_memory_clears_the_drift(indexed, backend):
    backend.delete([indexed[0].id])
    Experience.objects.filter(pk=indexed[1].pk).update(importance_score="0.99")
    backend.upsert(
        [MemoryPoint(experience_id="exp_stray", vector=[1.0] * TEST_DIMENSION, payload={"id": "exp_stray"})]
    )

    out = run("reindex_memory", "--batch-size", "3")

    assert "10 experiences indexed" in out
    assert "1 stray points removed" in out
    assert "No drift" in run("check_memory")
    assert backend.count() == 10


def test_check_memory_repair_pushes_the_drifted_experiences(
    indexed, backend, django_capture_on_commit_callbacks
):
    backend.delete([indexed[0].id])
    with django_capture_on_commit_callbacks(execute=True):
        out = run("check_memory", "--repair")

    assert "No drift" in out
    assert backend.count() == 10


def test_check_memory_reports_a_collection_of_another_embedder(indexed, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32

    with pytest.raises(CommandError, match="reindex_memory --recreate"):
        run("check_memory")


def test_reindex_memory_recreate_rebuilds_for_a_new_embedder(indexed, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32
    with pytest.raises(CommandError, match="--recreate"):
        run("check_memory")

    out = run("reindex_memory", "--recreate")

    assert "recreated, 10 experiences indexed with hashing-v1 (32 dimensions)" in out
    assert long_term.get_backend().describe().dimension == 32
    assert "No drift" in run("check_memory")


def test_reindex_memory_detects_a_collection_of_another_embedder_and_rebuilds_it(indexed, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32
    stderr = io.StringIO()

    out = run("reindex_memory", stderr=stderr)

    assert "built by hashing-v1 with 64 dimensions" in stderr.getvalue()
    assert "Rebuilding it." in stderr.getvalue()
    assert "recreated, 10 experiences indexed with hashing-v1 (32 dimensions)" in out
    assert long_term.get_backend().describe().dimension == 32
    assert "No drift" in run("check_memory")


def test_reindex_memory_rebuilds_a_collection_of_the_old_dense_only_layout(indexed, backend):
    # A collection as the previous version made it: one unnamed vector, no lexical one.
    backend.drop_collection()
    backend._client.create_collection(
        backend.collection,
        vectors_config=backend._models.VectorParams(
            size=TEST_DIMENSION, distance=backend._models.Distance.COSINE
        ),
        metadata={"embedder": "hashing-v1", "dimension": TEST_DIMENSION},
    )
    backend.verified_for = None
    stderr = io.StringIO()

    out = run("reindex_memory", stderr=stderr)

    assert "dense-only" in stderr.getvalue()
    assert "recreated, 10 experiences indexed" in out
    assert long_term.get_backend().describe().metadata["layout"] == "hybrid-v1"
    assert "No drift" in run("check_memory")


def test_reindex_memory_dry_run_changes_nothing(indexed, backend, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32
    out = run("reindex_memory", "--recreate", "--dry-run")

    assert "[dry run, nothing changed]" in out
    assert backend.describe().dimension == TEST_DIMENSION


def test_init_databases_stops_on_another_embedders_collection_unless_told_to_rebuild_it(indexed, settings):
    settings.MEMORY_EMBEDDING_DIMENSION = 32
    with pytest.raises(CommandError, match="built by hashing-v1 with 64 dimensions"):
        run("init_databases")
    stderr = io.StringIO()

    run("init_databases", "--rebuild-stale", stderr=stderr)

    assert "Rebuilding it from PostgreSQL." in stderr.getvalue()
    assert long_term.get_backend().describe().dimension == 32
    assert "No drift" in run("check_memory")
