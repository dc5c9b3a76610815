"""The memory benchmark: `manage.py eval_memory` (make eval-memory)."""

import json
from pathlib import Path

from django.core.management.base import CommandError

from apps.common.commands import MaintenanceCommand
from apps.memory.services.embeddings import EMBEDDER_CHOICES
from apps.memory.services.evaluation import (
    TARGET_OPPOSITE_AT_3,
    TARGET_RECALL_AT_3,
    memory_evaluate,
)


class Command(MaintenanceCommand):
    help = (
        "Run the project's retrieval set (apps/memory/evaluation/retrieval_set.json) through recall for "
        "each embedder, hybrid on and off, direction features on and off, on a scratch collection; print "
        "recall@3, MRR and the opposite-in-top-3 rate. --check exits 1 when the default configuration "
        "misses its targets."
    )
    command_lock = False  # touches neither PostgreSQL nor the real collection

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--embedders",
            default="hashing,onnx",
            help="Comma-separated embedders to compare (default hashing,onnx; openai needs OPENAI_API_KEY).",
        )
        parser.add_argument("--output", help="Also write the figures to this JSON file.")
        parser.add_argument(
            "--check", action="store_true", help="Exit 1 when the default configuration misses its targets."
        )

    def run(self, **options) -> str:
        embedders = [name.strip() for name in options["embedders"].split(",") if name.strip()]
        unknown = [name for name in embedders if name not in EMBEDDER_CHOICES]
        if unknown or not embedders:
            raise CommandError(
                f"Unknown embedder(s) {', '.join(unknown) or '(none given)'}; choose from "
                f"{', '.join(EMBEDDER_CHOICES)}, e.g. --embedders hashing,onnx."
            )
        report = memory_evaluate(
            embedders=embedders,
            progress=lambda items, total, desc: self.progress(items, total=total, desc=desc),
        )
        self.stdout.write(
            f"{report.queries} queries over {report.experiences} experiences "
            f"(targets with the default configuration: recall@3 >= {TARGET_RECALL_AT_3:.2f}, "
            f"opposite@3 <= {TARGET_OPPOSITE_AT_3:.0%})"
        )
        self.stdout.write(
            f"{'embedder':32} {'hybrid':6} {'direction':9} {'recall@3':>8} {'MRR':>6} {'opp@3':>6}"
        )
        for row in report.rows:
            mark = "  <- default" if row.default else ""
            self.stdout.write(
                f"{row.embedder:32} {'on' if row.hybrid else 'off':6} {'on' if row.direction else 'off':9} "
                f"{row.recall_at_3:8.3f} {row.mrr:6.3f} {row.opposite_at_3:6.1%}{mark}"
            )
        for name, why in report.skipped.items():
            self.stdout.write(f"{name}: skipped ({why})")
        if options.get("output"):
            Path(options["output"]).write_text(
                json.dumps(
                    {
                        "queries": report.queries,
                        "experiences": report.experiences,
                        "rows": [row.as_dict() for row in report.rows],
                        "skipped": report.skipped,
                    },
                    indent=2,
                )
            )
        met = report.targets_met
        if options["check"] and met is False:
            row = report.default_row
            raise CommandError(
                f"The default configuration misses its targets: recall@3 {row.recall_at_3:.3f} "
                f"(>= {TARGET_RECALL_AT_3}), opposite@3 {row.opposite_at_3:.1%} "
                f"(<= {TARGET_OPPOSITE_AT_3:.0%})."
            )
        verdict = {True: "targets met", False: "targets missed", None: "default configuration not run"}[met]
        return f"{len(report.rows)} configurations evaluated; {verdict}"
