"""The life of an experience after it is written: near duplicates, supersession, the playbook.

- A new experience whose situation is nearly the same as one already kept (cosine similarity at least
  MEMORY_NEAR_DUPLICATE_SIMILARITY) is flagged as its near duplicate: an `experience_links` row, both
  kept, nothing merged; operators see the link on both pages and decide.
- An experience can supersede another: the older leaves default recall (its point's `superseded_by`)
  and stays searchable with `include_superseded`.
- The playbook gathers lessons that recur across experiences, per tag: the same lesson (compared
  without case, punctuation or extra spaces) carried by at least MEMORY_PLAYBOOK_MIN_EXPERIENCES
  experiences of the tag, with how often the experiences carrying it went well or badly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from ..models import Experience, ExperienceLink, LinkKind, OutboxOperation
from . import long_term
from .embeddings import get_embedder
from .outbox import outbox_enqueue

logger = logging.getLogger("tradeoffice.memory.lifecycle")

# Batches larger than this (imports, rebuilds) are not compared one by one on write, where it would hold
# the request for seconds; `manage.py flag_near_duplicates` compares them.
NEAR_DUPLICATE_BATCH_LIMIT = 500


@transaction.atomic
def experience_supersede(*, experience: Experience, supersedes: Experience, note: str = "") -> ExperienceLink:
    """Record that `experience` supersedes `supersedes`: the older leaves default recall."""
    if experience.pk == supersedes.pk:
        raise ValidationError({"supersedes": "An experience cannot supersede itself."})
    locked = {
        e.pk: e
        for e in Experience.objects.select_for_update().filter(pk__in=[experience.pk, supersedes.pk])
    }
    if supersedes.pk not in locked or experience.pk not in locked:
        raise ValidationError({"supersedes": "Both experiences must exist."})
    current = ExperienceLink.objects.filter(kind=LinkKind.SUPERSEDES, target_id=supersedes.pk).first()
    if current is not None:
        if current.source_id == experience.pk:
            return current
        raise ValidationError(
            {"supersedes": f"{supersedes.pk!r} is already superseded by {current.source_id!r}."}
        )
    # No circle: the older one must not (directly or through others) supersede the newer.
    chain, seen = experience.pk, set()
    while chain is not None and chain not in seen:
        seen.add(chain)
        if chain == supersedes.pk:
            raise ValidationError({"supersedes": f"{supersedes.pk!r} already supersedes {experience.pk!r}."})
        chain = (
            ExperienceLink.objects.filter(kind=LinkKind.SUPERSEDES, target_id=chain)
            .values_list("source_id", flat=True)
            .first()
        )
    link = ExperienceLink.objects.create(
        source_id=experience.pk, target_id=supersedes.pk, kind=LinkKind.SUPERSEDES, note=note
    )
    outbox_enqueue(experience_ids=[supersedes.pk], operation=OutboxOperation.UPSERT)
    return link


@transaction.atomic
def experience_unsupersede(*, experience: Experience) -> bool:
    """Bring a superseded experience back into default recall; False when it was not superseded."""
    deleted, _ = ExperienceLink.objects.filter(kind=LinkKind.SUPERSEDES, target_id=experience.pk).delete()
    if deleted:
        outbox_enqueue(experience_ids=[experience.pk], operation=OutboxOperation.UPSERT)
    return bool(deleted)


@transaction.atomic
def experiences_supersede(*, experience_ids: Sequence[str], by_id: str, note: str = "") -> int:
    """Mark each of `experience_ids` as superseded by the experience `by_id` (all or none)."""
    newer = Experience.objects.filter(pk=str(by_id).strip()).first() if str(by_id).strip() else None
    if newer is None:
        raise ValidationError(
            {"supersedes": f"Give the id of the experience that supersedes them; {by_id!r} is none."}
        )
    older = list(Experience.objects.filter(pk__in=list(experience_ids)).order_by("pk"))
    for experience in older:
        experience_supersede(experience=newer, supersedes=experience, note=note)
    return len(older)


@transaction.atomic
def experiences_unsupersede(*, experience_ids: Sequence[str]) -> int:
    """Bring each of `experience_ids` back into default recall; how many were superseded."""
    experiences = Experience.objects.filter(pk__in=list(experience_ids)).order_by("pk")
    return sum(experience_unsupersede(experience=experience) for experience in experiences)


def near_duplicates_flag(*, experience_ids: Sequence[str]) -> list[ExperienceLink]:
    """Compare each experience with long-term memory and link it to the closest older one when
    their cosine similarity reaches the threshold. Run after the experiences' points are written."""
    threshold = float(settings.MEMORY_NEAR_DUPLICATE_SIMILARITY)
    experiences = list(Experience.objects.filter(pk__in=list(experience_ids)).order_by("pk"))
    if not experiences:
        return []
    backend = long_term.collection_ready()
    vectors = get_embedder().embed([long_term.experience_embedding_text(e) for e in experiences])
    links = []
    for experience, vector in zip(experiences, vectors, strict=True):
        candidates = backend.search(
            vector=vector, where=long_term.MemoryFilter(include_superseded=True), limit=5
        )
        for candidate in candidates:
            if candidate.experience_id == experience.pk or candidate.similarity < threshold:
                continue
            if ExperienceLink.objects.filter(
                source_id=candidate.experience_id, target_id=experience.pk, kind=LinkKind.NEAR_DUPLICATE
            ).exists():
                break  # the pair is linked already, the other way round
            link, created = ExperienceLink.objects.get_or_create(
                source_id=experience.pk,
                target_id=candidate.experience_id,
                kind=LinkKind.NEAR_DUPLICATE,
                defaults={"similarity": round(candidate.similarity, 4)},
            )
            if created:
                links.append(link)
            break
    return links


