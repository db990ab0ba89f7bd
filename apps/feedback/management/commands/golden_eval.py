"""Run a golden set through the real answering path; exit non-zero if any case fails."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.core.errors import TenantContextRequired
from apps.feedback.golden import GoldenSetError, golden_case_check, golden_cases_load
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Ask every question of a golden set as a tenant user and check answer, outcome and sources."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--dataset", required=True, type=Path, help="directory written by export_golden_set")
        parser.add_argument(
            "--user", help="username to ask as (their document permissions apply); default: the first active superuser"
        )

    def handle(self, *args, **options) -> None:
        try:
            cases = golden_cases_load(options["dataset"])
            with in_tenant(options["tenant"]):
                user = self._user(options["user"])
                results = [self._run(case, user) for case in cases]
        except (GoldenSetError, TenantContextRequired) as error:
            raise CommandError(str(error)) from error
        failed = [result for result in results if not result.passed]
        for result in results:
            if result.passed:
                self.stdout.write(f"PASS {result.case.id}")
            else:
                self.stdout.write(f"FAIL {result.case.id}: {'; '.join(result.failures)}")
        summary = f"{len(results) - len(failed)} of {len(results)} golden cases passed"
        if failed:
            raise CommandError(f"{summary}; failed: {', '.join(result.case.id for result in failed)}", returncode=1)
        self.stdout.write(summary)

    @staticmethod
    def _user(username: str | None) -> User:
        users = User.objects.filter(is_active=True)
        user = (
            users.filter(username=username).first()
            if username
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError(
                f"no active user {username!r} in this tenant" if username else "no active superuser; pass --user"
            )
        return user

    @staticmethod
    def _run(case, user):
        from apps.answers.events import AnswerResult
        from apps.answers.services import answer_question

        result = answer_question(user=user, question=case.text, stream=False, channel="command", use_cache=False)
        assert isinstance(result, AnswerResult)  # stream=False returns the collected result
        sources = list(result.sources) + list(result.citations)
        return golden_case_check(case, answer=result.answer, outcome=result.outcome, sources=sources)
