"""Agent principals with hashed tokens, the API's idempotency keys, and the record of who wrote what."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now

from apps.common.fields import choices_check


class Agent(models.Model):
    """A trading agent allowed to call the API. Only a SHA-256 digest of its token is stored.

    Not a Django user: an agent cannot log in to the admin, and staff accounts cannot call the
    API with their passwords.
    """

    name = models.CharField(
        max_length=100,
        help_text="Who the agent is, e.g. btc-swing-trader. Shown beside everything it writes.",
    )
    token_digest = models.CharField(
        max_length=64,
        editable=False,
        help_text="Hex SHA-256 of the token; the token itself is shown once, at creation.",
    )
    created_at = models.DateTimeField(
        db_default=Now(),
        editable=False,
    )
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
    )
    last_used_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Updated at most once a minute.",
    )

    class Meta:
        db_table = "agents"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="agents_name_key"),
            models.UniqueConstraint(fields=["token_digest"], name="agents_token_digest_key"),
        ]

    # DRF and Django's permission checks ask the principal these two questions.
    is_authenticated = True
    is_anonymous = False

    def __str__(self) -> str:
        return self.name if self.is_active else f"{self.name} (revoked)"

    def __repr__(self) -> str:
        # The digest is not the token, but it has no business in logs either.
        return f"<Agent id={self.pk} name={self.name!r} revoked={not self.is_active}>"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """The first answer to a create sent with an `Idempotency-Key` header, replayed on a retry."""

    agent = models.ForeignKey(
        Agent,
        on_delete=models.CASCADE,
        related_name="idempotency_keys",
    )
    key = models.CharField(
        max_length=255,
    )
    request_method = models.CharField(
        max_length=10,
    )
    request_path = models.CharField(
        max_length=255,
    )
    request_hash = models.CharField(
        max_length=64,
        help_text="SHA-256 of the method, the path and the canonical JSON body.",
    )
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(
        encoder=DjangoJSONEncoder,
    )
    created_at = models.DateTimeField(
        db_default=Now(),
        editable=False,
    )

    class Meta:
        db_table = "agent_idempotency_keys"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "key"], name="agent_idempotency_keys_agent_key_key"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="idx_agent_idempotency_created"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}:{self.key} -> {self.response_status}"


class WriteAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    CLOSED = "closed", "Closed"


class AgentWrite(models.Model):
    """One row an agent created or changed through the API: the seed's tables have no author column."""

    agent = models.ForeignKey(
        Agent,
        on_delete=models.PROTECT,
        related_name="writes",
    )
    resource = models.CharField(
        max_length=50,
        help_text="The table written, e.g. orders, trades, decisions.",
    )
    object_id = models.CharField(
        max_length=100,
    )
    action = models.CharField(
        max_length=20,
        choices=WriteAction.choices,
    )
    created_at = models.DateTimeField(
        db_default=Now(),
        editable=False,
    )

    class Meta:
        db_table = "agent_writes"
        ordering = ["-created_at"]
        constraints = [
            choices_check("action", WriteAction, table="agent_writes"),
        ]
        indexes = [
            models.Index(fields=["resource", "object_id"], name="idx_agent_writes_object"),
            models.Index(fields=["agent", "-created_at"], name="idx_agent_writes_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.action} {self.resource} {self.object_id}"
