"""One hub process for the benchmarks, configured by PRASAN_* environment variables (as `prasan serve`),
printing `READY <port>` once it listens and its workers run; SIGTERM stops it.

    python -m benchmarks.hub_process [--profile PREFIX --records N [--pyinstrument]]

With --profile, the stage sampler (benchmarks/stage_profiler.py) runs from READY to SIGTERM and
PREFIX.stages.txt / PREFIX.summary.json are written; --pyinstrument adds PREFIX.pyinstrument.txt, a
pyinstrument profile of the event-loop thread (pyinstrument sees only that thread).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
from pathlib import Path


def _configure_logging(settings: object) -> None:
    try:
        from core.logging import configure_logging
    except ImportError:  # moved by a refactor: warnings are all the benchmark needs anyway
        return
    configure_logging(settings.log_level, settings.log_format)  # type: ignore[attr-defined]


def _as_prasan_serves() -> None:
    """The process settings `prasan` makes before anything starts (prasan/cli/__init__.py main): the GIL
    switch interval the event loop relies on to get the GIL back from the parse and store threads
    quickly, and malloc's tuning."""
    from core.memory import tune_malloc
    from prasan.cli import GIL_SWITCH_INTERVAL_S

    tune_malloc()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


async def main(args: argparse.Namespace) -> None:
    from admin_api.app import create_app, serve
    from core.hub import Hub
    from core.settings import HubSettings

    settings = HubSettings()
    _configure_logging(settings)
    hub = Hub.build(settings)
    runner, port = await serve(create_app(hub), "127.0.0.1", 0)
    # What `prasan serve` does once it listens (prasan/cli/shutdown.py): everything loaded so far is moved
    # out of the collector's sight. Without it every full collection walks the reference data, plugins and
    # mappings again, a cost the hub in service does not pay (in benchmarks.store_plan_bench, collections
    # cost 25-34 µs a record without the freeze and 6-9 with it).
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sampler = instrument = None
    if args.profile:
        from benchmarks.stage_profiler import StageSampler

        sampler = StageSampler().start()
        if args.pyinstrument:
            from pyinstrument import Profiler

            instrument = Profiler(interval=0.001, async_mode="disabled")
            instrument.start()
    print(f"READY {port}", flush=True)
    await stop.wait()
    if sampler is not None:
        sampler.stop()
        prefix = Path(args.profile)
        summary, text = sampler.report(args.records, f"{settings.role} process ({prefix.name})")
        prefix.with_name(prefix.name + ".stages.txt").write_text(text, encoding="utf-8")
        prefix.with_name(prefix.name + ".summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    if instrument is not None:
        instrument.stop()
        prefix = Path(args.profile)
        prefix.with_name(prefix.name + ".pyinstrument.txt").write_text(
            instrument.output_text(unicode=True, color=False, show_all=False, timeline=False), encoding="utf-8"
        )
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile")
    parser.add_argument("--records", type=int, default=1)
    parser.add_argument("--pyinstrument", action="store_true")
    _as_prasan_serves()
    asyncio.run(main(parser.parse_args()))
