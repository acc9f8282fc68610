"""The plugin conformance kit, and the helper that plugin simulators are built on.

Conformance kit
---------------

A plugin adopts the kit with one subclass in its own tests (pytest; no pytest-asyncio needed):

    from prasan.testing import PluginConformance, Sample

    class TestMyAgency(PluginConformance):
        system = MyAgency                  # the AgencySystem subclass, or the name of an installed system
        settings = {"page_size": 50}       # raw settings beyond simulator_settings(url) (those win)
        samples = [Sample(Path("samples/p02.csv").read_bytes(), "text/csv", "utf-8")]   # push systems
        entities = [("plan_project", {...canonical JSON body...})]                        # write systems

The system is run as the hub runs it: found through `load_plugins()` (a class no installed plugin provides
is registered on its own, or through `plugin = my_plugin_module` when it needs its plugin's converters),
configured by `registry.configure(load_reference_data(), {name: settings})`, started with an
`aiohttp.ClientSession`, closed afterwards. Each check is one test method, skipped with its reason when the
system's capabilities (`cls.capabilities()`) make it irrelevant; a capability whose inputs are missing
(a push system without `samples`, a write system without `entities`, a read or write system without
`simulator()`) fails rather than skips.

1. `test_describes_itself`: no `declaration_problems()`; name, title, owner_agency, version; it can do
   something; `writes` and the streams' entity types are canonical (`prasan.ENTITY_TYPES`).
2. `test_settings_are_validated_and_secrets_hidden`: Settings refuses unknown keys (reported by name),
   every field is described, a field named *key*/*token*/*password*/*secret* is `SecretStr` (or
   `SecretStr | None`), a missing required setting is reported by `validate_settings` naming it, and
   repr/str/model_dump_json of settings holding secret values do not show them.
3. `test_records_map_to_valid_canonical_entities` (PUSH, READ): every sample parsed, and every stream read
   from the simulator, maps in to valid canonical entities with org_code and external_id.
4. `test_entities_map_out` (WRITE): every entity maps out to a non-empty native record, the same one
   each time. `test_map_out_round_trips_through_map_in` (WRITE and PUSH/READ): map_in(map_out(e)) gives back
   every field map_out uses (a field is used when map_out gives another record without it).
5. `test_repeated_delivery_key_has_no_second_effect` (WRITE): the entities written twice under the same
   delivery keys (two items at least for a batch writer); every write delivers, and the simulator's
   `/_sim/log` shows exactly one first apply per key.
6. `test_status_classification[401|403|429|503|timeout|refused|400|422]` (WRITE, else READ): against the
   kit's fault server, a write (or a read) must raise ConfigError on 401/403; answer Retryable or raise
   TransientError on 429 (with retry_after 7 from `Retry-After: 7`), 503, an answer slower than
   `timeout_s` (set to 0.5; skipped when Settings has no timeout_s) and a refused connection; answer
   Rejected or raise PermanentError on 400/422.
7. `test_no_secret_in_logs_or_messages`: with a distinctive secret in every secret setting (the
   simulator's own where it needs one), the pushes, the simulator run and every fault scenario of check 6
   write no log line (structlog events as the plugin hands them to the logger, before the hub's scrubbing,
   and stdlib logging records, any level), exception or result reason holding a secret value.

Every check is a plain method: call it on an instance to run it outside pytest's collection
(`TestMyAgency().test_status_classification("401")`); a failure raises `pytest.fail.Exception`.

Simulator helper
----------------

    SimulatorState(api_key="sim-key", *, auth_header="X-Api-Key", auth_scheme=None,
                   idempotency_header="Idempotency-Key")
        .records: dict[record_id, Applied(record_id, record, idempotency_key)]   .entries: the log
        SimulatorState.of(request) -> the state of the app serving the request
        .key_of(request) -> the request's idempotency key, or None
        .apply(key, record, *, record_id=None) -> (record_id, first_apply)
              stores the record once per key; a repeated key changes nothing and answers the first id with
              first_apply False; record_id replaces that record (an update); key None always applies
        .log(request, *, key, status, replayed=False, **extra) -> the entry appended to /_sim/log
    simulator_app(state=None, routes=()) -> web.Application
        `routes` (e.g. [web.post("/api/projects", handler)]) behind fault injection, then the credential
        check (401 on a wrong or missing key, logged), plus
        GET /_sim/health, GET /_sim/log, GET /_sim/records ({"records": [Applied as JSON]}),
        POST /_sim/faults {"status": 503, "times": 1, "retry_after": null, "delay_s": 0} (or a list),
        DELETE /_sim/faults
    await serve(app, host="127.0.0.1", port=0) -> (runner, base_url); stop with `await runner.cleanup()`
    async with served(app) as base_url: ...   the same, stopped when the block ends
    run_simulator(simulator_arguments(description, port), build)   a simulator's `main()`: build(args) served
    seed_data(__file__, **json_options)   the simulator_seed.json shipped beside the simulator's module
    simulator_database(state_dir, file_name, schema) -> sqlite3.Connection; close_on_cleanup(app, db);
    database_log(db) -> the GET /_sim/log handler reading its `log` table
        for a simulator that keeps its own sqlite store (in memory, or in state_dir across restarts)

The standard simulator log, which check 5 reads: `GET /_sim/log` answers `{"entries": [entry, ...]}` in
the order received, an entry being

    {"seq": 1, "time": "2025-01-01T00:00:00.000+00:00", "method": "POST", "path": "/api/projects",
     "idempotency_key": "myagency:e1:1" or null, "status": 200, "replayed": false, ...anything else}

- one entry per write the simulator receives; a batch endpoint logs one entry per item, with that item's
  idempotency key, status and `replayed` (it may log the batch request itself too, with key null);
- `replayed` is true when the answer was replayed for a key seen before (no new effect);
- requests refused by the credential check or an injected fault are logged with their status;
- a "first apply" of key K is an entry with idempotency_key K, a 2xx status and replayed false: written
  twice, each delivery key must have exactly one.

A simulator on the helper (`simulator()` of the system returns `create_app()`):

    from aiohttp import web
    from prasan.testing import SimulatorState, simulator_app

    API_KEY = "myagency-sim-key"

    async def post_project(request: web.Request) -> web.Response:
        state = SimulatorState.of(request)
        key, body = state.key_of(request), await request.json()
        if not body.get("name"):
            state.log(request, key=key, status=400)
            return web.json_response({"error": "name is required"}, status=400)
        record_id, first = state.apply(key, body)
        state.log(request, key=key, status=201, replayed=not first, record_id=record_id)
        return web.json_response({"id": record_id}, status=201)

    def create_app() -> web.Application:
        return simulator_app(SimulatorState(api_key=API_KEY), [web.post("/api/projects", post_project)])
"""