def near_duplicates_flag_all(
    *, since=None, batch_size: int = 100, progress: Callable[[Iterable, int, str], Iterable] | None = None
) -> NearDuplicateReport:
    """near_duplicates_flag over every experience (written from `since` on, a datetime), in batches:
    for what a large write did not compare on write (NEAR_DUPLICATE_BATCH_LIMIT), or after a change of
    MEMORY_NEAR_DUPLICATE_SIMILARITY. A pair already linked either way is not linked again."""
    if batch_size < 1:
        raise ValidationError({"batch_size": "The batch size must be at least 1."})
    experiences = Experience.objects.order_by("pk")
    if since is not None:
        experiences = experiences.filter(created_at__gte=since)
    ids = list(experiences.values_list("pk", flat=True))
    batches = [ids[n : n + batch_size] for n in range(0, len(ids), batch_size)]
    if progress is not None:
        batches = progress(batches, len(batches), "batches compared")
    report = NearDuplicateReport(compared=len(ids))
    for batch in batches:
        report.linked += len(near_duplicates_flag(experience_ids=batch))
    return report


@dataclass
class NearDuplicateReport:
    compared: int
    linked: int = 0


def near_duplicates_flag_after_commit(experience_ids: Sequence[str]) -> None:
    """Flag near duplicates once the write has committed; a failure is logged, never raised
    (the experience is recorded either way, and check_memory covers the push)."""
    ids = list(experience_ids)
    if not ids:
        return
    if len(ids) > NEAR_DUPLICATE_BATCH_LIMIT:
        logger.info(
            "%s experiences written at once: not compared on write; manage.py flag_near_duplicates "
            "compares them.",
            len(ids),
        )
        return

    def flag() -> None:
        try:
            near_duplicates_flag(experience_ids=ids)
        except Exception:  # the write succeeded; a missed flag is only a missed hint
            logger.warning("Near-duplicate check failed for %s experiences.", len(ids), exc_info=True)

    transaction.on_commit(flag)


# --- the playbook ------------------------------------------------------------------------------------


@dataclass
class PlaybookLesson:
    lesson: str
    experiences: int
    successes: int
    failures: int
    experience_ids: list[str] = field(default_factory=list)


PLAYBOOK_SQL = """
WITH lessons AS (
    SELECT e.id, e.outcome, tag, lesson,
           btrim(regexp_replace(lower(lesson), '[^a-z0-9%%]+', ' ', 'g')) AS key
    FROM experiences e
    CROSS JOIN LATERAL unnest(e.situation_tags) AS tag
    CROSS JOIN LATERAL unnest(e.lessons_learned) AS lesson
    WHERE NOT EXISTS (
        SELECT 1 FROM experience_links l WHERE l.target_id = e.id AND l.kind = 'supersedes'
    ) {tag_filter}
)
SELECT tag, key, min(lesson) AS lesson, count(DISTINCT id) AS experiences,
       count(DISTINCT id) FILTER (WHERE outcome = 'success') AS successes,
       count(DISTINCT id) FILTER (WHERE outcome = 'failure') AS failures,
       (array_agg(DISTINCT id))[1:10] AS ids
FROM lessons
WHERE key <> ''
GROUP BY tag, key
HAVING count(DISTINCT id) >= %(min)s
ORDER BY tag, experiences DESC, key
"""


def playbook(
    *, tag: str | None = None, min_experiences: int | None = None
) -> dict[str, list[PlaybookLesson]]:
    """Tag -> its recurring lessons, the most carried first (superseded experiences left out)."""
    if tag is not None and (not isinstance(tag, str) or not tag.strip()):
        raise ValidationError({"tag": "The tag must be a non-empty string."})
    minimum = int(settings.MEMORY_PLAYBOOK_MIN_EXPERIENCES) if min_experiences is None else min_experiences
    if isinstance(minimum, bool) or minimum < 1:
        raise ValidationError({"min_experiences": "min_experiences must be a whole number from 1."})
    params = {"min": minimum}
    tag_filter = ""
    if tag is not None:
        tag_filter = "AND tag = %(tag)s"
        params["tag"] = tag.strip()
    with connection.cursor() as cursor:
        cursor.execute(PLAYBOOK_SQL.format(tag_filter=tag_filter), params)
        rows = cursor.fetchall()
    book: dict[str, list[PlaybookLesson]] = {}
    for tag_name, _key, lesson, count, successes, failures, ids in rows:
        book.setdefault(tag_name, []).append(
            PlaybookLesson(
                lesson=lesson,
                experiences=count,
                successes=successes,
                failures=failures,
                experience_ids=sorted(ids or []),
            )
        )
    return book
