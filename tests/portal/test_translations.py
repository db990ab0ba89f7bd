"""The German catalogue is complete, compiled, and covers every string the portal marks."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

from django.core.management import call_command
from django.test import override_settings

from config.settings.environment import BASE_DIR

CATALOGUE = BASE_DIR / "locale" / "de" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")


def msgids(po_file: Path) -> set[str]:
    """The message ids of a .po file (continuation lines joined)."""
    ids, current = set(), None
    for line in po_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            current = [line[len("msgid ") :]]
        elif current is not None and line.startswith('"'):
            current.append(line)
        elif current is not None:
            ids.add("".join(ast.literal_eval(part) for part in current))
            current = None
    return ids - {""}


def test_every_message_is_translated_and_none_is_fuzzy():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(CATALOGUE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    statistics = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ translated messages\.", statistics), statistics


def test_the_compiled_catalogue_matches_the_source(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(CATALOGUE)], check=True)
    assert fresh.read_bytes() == COMPILED.read_bytes(), "run `make translations` and commit the .mo"


def test_every_string_the_portal_marks_is_in_the_catalogue(tmp_path, monkeypatch):
    """Extract the portal's templates and code afresh, as `make messages` would."""
    shutil.copytree(BASE_DIR / "templates", tmp_path / "templates")
    shutil.copytree(BASE_DIR / "apps" / "portal", tmp_path / "apps" / "portal")
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["de"], verbosity=0)
    extracted = msgids(tmp_path / "locale" / "de" / "LC_MESSAGES" / "django.po")
    assert len(extracted) > 100
    assert extracted <= msgids(CATALOGUE), sorted(extracted - msgids(CATALOGUE))