from prasan.testing.faults import FaultServer, closed_url
from prasan.testing.simulator import (
    DEFAULT_API_KEY,
    Applied,
    Fault,
    SimulatorState,
    close_on_cleanup,
    database_log,
    free_port,
    run_simulator,
    seed_data,
    serve,
    served,
    simulator_app,
    simulator_arguments,
    simulator_database,
)

__all__ = [
    "DEFAULT_API_KEY",
    "KIT_SECRET",
    "SCENARIOS",
    "Applied",
    "Fault",
    "FaultServer",
    "PluginConformance",
    "Sample",
    "SimulatorState",
    "captured_log_lines",
    "close_on_cleanup",
    "closed_url",
    "database_log",
    "free_port",
    "run_simulator",
    "seed_data",
    "serve",
    "served",
    "simulator_app",
    "simulator_arguments",
    "simulator_database",
]


_CONFORMANCE = {"KIT_SECRET", "SCENARIOS", "PluginConformance", "Sample", "captured_log_lines"}


def __getattr__(name: str) -> object:
    # The kit needs pytest; a simulator (run by `prasan demo` on a hub installed without the test
    # extras) must not, so the kit is imported only when asked for.
    if name in _CONFORMANCE:
        from prasan.testing import conformance

        return getattr(conformance, name)
    raise AttributeError(f"module 'prasan.testing' has no attribute {name!r}")
