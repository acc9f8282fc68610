"""A CPU-time profiler for every thread of a hub process, attributing time to the pipeline's stages.

pyinstrument and cProfile see one thread only, but the hub does its database work in asyncio.to_thread
workers. This sampler wakes every `interval_s`, reads each thread's CPU clock
(time.pthread_getcpuclockid) and its Python stack (sys._current_frames), and charges the CPU the thread
used since the last sample to the stage its stack is in. A thread waiting for the GIL, a socket or a
lock uses no CPU, so it is charged nothing; work in C with the GIL released (SQLite) is charged to the
Python frame that called it. Stages are found from the innermost frame outwards by file and function
(and, inside the store's inbox ingest module, by the statement being executed), so a refactor
that moves a function shows up as "other" with its file:function named, not as a wrong stage.
"""

from __future__ import annotations

import ast
import functools
import linecache
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = str(Path(__file__).resolve().parent.parent)

# (path fragment, function or "*", stage); checked innermost frame first, first match wins.
RULES: list[tuple[str, str, str]] = [
    ("plugins/eplan/headers.py", "*", "fold headers"),
    ("plugins/eplan/parse.py", "canonical_record", "fold headers"),
    ("plugins/eplan/parse.py", "*", "parse"),
    ("core/payloads.py", "*", "parse"),
    ("plugins/eplan/mapper.py", "validate", "validate"),
    ("core/ingest.py", "_to_incoming", "validate"),
    ("core/ingest.py", "require_owner", "validate"),
    ("plugins/eplan/mapper.py", "*", "map"),
    ("plugins/eplan/__init__.py", "map_in", "map"),
    ("core/router.py", "*", "route"),
    ("core/store/inbox/ingest.py", "_lookup_known", "store: look up known entities"),
    ("core/store/inbox/ingest.py", "insert_message", "store: inbox message"),
    ("core/store/inbox/ingest.py", "insert_rejections", "store: inbox message"),
    ("core/store/inbox/ingest.py", "refuse_reused_key", "store: inbox message"),
    ("core/store/inbox/ingest.py", "_refuse_owner_changes", "store: look up known entities"),
    # Every other function of the module (ingest_batch, ingest_batches, the version and row writers):
    # by the statement executing in it (INGEST_LINES).
    ("core/store/inbox/ingest.py", "*", "@ingest_batch"),
    ("core/store/inbox/payloads.py", "*", "store: inbox message"),
    ("core/store/repos/inbox.py", "_marks", "store: group commit (what payloads share)"),
    # What an ingest or a delivery result brings along in the same transaction (the store's hooks).
    ("core/store/links.py", "chains", "store: area ledger"),
    ("core/store/links.py", "_nodes", "store: area ledger"),
    ("core/store/ledger.py", "*", "store: area ledger"),
    ("core/store/repos/ledger.py", "*", "store: area ledger"),
    ("core/ledger.py", "*", "store: area ledger"),
    ("core/reconciliation.py", "*", "store: area ledger"),
    ("core/store/links.py", "*", "store: links"),
    ("core/linking.py", "*", "store: links"),
    ("core/store/identity.py", "*", "store: record identity"),
    ("core/record_identity.py", "*", "store: record identity"),
    ("core/store/classification.py", "*", "store: classification"),
    ("core/store/outbox.py", "claim_due", "claim"),
    ("core/store/outbox.py", "complete", "acknowledge"),
    ("plugins/elaas/mapper.py", "*", "map out"),
    ("plugins/elaas/__init__.py", "map_out", "map out"),
    ("plugins/elaas/__init__.py", "*", "write (HTTP to destination)"),
    ("core/http_system.py", "*", "write (HTTP to destination)"),
    ("core/delivery.py", "_write", "write (HTTP to destination)"),
    ("core/delivery.py", "*", "worker loop (settle results)"),
    ("core/store/clients.py", "*", "receive: authenticate"),
    ("core/ingest.py", "as_response", "answer the producer"),
    ("core/ingest.py", "<lambda>", "answer the producer"),
    ("core/ingest.py", "*", "ingest glue"),
    ("core/store/store.py", "ingest", "store: begin/commit"),
    ("core/store/repos/inbox.py", "ingest", "store: begin/commit"),
    ("core/store/database.py", "*", "store: begin/commit"),
    ("core/store/engine.py", "*", "store: begin/commit"),
    ("core/metrics.py", "*", "metrics"),
    ("prometheus_client/", "*", "metrics"),
    ("structlog/", "*", "logging"),
    ("admin_api/", "*", "receive: HTTP handler"),
    ("aiohttp/web", "*", "receive: HTTP server"),
    ("aiohttp/http_parser", "*", "receive: HTTP server"),
    ("aiohttp/streams", "*", "receive: HTTP server"),
    ("aiohttp/client", "*", "write (HTTP to destination)"),
    ("aiohttp/", "*", "aiohttp other"),
    ("asyncio/", "*", "event loop"),
    ("concurrent/futures/", "*", "thread pool"),
    ("threading.py", "*", "thread pool"),
]

