"""The admin API's handlers: thin, each one validated input -> one core call -> a response model.

Roles: viewer reads; operator replays, discards, pauses, resumes, moves cursors and pulls; admin
changes routes, system URLs, tokens and clients. Every change is audited by the core call it makes.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any, TypeVar

from admin_api import models as m
from admin_api.problems import problem
from admin_api.spec import Call, NotFound, operation
from core.admin.allowlist import UrlNotAllowed
from core.admin.operations import pull_now, replay_many
from core.admin.routes import RouteNotFound
from core.errors import ConfigError, PrasanError
from core.router import Route
from core.store.repos.links import LinkRefused

NOT_FOUND = (404,)


def _not_found(what: str) -> Any:
    return problem(404, "Not Found", f"no {what}")


Found = TypeVar("Found")


async def _found(what: str, find: Callable[..., Found | None], *args: Any, **kwargs: Any) -> Found:
    """`find(*args, **kwargs)` off the loop; nothing found is answered 404 "no <what>"."""
    found = await asyncio.to_thread(find, *args, **kwargs)
    if found is None:
        raise NotFound(what)
    return found


# --- plugins -----------------------------------------------------------------------------------------


@operation("GET", "/api/v1/plugins", role="viewer", response=list[m.PluginOut], tag="plugins")
async def list_plugins(call: Call) -> Any:
    """Installed system plugins with their capabilities, version and last health check."""
    hub = call.hub
    cache = getattr(hub, "plugin_health", None)
    statuses: dict[str, Any] = {}
    if cache is not None:
        running = cache.refresh_soon()
        if running is not None and not cache.statuses:
            await asyncio.wait({running}, timeout=2.0)
        statuses = cache.statuses
    out = []
    for name in hub.registry.names():
        d = hub.registry.get(name).description
        status = statuses.get(name)
        health = status or m.PluginHealthOut(ok=None, detail="not checked yet", checked_at=None)
        out.append(
            m.PluginOut.model_validate(
                m.Beside(
                    d, name=name, description=f"{d.title} ({d.owner_agency})",
                    capabilities=sorted(c.value for c in d.capabilities), health=health,
                )
            )
        )
    return out


# --- routes ------------------------------------------------------------------------------------------


def _route_out(call: Call, route: Route) -> m.RouteOut:
    return m.RouteOut(**route.model_dump(), origin=call.hub.admin.routes.source_of(route.name))


@operation("GET", "/api/v1/routes", role="viewer", response=list[m.RouteOut], tag="routes")
async def list_routes(call: Call) -> Any:
    """Every route in force: routes.yaml with the changes made at run time."""
    return [_route_out(call, r) for r in call.hub.admin.routes.list()]


@operation("GET", "/api/v1/routes/{name}", role="viewer", response=m.RouteOut, path_model=m.RouteName, tag="routes", errors=NOT_FOUND)
async def get_route(call: Call) -> Any:
    """One route."""
    try:
        return _route_out(call, call.hub.admin.routes.get(call.path.name))
    except RouteNotFound:
        return _not_found("route with this name")


@operation("PUT", "/api/v1/routes/{name}", role="admin", response=m.RouteOut, path_model=m.RouteName, body_model=Route, tag="routes")
async def put_route(call: Call) -> Any:
    """Create or replace a route (validated against the installed systems)."""
    route: Route = call.body
    if route.name != call.path.name:
        return problem(400, "Bad Request", "the route's name must match the URL")
    try:
        saved = await asyncio.to_thread(call.hub.admin.routes.put, route, call.actor)
    except ConfigError as exc:
        return problem(400, "Bad Request", exc.message, rule="route.invalid")
    return _route_out(call, saved)


async def _pause(call: Call, paused: bool, destination: str | None) -> Any:
    try:
        route = await asyncio.to_thread(call.hub.admin.routes.set_paused, call.path.name, paused, call.actor, destination)
    except RouteNotFound:
        return _not_found("route (or destination on it) with this name")
    return _route_out(call, route)


@operation("POST", "/api/v1/routes/{name}/pause", role="operator", response=m.RouteOut, path_model=m.RouteName, tag="routes", errors=NOT_FOUND)
async def pause_route(call: Call) -> Any:
    """Pause a route: its deliveries are held (not dropped) until it is resumed."""
    return await _pause(call, True, None)


@operation("POST", "/api/v1/routes/{name}/resume", role="operator", response=m.RouteOut, path_model=m.RouteName, tag="routes", errors=NOT_FOUND)
async def resume_route(call: Call) -> Any:
    """Resume a route: held deliveries are sent."""
    return await _pause(call, False, None)


@operation(
    "POST", "/api/v1/routes/{name}/destinations/{destination}/pause", role="operator", response=m.RouteOut,
    path_model=m.RouteDestination, tag="routes", errors=NOT_FOUND,
)
async def pause_route_destination(call: Call) -> Any:
    """Pause one destination of a route."""
    return await _pause(call, True, call.path.destination)


@operation(
    "POST", "/api/v1/routes/{name}/destinations/{destination}/resume", role="operator", response=m.RouteOut,
    path_model=m.RouteDestination, tag="routes", errors=NOT_FOUND,
)
async def resume_route_destination(call: Call) -> Any:
    """Resume one destination of a route."""
    return await _pause(call, False, call.path.destination)


@operation(
    "PUT", "/api/v1/systems/{system}/url", role="admin", response=m.SystemUrlOut, path_model=m.SystemPath,
    body_model=m.SystemUrlIn, tag="routes", errors=NOT_FOUND,
)
async def set_system_url(call: Call) -> Any:
    """Point a system at another URL; only origins on destination_url_allowlist are accepted."""
    if call.path.system not in call.hub.registry:
        return _not_found("system with this name")
    try:
        url = await asyncio.to_thread(call.hub.admin.system_urls.set, call.path.system, call.body.base_url, call.actor)
    except UrlNotAllowed as exc:
        return problem(400, "Bad Request", str(exc), rule="url.not_allowed")
    return m.SystemUrlOut(system=call.path.system, base_url=url)


# --- messages ----------------------------------------------------------------------------------------


@operation("GET", "/api/v1/messages", role="viewer", response=list[m.MessageSummaryOut], query_model=m.MessageQuery, tag="messages")
async def list_messages(call: Call) -> Any:
    """The inbox, newest first, filtered by system, organisation, client, time and outcome."""
    q: m.MessageQuery = call.query
    rows = await asyncio.to_thread(
        call.hub.store.inbox.list_messages,
        system=q.system, org_code=q.org_code, client_name=q.client, since=q.since, until=q.until,
        outcome=q.outcome, limit=q.limit, offset=q.offset,
    )
    return [m.MessageSummaryOut.model_validate(r) for r in rows]


def _payload_forms(payload: bytes, charset: str | None) -> tuple[str | None, str | None]:
    for encoding in (charset, "utf-8"):
        if not encoding:
            continue
        try:
            text = payload.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
        if "\x00" not in text:
            return text, None
    return None, base64.b64encode(payload).decode("ascii")


@operation("GET", "/api/v1/messages/{message_id}", role="viewer", response=m.MessageOut, path_model=m.MessagePath, tag="messages", errors=NOT_FOUND)
async def get_message(call: Call) -> Any:
    """One inbound message: its raw payload, its rejections and the entity versions it became."""
    store = call.hub.store
    view = await _found("message with this id", store.inbox.get_message, call.path.message_id)
    became = await asyncio.to_thread(store.inbox.message_versions, view.message_id)
    text, b64 = _payload_forms(view.payload, view.charset)
    return m.MessageOut.model_validate(m.Beside(view, payload_text=text, payload_base64=b64, became=became))


# --- entities ----------------------------------------------------------------------------------------


@operation("GET", "/api/v1/entities", role="viewer", response=list[m.EntitySummaryOut], query_model=m.EntityQuery, tag="entities")
async def search_entities(call: Call) -> Any:
    """Entities by type, organisation, fiscal year, or any system's own id."""
    q: m.EntityQuery = call.query
    rows = await asyncio.to_thread(
        call.hub.store.entities.search_entities,
        entity_type=q.entity_type, org_code=q.org_code, fiscal_year=q.fiscal_year,
        external_id=q.external_id, system=q.system, limit=q.limit, offset=q.offset,
    )
    return [m.EntitySummaryOut.model_validate(r) for r in rows]


