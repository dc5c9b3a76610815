"""The memory benchmark: how well recall finds paraphrases of a situation and keeps its opposite out.

The retrieval set (apps/memory/evaluation/retrieval_set.json) is the project's own: groups of trading
situations, each stored as three experiences and asked for by five paraphrases (other tickers, names,
jargon and numbers), most paired with the group of the opposite direction, plus distractors that share
words with them. Every query runs through `memory_recall` as an agent's would, on a scratch collection
of the embedded engine (nothing of PostgreSQL or of the real collection is touched), for each embedder,
with hybrid search on and off and the direction features on and off. Per configuration:

- recall@3: the share of a query's group found in its top 3 (3 experiences a group), averaged;
- MRR: the mean of 1 / rank of the first experience of the group in the top 10 (0 when none);
- opposite@3: the share of queries with an opposite group that have any of its experiences in the top 3.

All experiences carry the same importance and moment, so only the match itself ranks them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from ..models import Experience, Outcome
from . import embeddings, long_term
from .long_term.interface import MemoryPoint
from .recall import RankingWeights, memory_recall

RETRIEVAL_SET = Path(__file__).resolve().parent.parent / "evaluation" / "retrieval_set.json"
MOMENT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TOP = 3
DEPTH = 10
# With the default configuration (ONNX, hybrid and direction on), on the retrieval set.
TARGET_RECALL_AT_3 = 0.60
TARGET_OPPOSITE_AT_3 = 0.15


@dataclass(frozen=True)
class Query:
    text: str
    group: str
    opposite: str | None


@dataclass
class RetrievalSet:
    experiences: dict[str, tuple[str, str | None]]  # id -> (situation, group or None for a distractor)
    queries: list[Query]

    def group_members(self) -> dict[str, set[str]]:
        members: dict[str, set[str]] = {}
        for experience_id, (_, group) in self.experiences.items():
            if group is not None:
                members.setdefault(group, set()).add(experience_id)
        return members


def retrieval_set_load(path: Path = RETRIEVAL_SET) -> RetrievalSet:
    """The set, checked: unique groups, opposites that exist and point back."""
    data = json.loads(Path(path).read_text())
    groups = {group["id"]: group for group in data["groups"]}
    if len(groups) != len(data["groups"]):
        raise ImproperlyConfigured(f"{path}: two groups share an id.")
    experiences: dict[str, tuple[str, str | None]] = {}
    queries: list[Query] = []
    for group in data["groups"]:
        opposite = group.get("opposite")
        if opposite is not None and groups.get(opposite, {}).get("opposite") != group["id"]:
            raise ImproperlyConfigured(f"{path}: {group['id']}'s opposite {opposite} does not point back.")
        for number, situation in enumerate(group["experiences"], start=1):
            experiences[f"eval_{group['id']}_{number}"] = (situation, group["id"])
        queries.extend(Query(text=text, group=group["id"], opposite=opposite) for text in group["queries"])
    for number, situation in enumerate(data.get("distractors", []), start=1):
        experiences[f"eval_distractor_{number}"] = (situation, None)
    return RetrievalSet(experiences=experiences, queries=queries)


@dataclass
class EvaluationRow:
    embedder: str
    hybrid: bool
    direction: bool
    queries: int = 0
    recall_at_3: float = 0.0
    mrr: float = 0.0
    opposite_at_3: float = 0.0
    seconds: float = 0.0
    default: bool = False  # the configuration make run and production use

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EvaluationReport:
    rows: list[EvaluationRow] = field(default_factory=list)
    queries: int = 0
    experiences: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # embedder -> why

    @property
    def default_row(self) -> EvaluationRow | None:
        return next((row for row in self.rows if row.default), None)

    @property
    def targets_met(self) -> bool | None:
        row = self.default_row
        if row is None:
            return None
        return row.recall_at_3 >= TARGET_RECALL_AT_3 and row.opposite_at_3 <= TARGET_OPPOSITE_AT_3


def _experience(experience_id: str, situation: str) -> Experience:
    """An unsaved row: only its payload is needed, and nothing is written to PostgreSQL."""
    return Experience(
        id=experience_id,
        situation=situation,
        decision="-",
        decision_reasoning="-",
        outcome=Outcome.SUCCESS,
        importance_score=None,
        timestamp=int(MOMENT.timestamp() * 1000),
        datetime=MOMENT,
    )


def _load(retrieval: RetrievalSet) -> None:
    backend = long_term.get_backend()
    long_term.collection_recreate()
    from .lexical import sparse_document

    experiences = [_experience(i, situation) for i, (situation, _) in retrieval.experiences.items()]
    texts = [long_term.experience_embedding_text(e) for e in experiences]
    vectors = embeddings.get_embedder().embed(texts)
    backend.upsert(
        [
            MemoryPoint(
                experience_id=e.id,
                vector=vector,
                payload=long_term.experience_payload(e),
                sparse=sparse_document(text),
            )
            for e, vector, text in zip(experiences, vectors, texts, strict=True)
        ]
    )


def _score(
    retrieval: RetrievalSet, *, hybrid: bool, direction: bool, progress: Callable[[Iterable], Iterable]
) -> tuple[float, float, float]:
    members = retrieval.group_members()
    weights = RankingWeights.from_settings()
    if not direction:
        weights = RankingWeights(
            similarity=weights.similarity,
            importance=weights.importance,
            recency=weights.recency,
            half_life_days=weights.half_life_days,
        )
    recall_sum = reciprocal_sum = 0.0
    opposite_hits = with_opposite = 0
    for query in progress(retrieval.queries):
        hits = memory_recall(text=query.text, limit=DEPTH, hybrid=hybrid, now=MOMENT, weights=weights)
        ranked = [hit.experience_id for hit in hits]
        relevant = members[query.group]
        recall_sum += len(relevant & set(ranked[:TOP])) / min(TOP, len(relevant))
        first = next((rank for rank, i in enumerate(ranked, start=1) if i in relevant), None)
        reciprocal_sum += 1 / first if first else 0.0
        if query.opposite is not None:
            with_opposite += 1
            opposite_hits += bool(members[query.opposite] & set(ranked[:TOP]))
    count = len(retrieval.queries)
    return recall_sum / count, reciprocal_sum / count, opposite_hits / with_opposite if with_opposite else 0.0


def memory_evaluate(
    *,
    embedders: Sequence[str] = ("hashing", "onnx"),
    path: Path = RETRIEVAL_SET,
    progress: Callable[[Iterable, int, str], Iterable] | None = None,
) -> EvaluationReport:
    """Run the retrieval set through recall for each embedder, hybrid on and off, direction on and off."""
    import time

    retrieval = retrieval_set_load(path)
    report = EvaluationReport(queries=len(retrieval.queries), experiences=len(retrieval.experiences))
    default_embedder = settings.MEMORY_EMBEDDER
    scratch = tempfile.mkdtemp(prefix="tradeoffice-eval-")
    try:
        for choice in embedders:
            overrides = {
                "MEMORY_EMBEDDER": choice,
                "MEMORY_EMBEDDING_DIMENSION": None,
                "QDRANT_URL": "",
                "QDRANT_EMBEDDED_ENGINE": "edge",
                "QDRANT_PATH": scratch,
                "QDRANT_COLLECTION": f"memory_eval_{choice.replace('-', '_')}",
            }
            with override_settings(**overrides):
                try:
                    embedder = embeddings.get_embedder()
                except ImproperlyConfigured as exc:
                    report.skipped[choice] = str(exc)
                    continue
                try:
                    _load(retrieval)
                    for hybrid in (False, True):
                        for direction in (False, True):
                            label = f"{embedder.name} hybrid={'on' if hybrid else 'off'} "
                            label += f"direction={'on' if direction else 'off'}"

                            def bar(items, label=label):
                                if progress is None:
                                    return items
                                return progress(items, len(retrieval.queries), label)

                            started = time.monotonic()
                            recall_at_3, mrr, opposite = _score(
                                retrieval, hybrid=hybrid, direction=direction, progress=bar
                            )
                            report.rows.append(
                                EvaluationRow(
                                    embedder=embedder.name,
                                    hybrid=hybrid,
                                    direction=direction,
                                    queries=len(retrieval.queries),
                                    recall_at_3=round(recall_at_3, 4),
                                    mrr=round(mrr, 4),
                                    opposite_at_3=round(opposite, 4),
                                    seconds=round(time.monotonic() - started, 2),
                                    default=(
                                        choice == default_embedder
                                        and hybrid == bool(settings.MEMORY_HYBRID)
                                        and direction
                                    ),
                                )
                            )
                finally:
                    long_term.reset_backend()
    finally:
        long_term.reset_backend()
        embeddings.reset_embedder()
        shutil.rmtree(scratch, ignore_errors=True)
    return report
