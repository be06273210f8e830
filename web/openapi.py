"""The OpenAPI 3.1 document of /api/v1, written once beside the routes it describes."""

from __future__ import annotations

from typing import Any

ID = {
    "name": "decision_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
TEXT = {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "Invalid input",
        401: "No valid token",
        403: "Not permitted",
        404: "Not found",
        409: "Someone else changed the decision first",
        422: "A statutory rule is not met",
    }
    return {
        str(c): {
            "description": names[c],
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
        for c in codes
    }


def _ok(schema: dict[str, Any], code: int = 200, description: str = "OK") -> dict[str, Any]:
    return {
        str(code): {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    params: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    secured: bool = True,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": body}
    if not secured:
        op["security"] = []
    return op


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Move"}}}
    trigger = {"name": "trigger", "in": "path", "required": True, "schema": {"type": "string"}}
    kind = {"name": "kind", "in": "path", "required": True, "schema": {"type": "string"}}
    paging = [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "per_page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        {"name": "text", "in": "query", "schema": {"type": "string"}},
        {"name": "state", "in": "query", "schema": {"type": "string"}},
    ]
    items = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "object"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DecisionFlow API",
            "version": "1.0.0",
            "description": "Major administrative decisions under State Council Decree No. 713. "
            "Every change passes the same service layer as the web pages; a refusal "
            "is a problem document naming each rule and its article.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"token": []}],
        "paths": {
            "/openapi.json": {"get": _op("This document", _ok({"type": "object"}), secured=False)},
            "/decisions": {
                "get": _op(
                    "List the decisions the caller may see",
                    {**_ok({"$ref": "#/components/schemas/DecisionPage"}), **_errors(401)},
                    params=paging,
                ),
                "post": _op(
                    "Propose a decision",
                    {
                        **_ok({"$ref": "#/components/schemas/Decision"}, 201, "Created"),
                        **_errors(400, 401, 403),
                    },
                    body={
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewDecision"}}
                    },
                ),
            },
            "/decisions/{decision_id}": {
                "get": _op(
                    "One decision",
                    {**_ok({"$ref": "#/components/schemas/Decision"}), **_errors(401, 403, 404)},
                    params=[ID],
                )
            },
            "/decisions/{decision_id}/actions": {
                "get": _op(
                    "Actions the caller may take now, with their fields and unmet rules",
                    {
                        **_ok({"type": "array", "items": {"$ref": "#/components/schemas/Action"}}),
                        **_errors(401, 403, 404),
                    },
                    params=[ID],
                )
            },
            "/decisions/{decision_id}/actions/{trigger}": {
                "post": _op(
                    "Take an action",
                    {
                        **_ok({"$ref": "#/components/schemas/Decision"}),
                        **_errors(400, 401, 403, 404, 409, 422),
                    },
                    params=[ID, trigger],
                    body=json_body,
                )
            },
            "/decisions/{decision_id}/records": {
                "get": _op(
                    "The decision's records", {**_ok(items), **_errors(401, 403, 404)}, params=[ID]
                )
            },
            "/decisions/{decision_id}/records/{kind}": {
                "post": _op(
                    "Add a record",
                    {
                        **_ok({"type": "object"}, 201, "Created"),
                        **_errors(400, 401, 403, 404, 409, 422),
                    },
                    params=[ID, kind],
                    body=json_body,
                )
            },
            "/decisions/{decision_id}/attachments": {
                "get": _op(
                    "The decision's files", {**_ok(items), **_errors(401, 403, 404)}, params=[ID]
                ),
                "post": _op(
                    "Attach a file",
                    {**_ok({"type": "object"}, 201, "Created"), **_errors(400, 401, 403, 404, 422)},
                    params=[ID],
                    body={
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                                "required": ["file"],
                            }
                        }
                    },
                ),
            },
            "/decisions/{decision_id}/audit-events": {
                "get": _op(
                    "The decision's audit events with hashes",
                    {**_ok(items), **_errors(401, 403, 404)},
                    params=[ID],
                )
            },
            "/audit/verify": {
                "post": _op(
                    "Verify the whole audit chain",
                    {**_ok({"$ref": "#/components/schemas/Verification"}), **_errors(401, 403)},
                )
            },
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token an administrator issued",
                }
            },
            "schemas": {
                "Text": TEXT,
                "Unmet": {
                    "type": "object",
                    "properties": {
                        "rule": {"type": "string"},
                        "article": {"type": "string"},
                        "zh": {"type": "string"},
                        "en": {"type": "string"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["title", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "detail_zh": {"type": "string"},
                        "code": {"type": "string"},
                        "unmet": {"type": "array", "items": {"$ref": "#/components/schemas/Unmet"}},
                        "fields": {"type": "object", "additionalProperties": TEXT},
                    },
                },
                "NewDecision": {
                    "type": "object",
                    "required": ["title", "category", "undertaking_unit"],
                    "properties": {
                        "title": {"type": "string", "maxLength": 300},
                        "category": {
                            "type": "string",
                            "enum": [
                                "public_policy",
                                "development_plan",
                                "resources",
                                "construction_project",
                                "major_impact",
                            ],
                        },
                        "undertaking_unit": {"type": "string"},
                        "flags": {"type": "object", "additionalProperties": {"type": "boolean"}},
                        "co_units": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Move": {
                    "type": "object",
                    "properties": {
                        "payload": {"type": "object"},
                        "expected_version": {"type": "integer"},
                    },
                },
                "Decision": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "category": {"type": "string"},
                        "procedure": {"type": "string"},
                        "definition_version": {"type": "integer"},
                        "state": {"type": "string"},
                        "state_label": TEXT,
                        "final": {"type": "boolean"},
                        "branches": {"type": "array", "items": {"type": "object"}},
                        "flags": {"type": "object"},
                        "version": {"type": "integer"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                    },
                },
                "DecisionPage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"type": "object"}},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "total": {"type": "integer"},
                    },
                },
                "Action": {
                    "type": "object",
                    "properties": {
                        "trigger": {"type": "string"},
                        "label": TEXT,
                        "article": {"type": "string"},
                        "branch": {"type": ["string", "null"]},
                        "fields": {"type": "object"},
                        "unmet": {"type": "array", "items": {"$ref": "#/components/schemas/Unmet"}},
                        "ready": {"type": "boolean"},
                    },
                },
                "Verification": {
                    "type": "object",
                    "properties": {
                        "ok": {"type": "boolean"},
                        "events_checked": {"type": "integer"},
                        "head_seq": {"type": "integer"},
                        "broken_at": {"type": ["integer", "null"]},
                        "zh": {"type": "string"},
                        "en": {"type": "string"},
                    },
                },
            },
        },
    }
