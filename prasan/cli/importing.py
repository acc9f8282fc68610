"""`prasan import SYSTEM FILE`: existing data loaded by staff, through the same path as a push.

The work is `core.importer.FileImporter`; this is the terminal around it: a progress bar on standard
error (rows, rows per second, rejects so far; rich, which draws it only on a terminal and prints the
last state otherwise), and the summary on standard output, one `name<TAB>value` per line so that a
script can read it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from core.importer import CHUNK_ROWS, FORMATS, MAX_CHUNK_ROWS, FileImporter, ImportError_, ImportSummary
from core.settings import HubSettings


def add_import_command(commands: Any) -> None:
    parser = commands.add_parser(
        "import",
        help="import a CSV, XLSX or JSON lines file of a system's records (any size), as if pushed",
        description="Streams FILE through the system's own parse, map-in and validation into the store, "
        "routing what changed, one inbox message per chunk of rows; rejected rows go to a rejects file in "
        "the same format with a `reason` column, which can be corrected and imported again.",
    )
    parser.add_argument("system", help="the system the file comes from (e.g. eplan, gfmis, ebudget)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--entity-type", help="import only entities of this canonical type; others are skipped")
    parser.add_argument("--charset", help="the file's charset for CSV and JSON lines: utf-8 (default), tis-620, cp874")
    parser.add_argument("--format", choices=FORMATS, help="the file's format (default: from its suffix)")
    parser.add_argument("--rejects", type=Path, help="where rejected rows go (default: FILE.rejects.<suffix>)")
    parser.add_argument(
        "--chunk-rows", type=int, default=CHUNK_ROWS, help=f"rows per inbox message, 1 to {MAX_CHUNK_ROWS:,}"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_import)


def _actor() -> str:
    try:
        return f"import:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "import:unknown"


class _Bar:
    """rich's progress bar on standard error: bytes for the bar, rows, rows/s and rejects beside it."""

    def __init__(self, total: int, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]import"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:>10,} rows  {task.fields[rate]:>8,.0f} rows/s  {task.fields[rejects]:,} rejects"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task = self.progress.add_task("import", total=total or None, rows=0, rate=0.0, rejects=0)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, summary: ImportSummary) -> None:
        rate = summary.rows_read / summary.seconds if summary.seconds else 0.0
        self.progress.update(
            self.task, completed=summary.bytes_read, rows=summary.rows_read, rate=rate, rejects=summary.rejected
        )


def print_summary(summary: ImportSummary) -> None:
    rate = summary.rows_read / summary.seconds if summary.seconds else 0.0
    lines = [
        ("rows read", f"{summary.rows_read}"),
        ("accepted", f"{summary.accepted}"),
        ("changed", f"{summary.changed}"),
        ("rejected", f"{summary.rejected}"),
        ("skipped", f"{summary.skipped}"),
        ("faults", f"{summary.faults}"),
        ("entities", f"{summary.entities}"),
        ("messages", f"{summary.messages}"),
        ("seconds", f"{summary.seconds:.1f}"),
        ("rows per second", f"{rate:.0f}"),
        ("rejects file", str(summary.rejects_file) if summary.rejects_file else "none"),
    ]
    for name, value in lines:
        print(f"{name}\t{value}")


def cmd_import(args: argparse.Namespace) -> int:
    from core.hub import Hub
    from core.logging import configure_logging

    settings = HubSettings()
    # One "ingested" line per chunk would drown the progress bar; warnings and errors still show.
    configure_logging("warning", settings.log_format, cache=False)
    if not args.file.is_file():
        print(f"no file {str(args.file)!r}", file=sys.stderr)
        return 2
    hub = Hub.build(settings)
    try:
        if args.system not in hub.registry:
            print(f"no plugin provides system {args.system!r}", file=sys.stderr)
            return 2
        if args.system not in hub.systems:
            problems = "; ".join(str(p) for p in hub.systems.problems.get(args.system, [])) or "not configured"
            print(f"system {args.system!r} cannot take data now: {problems}", file=sys.stderr)
            return 2
        hub.store.upgrade()
        hub.admin.load()  # paused routes and destinations hold what the import queues, as in the hub
        importer: FileImporter | None = None
        try:
            importer = FileImporter(
                hub.ingestor,
                hub.systems.get(args.system),
                chunk_rows=args.chunk_rows,
                entity_type=args.entity_type,
                limits=settings.limits,
                client_name=_actor(),
            )
            bar = _Bar(args.file.stat().st_size, enabled=not args.no_progress)
            with bar:
                summary = asyncio.run(
                    importer.run(
                        args.file, file_format=args.format, charset=args.charset, rejects_path=args.rejects,
                        progress=bar.update,
                    )
                )
        except ImportError_ as exc:
            done = importer.summary if importer is not None else None
            print(f"import stopped: {exc.rule}: {exc.reason}", file=sys.stderr)
            if done is not None and done.rows_read:
                print("what was read before is stored; importing the file again changes nothing of it", file=sys.stderr)
                print_summary(done)
            return 1
        for line in summary.first_rejects:
            print(f"rejected {line}", file=sys.stderr)
        print_summary(summary)
        return 0
    finally:
        hub.store.dispose()
