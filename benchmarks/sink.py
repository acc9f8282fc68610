"""A null destination in a process of its own: it parses each body and acknowledges at once.

It speaks just enough of the e-LAAS API for the hub's elaas plugin (batch and single writes, the
health dropdown) and of e-budgeting's request channel for the ebudget plugin (filing a grant request) and takes the bare pipeline's JSON batches at /sink, so that every pipeline measured
by benchmarks/run_all.py pays the same (small) cost at the far end. The real e-LAAS simulator validates
and stores each document in SQLite; run_all.py measures it once as well, for comparison.

    python -m benchmarks.sink [--port 0]     # prints READY <port>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from aiohttp import web

COUNT = web.AppKey("count", list)


async def batch(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    items = body.get("Items") or []
    request.app[COUNT][0] += len(items)
    results = [{"IdempotencyKey": i["IdempotencyKey"], "Status": 200, "RecordID": i["IdempotencyKey"]} for i in items]
    return web.json_response({"d": {"Results": results}})


async def single(request: web.Request) -> web.Response:
    json.loads(await request.read())
    request.app[COUNT][0] += 1
    key = request.headers.get("Idempotency-Key") or request.match_info.get("record_id") or "x"
    return web.json_response({"d": {"RecordID": key}})


async def grant_request(request: web.Request) -> web.Response:
    """e-budgeting's request channel: a filed (or amended) request answered with its number."""
    json.loads(await request.read())
    request.app[COUNT][0] += 1
    number = request.match_info.get("request_no") or request.headers.get("Idempotency-Key") or "x"
    return web.json_response({"request_no": number, "revision": 1})


async def plan_dropdown(request: web.Request) -> web.Response:
    return web.Response(text="<ArrayOfDropdownData><DropdownData><Value>x</Value></DropdownData></ArrayOfDropdownData>")


async def bare(request: web.Request) -> web.Response:
    items = json.loads(await request.read())
    request.app[COUNT][0] += len(items)
    return web.json_response({"accepted": len(items)})


async def count(request: web.Request) -> web.Response:
    return web.json_response({"received": request.app[COUNT][0]})


async def main(port: int) -> None:
    app = web.Application(client_max_size=256 * 1024 * 1024)
    app[COUNT] = [0]
    app.router.add_post("/api/BudgetExpense/Batch", batch)
    app.router.add_post("/api/BudgetExpense", single)
    app.router.add_put("/api/BudgetExpense/{record_id}", single)
    app.router.add_get("/DropDownService.asmx/GetExpExpensePlan", plan_dropdown)
    app.router.add_post("/bbl/api/v1/requests", grant_request)
    app.router.add_put("/bbl/api/v1/requests/{request_no}", grant_request)
    app.router.add_post("/sink", bare)
    app.router.add_get("/count", count)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"READY {bound}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
