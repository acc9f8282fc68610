"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models, and a
page that shows it to people, rendered here as plain HTML (no script, nothing fetched from elsewhere)."""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from admin_api import models as m
from admin_api.access import Access, declare
from admin_api.spec import OPERATIONS, Operation, paged

OPENAPI_PATH = "/api/v1/openapi.json"
DOCS_PATH = "/api/v1/docs"
_REF = "#/components/schemas/{model}"
_ERROR_TITLES = {
    400: "Invalid input or malformed JSON",
    401: "No token, or an unknown or revoked one",
    403: "The token's role is too weak",
    404: "Not found",
    408: "The body stopped arriving, or came slower than the least rate",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Rate limit reached; see Retry-After",
    502: "The system could not be reached",
    503: "Not ready",
}


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERROR_TITLES.get(status, "Error"),
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
    return response


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Optional parameters are simply left out; a query string has no null to send."""
    options = schema.get("anyOf")
    if options:
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            merged = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
            return {**rest[0], **merged}
    return {k: v for k, v in schema.items() if k != "default" or v is not None}


def _parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _strip_null(dict(prop))
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": where, "required": where == "path" or name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def build_document(title: str = "Prasan hub API", version: str = "1") -> dict[str, Any]:
    adapters: list[tuple[Any, str, TypeAdapter[Any]]] = [(("problem", "s"), "serialization", TypeAdapter(m.Problem))]
    for op in OPERATIONS:
        adapters.append(((op.operation_id, "out"), "serialization", TypeAdapter(op.response)))
        if op.body_model is not None:
            adapters.append(((op.operation_id, "in"), "validation", TypeAdapter(op.body_model)))
    refs, defs = TypeAdapter.json_schemas(adapters, ref_template=_REF)
    schemas = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {
            str(op.status): {"description": "OK", "content": {op.media_type: {"schema": refs[((op.operation_id, "out"), "serialization")]}}}
        }
        if paged(op):
            responses[str(op.status)]["headers"] = {"Link": {
                "description": 'when the page is full, `<the same request at the next offset>; rel="next"`: there may be more',
                "schema": {"type": "string"}}}  # fmt: skip
        errors = {401, 403, 429, *op.errors}
        if op.path_model or op.query_model or op.body_model:
            errors.add(400)
        if op.body_model is not None:
            errors.add(413)
        for status in sorted(errors):
            responses[str(status)] = _problem_response(status)
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": f"Needs an admin token with the role **{op.role}** or higher.",
            "tags": [op.tag],
            "x-prasan-role": op.role,
            "parameters": _parameters(op.path_model, "path") + _parameters(op.query_model, "query"),
            "responses": responses,
        }
        if op.body_model is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[((op.operation_id, "in"), "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    paths.update(_public_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Admin API of the Prasan integration hub, and the producers' ingest endpoint. "
            "Errors are application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "admin token (prasan tokens add)"},
                "producerKey": {"type": "http", "scheme": "bearer", "description": "API client key (prasan clients add)"},
            },
        },
        "security": [{"adminToken": []}],
    }


