"""Hostile database files for `SQLStore`: not SQLite, a newer schema, read-only,
a folder, a missing folder, a NUL byte. Each is a `RepositoryError` naming the
file, and the file is left as it was."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fractal_core.repository.base import RepositoryError
from fractal_core.repository.base import SchemaVersionError
from fractal_core.repository.sql import SQLStore

_OPEN_IN_CHILD = """
import json, sys
from fractal_core.repository.sql import SQLStore
try:
    SQLStore(sys.argv[1]).close()
    print(json.dumps({"error": None}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
"""


def _open_without_privileges(path: Path) -> dict[str, str | None]:
    """Open a store in a child that file modes apply to (root drops its caps)."""
    command = [sys.executable, "-c", _OPEN_IN_CHILD, str(path)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: modes are not enforced")
        command = [setpriv, "--inh-caps=-all", "--bounding-set=-all", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_file_that_is_not_sqlite_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "not a db.db"
    content = b"this is a text file, not SQLite\n" * 200
    path.write_bytes(content)
    with pytest.raises(RepositoryError, match="not a database") as caught:
        SQLStore(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    SQLStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE fractal_schema_version SET version = version + 1")
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError, match="schema version") as caught:
        SQLStore(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before


def test_a_read_only_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    SQLStore(path).close()
    path.chmod(0o444)
    result = _open_without_privileges(path)
    assert result["error"] == "RepositoryError"
    assert str(path) in str(result["message"])
    assert "read-only" in str(result["message"])


def test_a_new_file_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    tmp_path.chmod(0o755)
    folder.chmod(0o555)
    try:
        result = _open_without_privileges(folder / "new.db")
    finally:
        folder.chmod(0o755)
    assert result["error"] == "RepositoryError"
    assert "read-only folder" in str(result["message"])
    assert list(folder.iterdir()) == []


def test_a_folder_a_missing_folder_and_a_nul_byte_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="is a folder"):
        SQLStore(tmp_path)
    missing = tmp_path / "nope" / "x.db"
    with pytest.raises(RepositoryError, match="does not exist"):
        SQLStore(missing)
    assert not missing.parent.exists()
    with pytest.raises(RepositoryError, match="NUL"):
        SQLStore(str(tmp_path / "a\0b.db"))
    assert list(tmp_path.iterdir()) == []
