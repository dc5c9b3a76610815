"""The exchanges the agent trades on, with their API credentials encrypted at rest."""

from django.db import models

from apps.common.fields import CurrentTimestamp


class Exchange(models.Model):
    """One exchange account. The three credential columns hold Fernet ciphertext only.

    Read the plaintext with `apps.exchanges.services.exchange_credentials`; set it with
    `exchange_register` / `exchange_set_credentials`.
    """

    name = models.CharField(
        max_length=50,
        help_text="The exchange's ccxt id, e.g. binance, okx, kraken.",
    )
    api_key_encrypted = models.TextField(
        editable=False,
    )
    api_secret_encrypted = models.TextField(
        editable=False,
    )
    password_encrypted = models.TextField(
        null=True,
        blank=True,
        editable=False,
    )
    testnet = models.BooleanField(
        null=True,
        db_default=False,
    )
    is_active = models.BooleanField(
        null=True,
        db_default=True,
    )
    created_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
    )
    updated_at = models.DateTimeField(
        null=True,
        db_default=CurrentTimestamp(),
        editable=False,
        help_text="Kept current by the database trigger update_exchanges_updated_at.",
    )

    class Meta:
        db_table = "exchanges"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="exchanges_name_key"),
        ]
        indexes = [
            models.Index(fields=["name"], name="idx_exchanges_name"),
            models.Index(fields=["is_active"], name="idx_exchanges_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (testnet)" if self.testnet else self.name

    def __repr__(self) -> str:
        # Ciphertext is not secret on its own, but it has no business in logs either.
        return f"<Exchange id={self.pk} name={self.name!r} testnet={self.testnet}>"
