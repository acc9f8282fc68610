"""The status of uploaded-file imports kept on disk (core/file_imports.py): an import whose process died
reads as interrupted, and what has expired is deleted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from core.file_imports import STALE_S, FileImports, ImportsBusy
from core.settings import ImportSettings, PayloadLimits
from core.store.records import utcnow


def _imports(folder: Path, **settings: object) -> FileImports:
    return FileImports(None, ImportSettings(folder=folder, **settings), PayloadLimits(), folder)  # type: ignore[arg-type]


def test_an_import_not_reported_for_a_while_reads_as_interrupted_and_its_upload_is_dropped(tmp_path: Path) -> None:
    imports = _imports(tmp_path)
    status = imports.begin("eplan", "c", "csv", None, None)
    imports.upload_path(status.import_id).write_bytes(b"a,b\n")
    assert imports.status(status.import_id).state == "receiving"

    status.updated_at = utcnow() - timedelta(seconds=STALE_S + 1)
    imports._write(status)
    seen = imports.status(status.import_id)
    assert seen.state == "interrupted" and seen.error["rule"] == "import.interrupted"
    assert imports.purge_expired(utcnow()) == 0  # interrupted only now: kept, to be read
    assert not imports.upload_path(status.import_id).exists()  # cannot be resumed: the disk is given back
    assert imports.purge_expired(utcnow() + timedelta(days=31)) == 1
    assert list(tmp_path.iterdir()) == []


def test_ended_imports_are_forgotten_after_keep_days_and_running_ones_never(tmp_path: Path) -> None:
    imports = _imports(tmp_path, keep_days=2)
    ended = imports.begin("eplan", "c", "csv", None, None)
    ended.state, ended.finished_at = "done", utcnow()
    imports._write(ended)
    imports.rejects_path(ended).write_text("x")
    running = imports.begin("eplan", "c", "csv", None, None)
    running.state = "importing"
    imports._running[running.import_id] = None  # type: ignore[assignment]
    imports._write(running)

    assert imports.purge_expired(utcnow() + timedelta(days=1)) == 0
    assert imports.purge_expired(utcnow() + timedelta(days=3)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{running.import_id}.json"]


@pytest.mark.parametrize("import_id", ["../x", "A" * 32, "", "0" * 31, "0" * 32 + "/"])
def test_an_id_that_is_not_one_reads_as_no_import(tmp_path: Path, import_id: str) -> None:
    assert _imports(tmp_path).status(import_id) is None


def test_slots_are_given_back_once(tmp_path: Path) -> None:
    imports = _imports(tmp_path, max_concurrent=2)
    first, second = imports.reserve(), imports.reserve()
    with pytest.raises(ImportsBusy):
        imports.reserve()
    first()
    first()  # a second release of the same slot frees nothing more
    third = imports.reserve()
    with pytest.raises(ImportsBusy):
        imports.reserve()
    second(), third()


def test_status_writes_racing_from_threads_leave_a_whole_status_and_the_last_state(tmp_path: Path) -> None:
    """A progress report still running in its thread when the import ends must not garble the status."""
    imports = _imports(tmp_path)
    status = imports.begin("eplan", "c", "csv", None, None)
    status.summary = {"first_rejects": ["x" * 2000] * 20}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: imports._write(status), range(400)))
    status.state = "done"
    imports._write(status)
    assert imports.status(status.import_id).state == "done"


def test_a_status_file_not_written_by_the_hub_is_no_import_and_stops_no_upload(tmp_path: Path) -> None:
    imports = _imports(tmp_path)
    broken = "0" * 32
    (tmp_path / f"{broken}.json").write_text('{"import_id": "half', encoding="utf-8")
    (tmp_path / f"{'1' * 32}.json").write_text('{"unexpected": 1}', encoding="utf-8")
    assert imports.status(broken) is None and imports.status("1" * 32) is None
    status = imports.begin("eplan", "c", "csv", None, None)  # its housekeeping reads both files
    assert imports.status(status.import_id).state == "receiving"
