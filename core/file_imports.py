"""Files uploaded whole over HTTP (POST /api/v1/imports/{system}), imported in the background.

A push (POST /api/v1/inbound/{system}) is held in memory and answered when stored, so it is bounded
(security.max_ingest_body_bytes, limits.max_records). A national resync or a year's export is larger
than that: the producer uploads the file once, the hub writes it to disk as it arrives, answers 202 with
where to follow it, and `core.importer.FileImporter` (the engine of `prasan import`) reads it a chunk of
rows at a time. Memory therefore stays flat whatever the file's size; only the disk grows, and only up to
imports.max_file_bytes per import running at once.

Each import is three files under imports.folder, named by its id: `<id>.upload` (the file, deleted once
imported), `<id>.json` (its status, rewritten every second while it runs, so any API process sharing the
folder can answer for it) and `<id>.rejects.<ext>` (the rejected rows with a `reason` column, as
`prasan import` writes them). An import whose process died stops being rewritten; after STALE_S it is
reported as interrupted. Posting the file again is safe: rows already stored come back unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from core.contract import AgencySystem
from core.importer import FileImporter, ImportError_
from core.ingest import Ingestor
from core.scope import ProducerScope
from core.settings import ImportSettings, PayloadLimits
from core.store.records import new_message_id, utcnow

log = structlog.get_logger("prasan.imports")

RUNNING = ("receiving", "importing")
# A running import's status is rewritten every REPORT_EVERY_S; one not rewritten for STALE_S lost its process.
REPORT_EVERY_S = 1.0
STALE_S = 60.0
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class ImportStatus:
    import_id: str
    system: str
    client_name: str
    file_format: str
    charset: str | None
    entity_type: str | None
    created_at: datetime
    updated_at: datetime
    state: str = "receiving"
    file_bytes: int = 0
    finished_at: datetime | None = None
    error: dict[str, str] | None = None  # {"rule", "reason"} of an import that stopped
    rejects: bool = False  # a rejects file exists
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """As kept on disk and answered by the API: times in ISO 8601."""
        data = asdict(self)
        for name in _TIMES:
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return data

    @classmethod
    def from_json(cls, text: str) -> ImportStatus:
        data = json.loads(text)
        for name in _TIMES:
            if data.get(name) is not None:
                data[name] = datetime.fromisoformat(data[name])
        return cls(**data)


_TIMES = ("created_at", "updated_at", "finished_at")


class ImportsBusy(Exception):
    """Every import slot of this process is taken."""


class FileImports:
    """The uploads of this process and the status of every import in the folder."""

    def __init__(self, ingestor: Ingestor, settings: ImportSettings, limits: PayloadLimits, default_folder: Path) -> None:
        self.ingestor = ingestor
        self.settings = settings
        self.limits = limits
        self.folder = settings.folder or default_folder
        self._taken = 0
        self._running: dict[str, asyncio.Task[None]] = {}
        self._writing = threading.Lock()

    # --- files -------------------------------------------------------------------------------------
    def upload_path(self, import_id: str) -> Path:
        return self.folder / f"{import_id}.upload"

    def _status_path(self, import_id: str) -> Path:
        return self.folder / f"{import_id}.json"

    def rejects_path(self, status: ImportStatus) -> Path:
        return self.folder / f"{status.import_id}.rejects.{status.file_format}"

    def _write(self, status: ImportStatus) -> None:
        # Written whole then renamed: a reader in another process never sees half a status. One write at a
        # time, the status serialised inside: a progress report still running in its thread when the import
        # ends would otherwise interleave with the final write in the same partial file, or land after it.
        path = self._status_path(status.import_id)
        partial = path.with_name(path.name + ".partial")
        with self._writing:
            partial.write_text(json.dumps(status.as_dict(), ensure_ascii=False), encoding="utf-8")
            os.replace(partial, path)

    def status(self, import_id: str) -> ImportStatus | None:
        """The import's status (blocking: read from disk), or None for an id the folder does not hold."""
        if not _ID.fullmatch(import_id):
            return None
        path = self._status_path(import_id)
        try:
            status = ImportStatus.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            # Not written by this module (statuses are written whole and renamed): a file put or edited by
            # hand. Treated as no import rather than failing every upload's housekeeping over it.
            log.warning("import_status_unreadable", path=str(path), reason=str(exc)[:200])
            return None
        if status.state in RUNNING and import_id not in self._running and _stale(status, utcnow()):
            status.state = "interrupted"
            status.error = {
                "rule": "import.interrupted",
                "reason": "the process importing the file stopped; post the file again (rows already stored "
                "come back unchanged)",
            }
        return status

    # --- an upload ---------------------------------------------------------------------------------
    def reserve(self) -> Callable[[], None]:
        """One of imports.max_concurrent, held from the first byte received to the last row imported;
        returns its release (ImportsBusy when none is free)."""
        if self._taken >= self.settings.max_concurrent:
            raise ImportsBusy(f"{self._taken} import(s) already running in this process; post again later")
        self._taken += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._taken -= 1

        return release

    def begin(self, system: str, client_name: str, file_format: str, charset: str | None, entity_type: str | None) -> ImportStatus:
        """A new import, receiving (blocking: creates the folder, clears what has expired, writes the status)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.purge_expired(utcnow())
        now = utcnow()
        status = ImportStatus(new_message_id(), system, client_name, file_format, charset, entity_type, now, now)
        self._write(status)
        return status

    def abandon(self, status: ImportStatus) -> None:
        """An upload refused or broken off before it was whole: nothing of it is kept."""
        for path in (self.upload_path(status.import_id), self._status_path(status.import_id)):
            path.unlink(missing_ok=True)

    def start(
        self, status: ImportStatus, plugin: AgencySystem, scope: ProducerScope | None, release: Callable[[], None]
    ) -> asyncio.Task[None]:
        """The upload is whole: import it in the background; its slot (`release`) is freed when it ends."""
        task = asyncio.ensure_future(self._import(status, plugin, scope))
        self._running[status.import_id] = task

        def ended(_: asyncio.Task[None]) -> None:
            self._running.pop(status.import_id, None)
            release()

        task.add_done_callback(ended)
        return task

    async def _import(self, status: ImportStatus, plugin: AgencySystem, scope: ProducerScope | None) -> None:
        importer = FileImporter(
            self.ingestor, plugin, entity_type=status.entity_type, limits=self.limits,
            client_name=status.client_name, scope=scope,
        )  # fmt: skip
        status.state = "importing"
        upload = self.upload_path(status.import_id)
        reporter = asyncio.ensure_future(self._report_while_running(status, importer))
        try:
            await importer.run(
                upload, file_format=status.file_format, charset=status.charset, rejects_path=self.rejects_path(status)
            )
            status.state = "done"
        except ImportError_ as exc:
            status.state, status.error = "failed", {"rule": exc.rule, "reason": exc.reason}
        except asyncio.CancelledError:
            status.state = "interrupted"
            status.error = {"rule": "import.interrupted", "reason": "the hub stopped during the import; post the file again"}
            raise
        except Exception as exc:  # a fault of the hub's own: reported, never a crashed server
            log.exception("import_failed", import_id=status.import_id, system=status.system)
            status.state = "failed"
            status.error = {"rule": "import.fault", "reason": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
            status.summary = _summary(importer)
            status.rejects = importer.summary.rejects_file is not None
            status.finished_at = status.updated_at = utcnow()
            await asyncio.to_thread(self._finish, status, upload)
            log.info("import_ended", import_id=status.import_id, system=status.system, state=status.state,
                     rows=importer.summary.rows_read, rejected=importer.summary.rejected)  # fmt: skip

    async def _report_while_running(self, status: ImportStatus, importer: FileImporter) -> None:
        while True:
            status.summary = _summary(importer)
            status.updated_at = utcnow()
            await asyncio.to_thread(self._write, status)
            await asyncio.sleep(REPORT_EVERY_S)

    def _finish(self, status: ImportStatus, upload: Path) -> None:
        # The rows are in the inbox now, chunk by chunk, each kept with its payload for replay.
        upload.unlink(missing_ok=True)
        self._write(status)

    async def stop(self) -> None:
        """Shutting down: imports running here end as interrupted (their status says so)."""
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    # --- housekeeping ------------------------------------------------------------------------------
    def purge_expired(self, now: datetime) -> int:
        """Delete the files of imports that ended more than imports.keep_days ago, and the uploads of
        imports whose process died (they cannot be resumed); returns the imports forgotten."""
        if not self.folder.is_dir():
            return 0
        keep = timedelta(days=self.settings.keep_days)
        forgotten = 0
        for path in self.folder.glob("*.json"):
            import_id = path.stem
            status = self.status(import_id)
            if status is None:
                continue
            if status.state == "interrupted":
                self.upload_path(import_id).unlink(missing_ok=True)
            ended = status.finished_at or status.updated_at
            if status.state not in RUNNING and now - ended > keep:
                for leftover in self.folder.glob(f"{import_id}.*"):
                    leftover.unlink(missing_ok=True)
                forgotten += 1
        return forgotten


def _stale(status: ImportStatus, now: datetime) -> bool:
    return (now - status.updated_at).total_seconds() > STALE_S


def _summary(importer: FileImporter) -> dict[str, Any]:
    summary = importer.summary.as_dict()
    summary.pop("rejects_file", None)  # a path of the hub's disk; the API names its own URL instead
    summary["seconds"] = round(summary["seconds"], 1)
    return summary

