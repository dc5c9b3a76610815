"""Ended decisions' realized PnL fed back to the experiences they recalled: `manage.py feed_back_outcomes`."""

from apps.common.commands import MaintenanceCommand
from apps.memory.services.feedback import decisions_outcome_feedback


class Command(MaintenanceCommand):
    help = (
        "For every decision with kept recalls whose positions are all closed with a realized PnL and whose "
        "outcome was not fed back yet, move the importance of each experience it recalled by the feedback "
        "rule (docs/memory.md) and record the change. Run after compute_realized_pnl, e.g. hourly."
    )

    def run(self, **options) -> str:
        report = decisions_outcome_feedback(
            progress=lambda items: self.progress(items, total=len(items), desc="decisions")
        )
        return (
            f"{report.decisions} decisions with recalls examined, {report.ended} ended, "
            f"{report.changes} importance changes recorded"
        )