@operation("GET", "/api/v1/entities/{entity_id}", role="viewer", response=m.EntityOut, path_model=m.EntityPath, tag="entities", errors=NOT_FOUND)
async def get_entity(call: Call) -> Any:
    """One entity: current content, versions, cross-references and deliveries."""
    store = call.hub.store
    view = await _found("entity with this id", store.entities.get_entity, call.path.entity_id)
    versions = await asyncio.to_thread(store.entities.entity_versions, view.entity_id)
    conflicts = await asyncio.to_thread(store.entities.conflicts, view.entity_id)
    return m.EntityOut.model_validate(m.Beside(view, versions=versions, conflicts=conflicts))


_MISSING = object()


def _pick(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is _MISSING:
            return None
    return value


@operation(
    "GET", "/api/v1/entities/{entity_id}/trace", role="viewer", response=m.TraceOut, path_model=m.EntityPath,
    query_model=m.TraceQuery, tag="entities", errors=NOT_FOUND,
)
async def trace_entity(call: Call) -> Any:
    """Where a figure came from and went: per version, the inbound message, mapping version and deliveries."""
    store = call.hub.store
    view = await _found("entity with this id", store.entities.get_entity, call.path.entity_id)
    steps = await asyncio.to_thread(store.entities.trace_entity, view.entity_id)
    field = call.query.field
    steps = [
        {**step, "value": step["payload"] if field is None else _pick(step["payload"], field)} for step in steps
    ]
    return m.TraceOut.model_validate(m.Beside(view, field=field, steps=steps))


# --- dead letters ------------------------------------------------------------------------------------


@operation("GET", "/api/v1/dead-letters", role="viewer", response=list[m.DeadLetterOut], query_model=m.DeadLetterQuery, tag="dead letters")
async def list_dead_letters(call: Call) -> Any:
    """Dead letters with their full reason (unresolved only, unless include_resolved)."""
    q: m.DeadLetterQuery = call.query
    letters = await asyncio.to_thread(call.hub.store.outbox.find_dead_letters, **q.model_dump())
    return [m.DeadLetterOut.model_validate(x) for x in letters]


@operation("GET", "/api/v1/dead-letters/{dead_letter_id}", role="viewer", response=m.DeadLetterOut, path_model=m.DeadLetterPath, tag="dead letters", errors=NOT_FOUND)
async def get_dead_letter(call: Call) -> Any:
    """One dead letter."""
    outbox = call.hub.store.outbox
    letter = await _found("dead letter with this id", outbox.get_dead_letter, call.path.dead_letter_id)
    return m.DeadLetterOut.model_validate(letter)


@operation(
    "POST", "/api/v1/dead-letters/{dead_letter_id}/replay", role="operator", response=m.ResolveOut,
    path_model=m.DeadLetterPath, body_model=m.ReplayIn, tag="dead letters", errors=(404, 409),
)
async def replay_dead_letter(call: Call) -> Any:
    """Send a dead letter again under its original delivery key (a second replay does nothing)."""
    result = await asyncio.to_thread(
        call.hub.store.outbox.replay_dead_letter, call.path.dead_letter_id, call.body.note, force=call.body.force, actor=call.actor
    )
    if not result.done and result.message == "no such dead letter":
        return _not_found("dead letter with this id")
    return m.ResolveOut.model_validate(result)


@operation(
    "POST", "/api/v1/dead-letters/{dead_letter_id}/discard", role="operator", response=m.ResolveOut,
    path_model=m.DeadLetterPath, body_model=m.DiscardIn, tag="dead letters", errors=NOT_FOUND,
)
async def discard_dead_letter(call: Call) -> Any:
    """Give up on a dead letter, with the reason why."""
    result = await asyncio.to_thread(
        call.hub.store.outbox.discard_dead_letter, call.path.dead_letter_id, call.body.reason, actor=call.actor
    )
    if not result.done and result.message == "no such dead letter":
        return _not_found("dead letter with this id")
    return m.ResolveOut.model_validate(result)


@operation("POST", "/api/v1/dead-letters/replay", role="operator", response=m.BulkReplayOut, body_model=m.BulkReplayIn, tag="dead letters")
async def replay_dead_letters(call: Call) -> Any:
    """Replay every unresolved dead letter matching a filter (each under its own delivery key)."""
    body: m.BulkReplayIn = call.body
    filters = body.model_dump(exclude={"note", "limit"})
    outcome = await replay_many(call.hub.store, filters, call.actor, body.note, body.limit)
    return m.BulkReplayOut.model_validate(m.Beside(outcome, results=outcome.results[: m.BULK_RESULTS_SHOWN]))


# --- cursors and pulls -------------------------------------------------------------------------------


@operation("GET", "/api/v1/cursors", role="viewer", response=list[m.CursorOut], tag="cursors")
async def list_cursors(call: Call) -> Any:
    """Every saved pull cursor."""
    return [m.CursorOut.model_validate(c) for c in await asyncio.to_thread(call.hub.store.config.list_cursors)]


def _check_pullable(call: Call) -> Any:
    system, entity_type = call.path.system, call.path.entity_type
    if system not in call.hub.registry:
        return _not_found("system with this name")
    if entity_type not in call.hub.registry.get(system).description.reads:
        return _not_found(f"entity type {entity_type!r} that {system!r} can be read for")
    return None


@operation("GET", "/api/v1/cursors/{system}/{entity_type}", role="viewer", response=m.CursorOut, path_model=m.CursorPath, tag="cursors", errors=NOT_FOUND)
async def get_cursor(call: Call) -> Any:
    """Where the next pull of (system, entity type) starts."""
    missing = _check_pullable(call)
    if missing is not None:
        return missing
    view = await asyncio.to_thread(call.hub.store.config.get_cursor_view, call.path.system, call.path.entity_type)
    if view is None:
        return m.CursorOut(system=call.path.system, entity_type=call.path.entity_type, cursor=None, updated_at=None)
    return m.CursorOut.model_validate(view)


@operation(
    "PUT", "/api/v1/cursors/{system}/{entity_type}", role="operator", response=m.CursorOut, path_model=m.CursorPath,
    body_model=m.CursorIn, tag="cursors", errors=NOT_FOUND,
)
async def set_cursor(call: Call) -> Any:
    """Set a cursor (backfill from a point), or reset it with null (backfill from the start)."""
    missing = _check_pullable(call)
    if missing is not None:
        return missing
    store = call.hub.store
    await asyncio.to_thread(store.config.set_cursor, call.path.system, call.path.entity_type, call.body.cursor, actor=call.actor)
    view = await asyncio.to_thread(store.config.get_cursor_view, call.path.system, call.path.entity_type)
    return m.CursorOut.model_validate(view)


@operation(
    "POST", "/api/v1/cursors/{system}/{entity_type}/pull", role="operator", response=m.PullOut, path_model=m.CursorPath,
    tag="cursors", errors=(404, 502),
)
async def pull_cursor_now(call: Call) -> Any:
    """Pull (system, entity type) now, from its saved cursor."""
    missing = _check_pullable(call)
    if missing is not None:
        return missing
    try:
        records = await pull_now(call.hub.pulls, call.hub.store, call.path.system, call.path.entity_type, call.actor)
    except PrasanError as exc:
        return problem(502, "Bad Gateway", f"the pull failed: {exc.message}")
    return m.PullOut(system=call.path.system, entity_type=call.path.entity_type, records=records)


# --- audit -------------------------------------------------------------------------------------------


@operation("GET", "/api/v1/audit", role="viewer", response=list[m.AuditOut], query_model=m.AuditQuery, tag="audit")
async def list_audit(call: Call) -> Any:
    """The audit log, newest first: who changed what, when, before and after."""
    q: m.AuditQuery = call.query
    entries = await asyncio.to_thread(
        call.hub.store.access.audit_entries, actor=q.actor, action=q.action, since=q.since, limit=q.limit, offset=q.offset
    )
    return [m.AuditOut.model_validate(e) for e in entries]


# --- tokens and clients ------------------------------------------------------------------------------


@operation("GET", "/api/v1/tokens", role="admin", response=list[m.TokenOut], tag="access")
async def list_tokens(call: Call) -> Any:
    """Admin tokens (never the tokens themselves)."""
    return [m.TokenOut.model_validate(t) for t in await asyncio.to_thread(call.hub.store.access.list_admin_tokens)]


@operation("POST", "/api/v1/tokens", role="admin", response=m.TokenCreated, status=201, body_model=m.TokenIn, tag="access", errors=(409,))
async def create_token(call: Call) -> Any:
    """Create an admin token; the answer holds it once."""
    store = call.hub.store
    if any(t.name == call.body.name for t in await asyncio.to_thread(store.access.list_admin_tokens)):
        return problem(409, "Conflict", "a token with this name exists")
    token, plain = await asyncio.to_thread(store.access.add_admin_token, call.body.name, call.body.role, actor=call.actor)
    return m.TokenCreated.model_validate(m.Beside(token, token=plain))


@operation("DELETE", "/api/v1/tokens/{name}", role="admin", response=m.TokenOut, path_model=m.TokenPath, tag="access", errors=(404, 409))
async def revoke_token(call: Call) -> Any:
    """Revoke an admin token (not the one making the request: that would lock its holder out)."""
    if call.actor == f"token:{call.path.name}":
        return problem(409, "Conflict", "a token cannot revoke itself; use another admin token or the CLI")
    store = call.hub.store
    if not await asyncio.to_thread(store.access.revoke_admin_token, call.path.name, actor=call.actor):
        return _not_found("active token with this name")
    token = next(t for t in await asyncio.to_thread(store.access.list_admin_tokens) if t.name == call.path.name)
    return m.TokenOut.model_validate(token)


@operation("GET", "/api/v1/clients", role="admin", response=list[m.ClientOut], tag="access")
async def list_clients(call: Call) -> Any:
    """Producer API clients with their scope (never their keys or secrets)."""
    return [m.ClientOut.model_validate(c) for c in await asyncio.to_thread(call.hub.store.access.list_clients)]


@operation("POST", "/api/v1/clients", role="admin", response=m.ClientCreated, status=201, body_model=m.ClientIn, tag="access", errors=(409,))
async def create_client(call: Call) -> Any:
    """Create a producer client bound to a system and to organisations or provinces."""
    body: m.ClientIn = call.body
    if body.system not in call.hub.registry:
        return problem(400, "Bad Request", f"no plugin provides system {body.system!r}")
    # A client exists to push to POST /api/v1/inbound/{system}; for a system without push formats
    # every post would be refused, so its key would be a credential with no use (as `prasan clients add`).
    if not call.hub.registry.get(body.system).cls.formats:
        return problem(400, "Bad Request", f"system {body.system!r} takes no inbound data; a client for it could never post")
    scoped = body.allowed_orgs is not None or body.allowed_provinces is not None
    if scoped == body.all_orgs:
        return problem(400, "Bad Request", "give allowed_orgs and/or allowed_provinces, or all_orgs: true (not both)")
    store = call.hub.store
    if await asyncio.to_thread(store.access.get_client, body.name) is not None:
        return problem(409, "Conflict", "a client with this name exists")
    client, key = await asyncio.to_thread(
        store.access.add_client, body.name, body.system, body.allowed_orgs, body.allowed_provinces, hmac=body.hmac, actor=call.actor
    )
    return m.ClientCreated.model_validate(m.Beside(client, key=key))


@operation("PATCH", "/api/v1/clients/{name}", role="admin", response=m.ClientOut, path_model=m.ClientPath, body_model=m.ClientPatch, tag="access", errors=NOT_FOUND)
async def update_client(call: Call) -> Any:
    """Change a client's scope, or disable or enable it."""
    changes = call.body.model_dump(exclude_unset=True)
    if changes.get("disabled", False) is None:
        del changes["disabled"]  # null means "leave as it is"
    all_orgs = changes.pop("all_orgs", None)
    store = call.hub.store
    if all_orgs:
        if changes.get("allowed_orgs") is not None or changes.get("allowed_provinces") is not None:
            return problem(400, "Bad Request", "give allowed_orgs and/or allowed_provinces, or all_orgs: true (not both)")
        changes["allowed_orgs"] = changes["allowed_provinces"] = None
    elif "allowed_orgs" in changes or "allowed_provinces" in changes or all_orgs is False:
        # Ending every restriction is as deliberate as creating an unrestricted client: it needs all_orgs.
        current = await _found("client with this name", store.access.get_client, call.path.name)
        orgs = changes.get("allowed_orgs", current.allowed_orgs)
        provinces = changes.get("allowed_provinces", current.allowed_provinces)
        if orgs is None and provinces is None:
            return problem(
                400, "Bad Request",
                "this change would let the client write for every organisation; send all_orgs: true to mean that",
            )
    client = await _found(
        "client with this name", store.access.update_client, call.path.name, changes, actor=call.actor
    )
    return m.ClientOut.model_validate(client)


# --- classification additions ----------------------------------------------------------------------


def _addition(found: Any) -> m.ClassificationAdditionOut:
    value = found.value if isinstance(found.value, dict) else {}
    source = value.get("source") or {}
    review = value.get("reviewed") or {}
    return m.ClassificationAdditionOut(
        id=found.name, scheme=value.get("scheme", ""), fiscal_year=value.get("fiscal_year", 0),
        level=value.get("level", ""), code=value.get("code", ""), name_th=value.get("name_th", ""),
        parent=value.get("parent"), added_at=value.get("added_at") or found.updated_at,
        source=m.ClassificationSourceOut(
            system=source.get("system", ""), message_id=source.get("message_id"), row=source.get("row"),
            external_id=source.get("external_id"), native=source.get("native") or {},
        ),
        reviewed=bool(review), reviewed_by=review.get("by"), reviewed_at=review.get("at"), review_note=review.get("note"),
    )  # fmt: skip


@operation(
    "GET", "/api/v1/classification/additions", role="viewer", response=list[m.ClassificationAdditionOut],
    query_model=m.ClassificationAdditionQuery, tag="classification",
)
async def list_classification_additions(call: Call) -> Any:
    """Classification nodes their authority (e-budgeting) added at run time, for review."""
    q: m.ClassificationAdditionQuery = call.query
    found = await asyncio.to_thread(call.hub.store.config.classification_additions, q.fiscal_year)
    if q.reviewed is not None:
        found = [a for a in found if bool(isinstance(a.value, dict) and a.value.get("reviewed")) == q.reviewed]
    return [_addition(a) for a in found[q.offset : q.offset + q.limit]]


@operation(
    "POST", "/api/v1/classification/additions/{addition_id}/review", role="operator",
    response=m.ClassificationAdditionOut, path_model=m.ClassificationAdditionPath, body_model=m.ClassificationReviewIn,
    tag="classification", errors=(404, 409),
)
async def review_classification_addition(call: Call) -> Any:
    """Mark an added classification node reviewed (once; audited)."""
    found, done = await asyncio.to_thread(
        call.hub.store.config.review_classification_addition, call.path.addition_id, actor=call.actor, note=call.body.note
    )
    if found is None:
        return _not_found("classification addition with this id")
    if not done:
        return problem(409, "Conflict", "this addition was reviewed already", rule="classification.reviewed")
    return _addition(found)


# --- links -------------------------------------------------------------------------------------------


@operation("GET", "/api/v1/links/unlinked", role="viewer", response=list[m.UnlinkedOut], query_model=m.UnlinkedQuery, tag="links")
async def list_unlinked(call: Call) -> Any:
    """Records no link rule could link, with the reason (nothing to match, no match, or two candidates)."""
    q: m.UnlinkedQuery = call.query
    rows = await asyncio.to_thread(call.hub.store.links.list_unlinked, **q.model_dump())
    return [m.UnlinkedOut.model_validate(r) for r in rows]


@operation("POST", "/api/v1/links", role="operator", response=m.LinkOut, status=201, body_model=m.LinkIn, tag="links", errors=(400,))
async def create_link(call: Call) -> Any:
    """Link one record to another by hand (audited); the record leaves the unlinked list."""
    body: m.LinkIn = call.body
    try:
        view = await asyncio.to_thread(call.hub.store.links.link, body.from_, body.to, actor=call.actor, note=body.note)
    except LinkRefused as exc:
        return problem(400, "Bad Request", str(exc), rule="link.refused")
    return m.LinkOut.model_validate(view)


@operation("DELETE", "/api/v1/links/{from_id}/{to_id}", role="operator", response=m.LinkOut, path_model=m.LinkPath, tag="links", errors=NOT_FOUND)
async def delete_link(call: Call) -> Any:
    """Remove a link (audited); the rules will not make it again, and a record left without links is
    listed as unlinked."""
    view = await _found(
        "link between these records", call.hub.store.links.unlink, call.path.from_id, call.path.to_id, actor=call.actor
    )
    return m.LinkOut.model_validate(view)


# Per entity type, the fields that hold money, in the order they are shown.
_AMOUNT_FIELDS = ("amount", "approved_amount", "budget_amount", "reference_price", "agreed_price", "spent_amount")
_LABEL_FIELDS = ("title", "description", "contract_number", "document_number", "egp_project_number")
_CHAIN_GROUPS = {
    "budget_line": "budget_lines", "budget_request": "budget_requests", "procurement": "procurements",
    "contract": "contracts", "disbursement": "disbursements", "progress_report": "progress_reports",
}


def _chain_member(node: Any) -> m.ChainMemberOut:
    body = node.payload if isinstance(node.payload, dict) else {}
    amounts = [m.ChainAmountOut(name=f, amount=str(body[f])) for f in _AMOUNT_FIELDS if body.get(f) is not None]
    amounts += [
        m.ChainAmountOut(name="budget_by_year", fiscal_year=item.get("fiscal_year"), amount=str(item["amount"]))
        for item in body.get("budget_by_year") or []
        if isinstance(item, dict) and item.get("amount") is not None
    ]
    label = next((str(body[f]) for f in _LABEL_FIELDS if body.get(f)), None)
    return m.ChainMemberOut.model_validate(m.Beside(node, label=label, amounts=amounts))


@operation("GET", "/api/v1/entities/{entity_id}/chain", role="viewer", response=m.ChainOut, path_model=m.EntityPath, tag="entities", errors=NOT_FOUND)
async def entity_chain(call: Call) -> Any:
    """Everything linked to a record (for a plan project: its budget lines, grant requests, procurements,
    contracts, disbursements and progress), each with its amounts, its ids in each system and its deliveries."""
    found = await _found("entity with this id", call.hub.store.links.chain, call.path.entity_id)
    groups: dict[str, list[m.ChainMemberOut]] = {name: [] for name in (*_CHAIN_GROUPS.values(), "other")}
    for node in found.members:
        groups[_CHAIN_GROUPS.get(node.entity_type, "other")].append(_chain_member(node))
    return m.ChainOut(root=_chain_member(found.root), truncated=found.truncated, **groups)
