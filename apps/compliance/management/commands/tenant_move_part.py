"""One step of a tenant move on this process's shard (started by move_tenant; not for hands)."""

import json
from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.compliance.tenant_moves.shard_parts import PARTS, MovePartError


class Command(BaseCommand):
    help = "Internal: run one step of `move_tenant` on this shard and print its result as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=sorted(PARTS))
        parser.add_argument("schema")
        parser.add_argument("--folder", type=Path, help="where the export is written or read")
        parser.add_argument("--wait-seconds", type=float, default=300.0)

    def handle(self, *args, **options) -> None:
        part: Callable[..., dict] = PARTS[options["action"]]
        try:
            result = part(schema_name=options["schema"], folder=options["folder"], wait_seconds=options["wait_seconds"])
        except MovePartError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(result, default=str))