def _public_paths() -> dict[str, Any]:
    any_json = {"application/json": {"schema": {"type": "object"}}}
    inbound_responses = {
        "202": {"description": "Accepted: what became of each record", "content": any_json},
        **{str(s): _problem_response(s) for s in (400, 401, 403, 404, 409, 413, 415, 429, 503)},
    }
    system_parameter = {"name": "system", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
    import_parameter = {"name": "import_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}

    def import_read(operation_id: str, summary: str, found: dict[str, Any]) -> dict[str, Any]:
        """A GET of one import, by the client that posted it."""
        return {"get": {
            "operationId": operation_id, "summary": summary, "tags": ["ingest"], "security": [{"producerKey": []}],
            "parameters": [system_parameter, import_parameter],
            "responses": {"200": found, **{str(s): _problem_response(s) for s in (401, 403, 404, 429)}},
        }}  # fmt: skip

    return {
        "/healthz": {"get": {"operationId": "healthz", "summary": "The process is up", "security": [], "tags": ["health"],
                             "responses": {"200": {"description": "OK", "content": any_json}}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "The hub can do its work", "security": [], "tags": ["health"],
                            "responses": {"200": {"description": "Ready", "content": any_json},
                                          "503": {"description": "Not ready", "content": any_json}}}},
        "/api/v1/inbound/{system}": {
            "post": {
                "operationId": "inbound",
                "summary": "Push a payload of a system (JSON, CSV or XLSX, UTF-8 or TIS-620)",
                "description": "Needs the system's producer key. Optional headers: Idempotency-Key; "
                "X-Prasan-Timestamp, X-Prasan-Nonce and X-Prasan-Signature for clients that sign.",
                "tags": ["ingest"],
                "security": [{"producerKey": []}],
                "parameters": [
                    system_parameter,
                    {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {}},
                        "text/csv": {"schema": {"type": "string"}},
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                        },
                    },
                },
                "responses": inbound_responses,
            }
        },
        "/api/v1/imports/{system}": {
            "post": {
                "operationId": "import_upload",
                "summary": "Upload a whole file of a system (CSV, XLSX or JSON lines, any size up to imports.max_file_bytes); "
                "imported in the background",
                "description": "Needs the system's producer key; signing clients sign the whole file. The file is written "
                "to disk as it arrives and imported a chunk of rows at a time. Answer 202 with the import's id; "
                "Location names its status.",
                "tags": ["ingest"],
                "security": [{"producerKey": []}],
                "parameters": [
                    system_parameter,
                    {"name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": ["csv", "xlsx", "jsonl"]},
                     "description": "the file's format when its Content-Type does not say"},
                    {"name": "entity_type", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64},
                     "description": "import only the records of this canonical entity type"},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                        },
                    },
                },
                "responses": {
                    "202": {"description": "Accepted: received whole, importing", "content": any_json},
                    **{str(s): _problem_response(s) for s in (400, 401, 403, 404, 408, 413, 415, 429, 503)},
                },
            }
        },
        "/api/v1/imports/{system}/{import_id}": import_read(
            "import_status", "An uploaded file's import: its state (importing, done, failed, interrupted) and its counts",
            {"description": "The import", "content": any_json},
        ),
        "/api/v1/imports/{system}/{import_id}/rejects": import_read(
            "import_rejects", "The rows an import rejected, in the file's own format, with a `reason` column",
            {"description": "The rejects file", "content": {"text/csv": {"schema": {"type": "string"}}}},
        ),
    }


DOCUMENT_KEY = web.AppKey("openapi_document", dict)


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(request.app[DOCUMENT_KEY], ensure_ascii=False), content_type="application/json")


def _render(op: Operation) -> str:
    e = html.escape
    rows = []
    for where, model in (("path", op.path_model), ("query", op.query_model)):
        for p in _parameters(model, where):
            rows.append(
                f"<tr><td><code>{e(p['name'])}</code></td><td>{where}</td>"
                f"<td>{e(json.dumps(p['schema'], ensure_ascii=False))}</td><td>{e(p.get('description', ''))}</td></tr>"
            )
    params = f"<table><tr><th>name</th><th>in</th><th>schema</th><th></th></tr>{''.join(rows)}</table>" if rows else ""
    body = f"<p>Body: <code>{e(op.body_model.__name__)}</code></p>" if op.body_model else ""
    answer = getattr(op.response, "__name__", None) or str(op.response).replace("admin_api.models.", "")
    return (
        f"<section><h3><span class=m>{op.method}</span> <code>{e(op.path)}</code></h3>"
        f"<p>{e(op.summary)} <em>role: {op.role}</em></p>{params}{body}"
        f"<p>Answer {op.status}: <code>{e(answer)}</code></p></section>"
    )


async def docs_page(request: web.Request) -> web.Response:
    document = request.app[DOCUMENT_KEY]
    by_tag: dict[str, list[Operation]] = {}
    for op in OPERATIONS:
        by_tag.setdefault(op.tag, []).append(op)
    sections = "".join(f"<h2>{html.escape(tag)}</h2>{''.join(_render(op) for op in ops)}" for tag, ops in by_tag.items())
    schemas = "".join(
        f"<details><summary><code>{html.escape(name)}</code></summary><pre>"
        f"{html.escape(json.dumps(schema, indent=2, ensure_ascii=False))}</pre></details>"
        for name, schema in sorted(document["components"]["schemas"].items())
    )
    page = f"""<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(document['info']['title'])}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}}code{{background:#f4f4f4}}
.m{{font-weight:bold;color:#064}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}</style>
<h1>{html.escape(document['info']['title'])}</h1><p>{html.escape(document['info']['description'])}</p>
<p>Every admin operation needs <code>Authorization: Bearer &lt;admin token&gt;</code>
(<code>prasan tokens add NAME --role analyst|viewer|operator|admin</code>). The machine-readable document is
<a href="{OPENAPI_PATH}">{OPENAPI_PATH}</a>.</p>{sections}<h2>Schemas</h2>{schemas}</html>"""
    return web.Response(text=page, content_type="text/html")


def setup(app: web.Application) -> None:
    app[DOCUMENT_KEY] = build_document()
    declare(app.router, "GET", OPENAPI_PATH, openapi_json, Access.PUBLIC)
    declare(app.router, "GET", DOCS_PATH, docs_page, Access.PUBLIC)