# Inside the inbox ingest module, the statement executing says which table is written (the whole
# statement, not its line: a row's dict spans many lines). First match wins.
INGEST_LINES: list[tuple[str, str]] = [
    ("new_entity_id(", "store: new entity ids"),
    ("respond(", "answer the producer"),
    ("insert(entities)", "store: entity"),
    ("insert_rows(conn, entities,", "store: entity"),
    ("update(entities)", "store: entity"),
    ("update_each(conn, entities.", "store: entity"),
    ("new_entities", "store: entity"),
    ("changed_entities", "store: entity"),
    ("insert(xrefs)", "store: xref"),
    ("insert_rows(conn, xrefs,", "store: xref"),
    ("new_xrefs.append", "store: xref"),
    ("insert(entity_versions)", "store: entity_version"),
    ("insert_rows(conn, entity_versions,", "store: entity_version"),
    ("version_rows.append", "store: entity_version"),
    ("insert(outbox)", "store: outbox"),
    ("insert_rows(conn, outbox,", "store: outbox"),
    ("outbox_rows.append", "store: outbox"),
    ("route(", "route"),
    ("inbox_messages", "store: inbox message"),
    ("inbox_rejections", "store: inbox message"),
    ("message_row", "store: inbox message"),
    ("rejection_rows", "store: inbox message"),
    ("insert_payload", "store: inbox message"),
    ("EntityOutcome(", "store: outcome per record"),
    ("IngestOutcome(", "store: outcome per record"),
]


def _where(frame: FrameType) -> str:
    filename = frame.f_code.co_filename
    if filename.startswith(ROOT):
        filename = filename[len(ROOT) + 1 :]
    elif "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif "/lib/python" in filename:
        filename = filename.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{filename}:{frame.f_code.co_name}"


_cache: dict[tuple[Any, int], str | None] = {}


@functools.cache
def _statements(filename: str) -> list[tuple[int, int, str]]:
    """(first line, last line, source) of every statement of a file, smallest first; of a compound
    statement (a loop, an if, a function) only its header, since its body's statements are its own."""
    source = Path(filename).read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt):
            continue
        body = getattr(node, "body", None)
        last = body[0].lineno - 1 if isinstance(body, list) and body else node.end_lineno or node.lineno
        last = max(last, node.lineno)
        found.append((node.lineno, last, "\n".join(lines[node.lineno - 1 : last])))
    return sorted(found, key=lambda s: s[1] - s[0])


def _statement_at(filename: str, line: int) -> str:
    """The innermost statement executing at `line`."""
    try:
        return next((text for first, last, text in _statements(filename) if first <= line <= last), "")
    except (OSError, SyntaxError):
        return linecache.getline(filename, line)


def _stage_of_frame(frame: FrameType) -> str | None:
    code = frame.f_code
    by_line = code.co_filename.replace("\\", "/").endswith("core/store/inbox/ingest.py")
    key = (code, frame.f_lineno if by_line else -1)
    if key in _cache:
        return _cache[key]
    filename = code.co_filename.replace("\\", "/")
    found: str | None = None
    for fragment, function, stage in RULES:
        if fragment in filename and (function == "*" or function == code.co_name):
            found = stage
            break
    if found == "@ingest_batch":
        statement = _statement_at(code.co_filename, frame.f_lineno)
        found = next((s for text, s in INGEST_LINES if text in statement), "store: ingest_batch (other lines)")
    _cache[key] = found
    return found


