"""The memory benchmark: its retrieval set, and eval_memory on the fast embedder."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.memory.services.evaluation import retrieval_set_load


def test_the_retrieval_set_is_the_size_and_shape_documented():
    retrieval = retrieval_set_load()
    members = retrieval.group_members()

    assert len(retrieval.queries) >= 150
    assert all(len(ids) == 3 for ids in members.values())
    with_opposite = [q for q in retrieval.queries if q.opposite]
    assert len({q.group for q in with_opposite}) >= 20  # opposite pairs on both sides
    assert sum(1 for _, group in retrieval.experiences.values() if group is None) >= 20  # distractors


def test_eval_memory_reports_each_configuration_and_direction_features_cut_opposites(tmp_path):
    output = tmp_path / "eval.json"
    out = io.StringIO()

    call_command(
        "eval_memory", "--embedders", "hashing", "--output", str(output), stdout=out, stderr=io.StringIO()
    )

    rows = json.loads(output.read_text())["rows"]
    assert [(r["hybrid"], r["direction"]) for r in rows] == [
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    ]
    by = {(r["hybrid"], r["direction"]): r for r in rows}
    for hybrid in (False, True):
        assert by[(hybrid, True)]["opposite_at_3"] < by[(hybrid, False)]["opposite_at_3"]
    assert all(0 < r["recall_at_3"] <= 1 and 0 < r["mrr"] <= 1 for r in rows)
    assert "hashing-v1" in out.getvalue() and "recall@3" in out.getvalue()


def test_an_unknown_embedder_is_refused():
    with pytest.raises(CommandError, match="Unknown embedder"):
        call_command("eval_memory", "--embedders", "word2vec", stdout=io.StringIO())
