"""Move a tenant to another shard, verified before the switch; resume or --abort an interrupted move."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.compliance.tenant_moves.orchestrator import STEPS, MoveError, TenantMove
from apps.directory.catalogue import DirectoryUnavailable
from apps.directory.shard_access import ShardUnreachable


class Command(BaseCommand):
    help = (
        "Move a tenant to shard --to: freeze its writes, copy schema, public rows and graph, verify, "
        "switch the directory, remove the source. Run it again to resume an interrupted move."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("schema")
        parser.add_argument("--to", dest="target", help="the shard to move it to")
        parser.add_argument("--abort", action="store_true", help="roll back a move that has not switched yet")

    def handle(self, *args, **options) -> None:
        if not options["abort"] and not options["target"]:
            raise CommandError("Name the shard to move to with --to (or --abort an unfinished move).")
        progress = tqdm(total=len(STEPS), unit="step", disable=None)

        def advance(step: str) -> None:
            progress.set_description(step)
            progress.update(1)

        move = TenantMove(schema_name=options["schema"], target=options["target"] or "", on_step=advance)
        try:
            if options["abort"]:
                source = move.abort()
                self.stdout.write(f"move aborted: {options['schema']} stays on shard {source}, writable")
                return
            report = move.run()
        except (MoveError, DirectoryUnavailable, ShardUnreachable) as error:
            raise CommandError(str(error)) from error
        finally:
            progress.close()
        if not report.steps:
            self.stdout.write(f"{options['schema']} is on shard {options['target']} already; nothing to do")
            return
        self.stdout.write(
            f"{report.schema_name} moved from {report.source} to {report.target}: {', '.join(report.steps)}"
        )