class StageSampler:
    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.stage_cpu: Counter[str] = Counter()
        self.self_cpu: Counter[str] = Counter()  # innermost Python frame, file:function
        self.inclusive_cpu: Counter[str] = Counter()  # every file:function on the stack, once per sample
        self.stacks: Counter[str] = Counter()  # folded stacks (outermost;...;innermost)
        self.other_where: Counter[str] = Counter()
        self.thread_cpu: Counter[str] = Counter()
        self.samples = 0
        self.sampler_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stage-sampler", daemon=True)
        self._last: dict[int, float] = {}
        self.started = 0.0
        self.wall = 0.0

    def start(self) -> StageSampler:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.wall = time.perf_counter() - self.started

    def _run(self) -> None:
        me = threading.get_ident()
        names = {}
        began = time.thread_time()
        while not self._stop.wait(self.interval_s):
            frames = sys._current_frames()
            if len(names) != threading.active_count():
                names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in frames.items():
                if ident == me:
                    continue
                try:
                    now = time.clock_gettime(time.pthread_getcpuclockid(ident))
                except OSError:
                    continue
                used = now - self._last.get(ident, now)
                self._last[ident] = now
                if used <= 0:
                    continue
                self.samples += 1
                self._charge(frame, used, names.get(ident, str(ident)))
        self.sampler_cpu = time.thread_time() - began

    def _charge(self, frame: FrameType | None, used: float, thread: str) -> None:
        chain: list[FrameType] = []
        while frame is not None:
            chain.append(frame)
            frame = frame.f_back
        if not chain:
            return
        stage = None
        for f in chain:
            stage = _stage_of_frame(f)
            if stage is not None:
                break
        where = [_where(f) for f in chain]
        if stage is None:
            stage = "other"
            self.other_where[where[0]] += used
        self.stage_cpu[stage] += used
        self.self_cpu[where[0]] += used
        for w in set(where):
            self.inclusive_cpu[w] += used
        self.stacks[";".join(reversed(where[:40]))] += used
        self.thread_cpu["event loop" if thread == "MainThread" else "to_thread workers" if "asyncio" in thread else thread] += used

    def report(self, records: int, title: str) -> tuple[dict[str, Any], str]:
        """(a summary for profile.md, the raw text profile)."""
        total = sum(self.stage_cpu.values()) or 1e-9
        stages = {
            stage: {"cpu_s": round(cpu, 4), "share": round(cpu / total, 4), "us_per_record": round(cpu / records * 1e6, 1)}
            for stage, cpu in self.stage_cpu.most_common()
        }
        summary = {
            "title": title,
            "records": records,
            "cpu_s": round(total, 3),
            "wall_s": round(self.wall, 3),
            "us_cpu_per_record": round(total / records * 1e6, 1),
            "stages": stages,
            "threads": {k: round(v, 3) for k, v in self.thread_cpu.most_common()},
            "top_self": [(w, round(c / records * 1e6, 2)) for w, c in self.self_cpu.most_common(40)],
            "top_inclusive_repo": [
                (w, round(c / records * 1e6, 2))
                for w, c in self.inclusive_cpu.most_common(400)
                if w.split(":")[0].startswith(("core/", "plugins/", "admin_api/", "canonical_model/", "prasan/"))
            ][:40],
            "sampler_cpu_s": round(self.sampler_cpu, 3),
            "samples": self.samples,
        }
        lines = [
            f"# {title}: stage sampler (CPU time of every thread, sampled every {self.interval_s * 1000:.0f} ms)",
            f"records {records}, CPU {total:.3f} s ({total / records * 1e6:.1f} µs/record), wall {self.wall:.2f} s, "
            f"samples {self.samples}, sampler's own CPU {self.sampler_cpu:.2f} s",
            "",
            "## stages",
            *(f"{v['us_per_record']:>9.1f} µs/rec {v['share'] * 100:6.1f}%  {k}" for k, v in stages.items()),
            "",
            "## threads (CPU s)",
            *(f"{v:>9.3f}  {k}" for k, v in self.thread_cpu.most_common()),
            "",
            "## 'other' stage: innermost frame (µs/record)",
            *(f"{c / records * 1e6:>9.2f}  {w}" for w, c in self.other_where.most_common(25)),
            "",
            "## self time, innermost Python frame (µs/record)",
            *(f"{c / records * 1e6:>9.2f}  {w}" for w, c in self.self_cpu.most_common(60)),
            "",
            "## inclusive time (µs/record)",
            *(f"{c / records * 1e6:>9.2f}  {w}" for w, c in self.inclusive_cpu.most_common(120)),
            "",
            "## folded stacks, heaviest 150 (stack µs), for flamegraph.pl",
            *(f"{s} {c * 1e6:.0f}" for s, c in self.stacks.most_common(150)),
        ]
        return summary, "\n".join(lines) + "\n"
