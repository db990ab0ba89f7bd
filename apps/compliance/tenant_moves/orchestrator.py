"""`move_tenant SCHEMA --to SHARD`: the steps, their order, and how an interrupted move ends.

    begin -> freeze (source) -> export (source) -> import (target) -> verify (both) -> switch -> thaw
    (target) -> remove_source (source) -> done

Each step is recorded in the directory's catalogue as started, then done (or failed, with why).
Until `switch` the catalogue places the tenant on the source, which holds it whole (frozen: reads
served, writes 503); what the target has is a copy, discarded and made again by a resumed move, or
discarded by `--abort`. `switch` changes the placement in one statement; from then on the target
holds the tenant and a resumed move only finishes (thaw, remove the source's frozen copy). So a move
killed at any point resumes or rolls back with the tenant whole on exactly one shard.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from apps.directory.catalogue import (
    PlacementRefused,
    catalogue_ensure,
    move_begin,
    move_cancel,
    move_step_record,
    move_steps_latest,
    move_switch,
    placement_for,
)
from apps.directory.services import directory_sync_if_local
from apps.directory.shard_access import shard_servers

BEFORE_SWITCH = ("freeze", "export", "import", "verify")
AFTER_SWITCH = ("thaw", "remove_source")
STEPS = (*BEFORE_SWITCH, "switch", *AFTER_SWITCH)


class MoveError(Exception):
    """The move stopped; the message says where the tenant is and what to do."""


@dataclass
class MoveReport:
    schema_name: str
    source: str
    target: str
    steps: list[str] = field(default_factory=list)
    details: dict[str, dict] = field(default_factory=dict)


def run_part(shard: str, action: str, schema_name: str, *extra: str) -> dict:
    """Run one step as a command of `shard`, with that shard's servers only."""
    environment = {**os.environ, **shard_servers(shard).process_environment()}
    command = [sys.executable, "manage.py", "tenant_move_part", action, schema_name, *extra]
    result = subprocess.run(
        command, cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=6 * 3600
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise MoveError(f"{action} on shard {shard!r} failed: {reason}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fingerprints_compare(source: dict, target: dict) -> list[str]:
    """What differs between the two copies (empty: they are the same)."""
    problems = []
    for table in sorted(set(source["tables"]) | set(target["tables"])):
        if source["tables"].get(table) != target["tables"].get(table):
            problems.append(f"table {table}: {source['tables'].get(table)} != {target['tables'].get(table)}")
    for part in ("sequences", "public", "graph"):
        if source[part] != target[part]:
            problems.append(f"{part} differs")
    return problems


class TenantMove:
    def __init__(self, *, schema_name: str, target: str, on_step: Callable[[str], None] | None = None) -> None:
        self.schema_name = schema_name
        self.target = target
        self.on_step = on_step or (lambda step: None)
        self.source = ""

    @property
    def folder(self) -> Path:
        return Path(settings.TENANT_MOVE_WORK_DIR) / f"{self.schema_name}-{self.source}-to-{self.target}"

    def run(self) -> MoveReport:
        catalogue_ensure()
        placement = placement_for(self.schema_name)
        if placement is None:
            raise MoveError(f"Tenant {self.schema_name!r} is not placed on any shard: nothing to move.")
        if placement.shard == self.target and placement.state == "active":
            return self._finish_after_switch()
        self.source = placement.shard
        report = MoveReport(self.schema_name, self.source, self.target)
        try:
            move_begin(schema_name=self.schema_name, target=self.target)
        except PlacementRefused as refused:
            raise MoveError(str(refused)) from None
        self._record("begin", "done")
        for step in BEFORE_SWITCH:
            report.details[step] = self._step(step, getattr(self, f"_{step}"))
            report.steps.append(step)
        report.details["switch"] = self._step("switch", self._switch)
        report.steps.append("switch")
        finished = self._finish_after_switch()
        report.steps += finished.steps
        report.details.update(finished.details)
        return report

    def abort(self) -> str:
        """Roll back an unfinished move that has not switched: the target's copy goes, the source thaws."""
        catalogue_ensure()
        placement = placement_for(self.schema_name)
        if placement is None or placement.state != "moving":
            raise MoveError(f"Tenant {self.schema_name!r} has no move under way to abort.")
        self.source, self.target = placement.shard, placement.moving_to or self.target
        run_part(self.target, "discard", self.schema_name)
        run_part(self.source, "thaw", self.schema_name)
        move_cancel(schema_name=self.schema_name)
        self._record("abort", "done")
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.source

    # --- steps -----------------------------------------------------------------------------------

    def _step(self, step: str, action: Callable[[], dict]) -> dict:
        self.on_step(step)
        self._record(step, "started")
        try:
            result = action()
        except Exception as error:
            self._record(step, "failed", str(error))
            raise
        self._record(step, "done", json.dumps(result, default=str))
        return result

    def _record(self, step: str, status: str, detail: str = "") -> None:
        move_step_record(
            schema_name=self.schema_name,
            source=self.source,
            target=self.target,
            step=step,
            status=status,
            detail=detail,
        )

    def _freeze(self) -> dict:
        return run_part(
            self.source, "freeze", self.schema_name, "--wait-seconds", str(settings.TENANT_MOVE_WAIT_SECONDS)
        )

    def _export(self) -> dict:
        shutil.rmtree(self.folder, ignore_errors=True)
        return run_part(self.source, "export", self.schema_name, "--folder", str(self.folder))

    def _import(self) -> dict:
        return run_part(self.target, "import", self.schema_name, "--folder", str(self.folder))

    def _verify(self) -> dict:
        source = run_part(self.source, "fingerprint", self.schema_name)
        target = run_part(self.target, "fingerprint", self.schema_name)
        problems = fingerprints_compare(source, target)
        if problems:
            raise MoveError(
                f"The copy on {self.target!r} differs from {self.source!r} ({'; '.join(problems[:5])}); "
                "the tenant stays on the source, frozen: run the move again, or --abort."
            )
        keys = run_part(self.target, "keys-check", self.schema_name)
        return {"tables": len(source["tables"]), "graph": source["graph"], **keys}

    def _switch(self) -> dict:
        run_part(self.target, "activate", self.schema_name)
        move_switch(schema_name=self.schema_name, source=self.source, target=self.target)
        if not directory_sync_if_local():
            # Another machine's `directory_sync --watch` installs the change: give it time before the
            # source's copy goes (until then the source still answers reads, frozen).
            time.sleep(settings.TENANT_MOVE_SWITCH_GRACE_SECONDS)
        return {"placed_on": self.target}

    def _finish_after_switch(self) -> MoveReport:
        steps = move_steps_latest(schema_name=self.schema_name)
        done = {step.step for step in steps if step.status == "done"}
        self.source = next((step.source for step in steps if step.step == "begin"), self.source)
        report = MoveReport(self.schema_name, self.source, self.target)
        if not self.source or self.source == self.target or "done" in done:
            return report
        if "thaw" not in done:
            report.details["thaw"] = self._step("thaw", lambda: run_part(self.target, "thaw", self.schema_name))
            report.steps.append("thaw")
        if "remove_source" not in done:
            report.details["remove_source"] = self._step(
                "remove_source", lambda: run_part(self.source, "discard", self.schema_name)
            )
            report.steps.append("remove_source")
        self._record("done", "done")
        shutil.rmtree(self.folder, ignore_errors=True)
        return report
