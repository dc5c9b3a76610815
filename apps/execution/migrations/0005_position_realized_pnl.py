"""Realized PnL kept on positions (schema only; compute_realized_pnl fills existing rows).

current_positions is the seed's `SELECT * FROM positions WHERE is_open = TRUE`, whose `*` PostgreSQL
expanded when the view was created: it is replaced after the columns are added so that it carries
them too, and dropped before they are removed on the way back (a view's column cannot be dropped).
"""

from django.db import migrations, models

CURRENT_POSITIONS = """
CREATE OR REPLACE VIEW current_positions AS
SELECT * FROM positions
WHERE is_open = TRUE;
"""
CURRENT_POSITIONS_REVERSE = "DROP VIEW IF EXISTS current_positions;"


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0004_current_timestamp_defaults"),
    ]

    operations = [
        # Backwards, this runs last: the view as it was, over the columns that are left.
        migrations.RunSQL(migrations.RunSQL.noop, reverse_sql=CURRENT_POSITIONS),
        migrations.AddField(
            model_name="position",
            name="realized_pnl",
            field=models.DecimalField(
                max_digits=20,
                decimal_places=8,
                blank=True,
                editable=False,
                help_text="Realized PnL in the quote currency, net of realized_fees; NULL when the fills do "
                "not explain the position (realized_note says why).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="realized_fees",
            field=models.DecimalField(
                max_digits=20,
                decimal_places=8,
                blank=True,
                editable=False,
                help_text="The fees in realized_pnl, in the quote currency: quote fees, and base fees at the "
                "fill price; a maker rebate counts negative.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="realized_other_fees",
            field=models.JSONField(
                blank=True,
                editable=False,
                help_text="Fees in other currencies (an exchange token), by currency, not converted and not "
                "in realized_pnl.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="realized_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="When these realized figures were computed.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="realized_note",
            field=models.TextField(
                blank=True,
                editable=False,
                help_text="Why realized_pnl is NULL, or what the figures leave out.",
                null=True,
            ),
        ),
        migrations.RunSQL(CURRENT_POSITIONS, reverse_sql=CURRENT_POSITIONS_REVERSE),
    ]
