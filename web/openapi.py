"""The OpenAPI 3.1 document of /api/v1, written once beside the routes it describes."""

from __future__ import annotations

from typing import Any

from decisionflow.queries import COUNT_CAP, MAX_PAGE_SIZE

ID = {
    "name": "decision_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
TEXT = {"$ref": "#/components/schemas/Text"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
UNMETS = {"type": "array", "items": {"$ref": "#/components/schemas/Unmet"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], *, closed: bool = True) -> dict[str, Any]:
    """An object schema whose every property is always present (and, closed, no others)."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def _items(name: str) -> dict[str, Any]:
    """A list wrapped as {"items": [...]}."""
    return _object({"items": {"type": "array", "items": _ref(name)}})


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "Invalid input: the problem's `fields` names each faulty field",
        401: "No valid token",
        403: "Not permitted (role or department)",
        404: "Not found",
        409: "Someone else changed the decision first (stale expected_version)",
        413: "Upload too large",
        422: "A statutory rule is not met: the problem's `unmet` names each rule and its article",
    }
    responses: dict[str, Any] = {
        str(c): {
            "description": names[c],
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
        for c in codes
    }
    if 401 in codes:
        responses["401"]["headers"] = {
            "WWW-Authenticate": {
                "description": 'The Bearer challenge (RFC 6750), e.g. `Bearer realm="decisionflow"`',
                "schema": STRING,
            }
        }
    return responses


def _ok(schema: dict[str, Any], code: int = 200, description: str = "OK") -> dict[str, Any]:
    return {
        str(code): {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    operation_id: str,
    params: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    secured: bool = True,
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": body}
    if not secured:
        op["security"] = []
    return op


def _schemas() -> dict[str, Any]:
    """The shapes the API answers with; every property listed is always present."""
    return {
        "Text": _object({"zh": STRING, "en": STRING}),
        "Unmet": _object(
            {
                "rule": {"type": "string", "description": "The rule's name, e.g. `stage`"},
                "article": {"type": "string", "description": "Decree 713's article, `Art 15`"},
                "zh": STRING,
                "en": STRING,
            }
        ),
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem document; refusals add code, unmet and fields.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": STRING,
                "detail_zh": STRING,
                "code": {
                    "type": "string",
                    "enum": [
                        "not_permitted",
                        "rule_not_met",
                        "not_found",
                        "conflict",
                        "invalid_input",
                        "error",
                    ],
                },
                "unmet": UNMETS,
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
                "undertaking_unit": {"type": "string", "description": "A department code"},
                "flags": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "co_units": {"type": "array", "items": STRING},
                "executing_unit": {"type": ["string", "null"]},
            },
        },
        "Move": {
            "type": "object",
            "properties": {
                "payload": {
                    "type": ["object", "null"],
                    "description": "The action's or record's fields, as GET …/actions lists them",
                },
                "password": {
                    "type": ["string", "null"],
                    "description": "The acting user's password, to sign a signed action or record "
                    "(Decree 713 Art 20, 28); never stored",
                },
                "expected_version": {
                    "type": ["integer", "null"],
                    "description": "The decision's version the caller saw; 409 if it changed",
                },
            },
        },
        "Branch": _object(
            {
                "name": STRING,
                "label": TEXT,
                "state": STRING,
                "state_label": TEXT,
                "final": {"type": "boolean"},
            }
        ),
        "Decision": _object(
            {
                "id": INTEGER,
                "title": STRING,
                "category": STRING,
                "procedure": STRING,
                "definition_version": INTEGER,
                "state": STRING,
                "state_label": TEXT,
                "final": {"type": "boolean"},
                "branches": {"type": "array", "items": _ref("Branch")},
                "flags": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "undertaking_unit_id": INTEGER,
                "executing_unit_id": {"type": ["integer", "null"]},
                "version": INTEGER,
                "created_at": TIME,
                "updated_at": TIME,
                "overlay": {
                    "type": ["string", "null"],
                    "description": "Local rules, as name@version",
                },
                "predecessor_id": {
                    "type": ["integer", "null"],
                    "description": "The decision this adjusts (Art 37)",
                },
            }
        ),
        "DecisionSummary": _object(
            {
                "id": INTEGER,
                "title": STRING,
                "state": STRING,
                "category": STRING,
                "undertaking_unit": {"type": "string", "description": "A department code"},
                "version": INTEGER,
                "updated_at": TIME,
            }
        ),
        "DecisionPage": _object(
            {
                "items": {"type": "array", "items": _ref("DecisionSummary")},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                "total": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": f"How many match, counted up to {COUNT_CAP}; null beyond",
                },
                "next": {
                    "type": ["string", "null"],
                    "description": "The cursor of the following (older) page; null on the last",
                },
                "previous": {
                    "type": ["string", "null"],
                    "description": "The cursor of the page before (newer); null on the first",
                },
            }
        ),
        "Field": _object(
            {
                "type": {
                    "type": "string",
                    "enum": ["text", "date", "datetime", "choice", "bool", "int", "user", "users"],
                },
                "label": TEXT,
                "required": {"type": "boolean"},
                "choices": {"type": "array", "items": STRING},
                "max_length": {"type": "integer", "description": "For text: most characters"},
                "minimum": {"type": ["integer", "null"], "description": "For int: least value"},
            }
        ),
        "Action": _object(
            {
                "trigger": STRING,
                "label": TEXT,
                "article": STRING,
                "branch": {"type": ["string", "null"]},
                "fields": {"type": "object", "additionalProperties": _ref("Field")},
                "unmet": UNMETS,
                "ready": {"type": "boolean"},
                "signature": {
                    "anyOf": [_object({"article": STRING}), {"type": "null"}],
                    "description": "Set if the move is signed: send the signer's password "
                    "in the body's `password` (never stored)",
                },
            }
        ),
        "Record": _object(
            {
                "id": INTEGER,
                "kind": STRING,
                "data": {"type": "object"},
                "state": STRING,
                "branch": {"type": ["string", "null"]},
                "created_by": {"type": "string", "description": "The author's display name"},
                "created_at": TIME,
            }
        ),
        "NewRecord": _object(
            {
                "id": INTEGER,
                "decision_id": INTEGER,
                "kind": STRING,
                "data": {"type": "object"},
                "created_at": TIME,
                "decision_version": INTEGER,
            }
        ),
        "Attachment": _object(
            {
                "id": INTEGER,
                "filename": STRING,
                "content_type": STRING,
                "size": INTEGER,
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "created_at": TIME,
            }
        ),
        "NewAttachment": _object(
            {
                "id": INTEGER,
                "decision_id": INTEGER,
                "filename": STRING,
                "content_type": STRING,
                "size": INTEGER,
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }
        ),
        "AuditEvent": _object(
            {
                "seq": INTEGER,
                "occurred_at": TIME,
                "actor_username": STRING,
                "actor_name": STRING,
                "actor_role": STRING,
                "action": STRING,
                "outcome": {"type": "string", "description": "`done`, or the refusal's code"},
                "state_before": STRING,
                "state_after": STRING,
                "detail": {"type": "string", "description": "The event's detail, as JSON text"},
                "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }
        ),
        "Verification": _object(
            {
                "ok": {"type": "boolean"},
                "events_checked": INTEGER,
                "head_seq": INTEGER,
                "broken_at": {"type": ["integer", "null"]},
                "zh": STRING,
                "en": STRING,
            }
        ),
    }


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    json_body = {"application/json": {"schema": _ref("Move")}}
    trigger = {"name": "trigger", "in": "path", "required": True, "schema": STRING}
    kind = {"name": "kind", "in": "path", "required": True, "schema": STRING}
    paging = [
        {
            "name": "cursor",
            "in": "query",
            "description": "A page's `next` or `previous`, as given; none for the first page",
            "schema": STRING,
        },
        {
            "name": "per_page",
            "in": "query",
            "description": f"At most {MAX_PAGE_SIZE}; a larger number is taken as {MAX_PAGE_SIZE}",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
        {"name": "text", "in": "query", "schema": STRING},
        {"name": "state", "in": "query", "schema": STRING},
    ]
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
            "/openapi.json": {
                "get": _op(
                    "This document",
                    _ok({"type": "object"}),
                    operation_id="openapi",
                    secured=False,
                )
            },
            "/decisions": {
                "get": _op(
                    "List the decisions the caller may see",
                    {**_ok(_ref("DecisionPage")), **_errors(401)},
                    operation_id="listDecisions",
                    params=paging,
                ),
                "post": _op(
                    "Propose a decision",
                    {**_ok(_ref("Decision"), 201, "Created"), **_errors(400, 401, 403, 409)},
                    operation_id="createDecision",
                    body={"application/json": {"schema": _ref("NewDecision")}},
                ),
            },
            "/decisions/{decision_id}": {
                "get": _op(
                    "One decision",
                    {**_ok(_ref("Decision")), **_errors(401, 403, 404)},
                    operation_id="getDecision",
                    params=[ID],
                )
            },
            "/decisions/{decision_id}/actions": {
                "get": _op(
                    "Actions the caller may take now, with their fields and unmet rules",
                    {
                        **_ok({"type": "array", "items": _ref("Action")}),
                        **_errors(401, 403, 404),
                    },
                    operation_id="listActions",
                    params=[ID],
                )
            },
            "/decisions/{decision_id}/actions/{trigger}": {
                "post": _op(
                    "Take an action",
                    {**_ok(_ref("Decision")), **_errors(400, 401, 403, 404, 409, 422)},
                    operation_id="takeAction",
                    params=[ID, trigger],
                    body=json_body,
                )
            },
            "/decisions/{decision_id}/records": {
                "get": _op(
                    "The decision's records, first to last",
                    {**_ok(_items("Record")), **_errors(401, 403, 404)},
                    operation_id="listRecords",
                    params=[ID],
                )
            },
            "/decisions/{decision_id}/records/{kind}": {
                "post": _op(
                    "Add a record",
                    {
                        **_ok(_ref("NewRecord"), 201, "Created"),
                        **_errors(400, 401, 403, 404, 409, 422),
                    },
                    operation_id="addRecord",
                    params=[ID, kind],
                    body=json_body,
                )
            },
            "/decisions/{decision_id}/attachments": {
                "get": _op(
                    "The decision's files with their SHA-256",
                    {**_ok(_items("Attachment")), **_errors(401, 403, 404)},
                    operation_id="listAttachments",
                    params=[ID],
                ),
                "post": _op(
                    "Attach a file",
                    {
                        **_ok(_ref("NewAttachment"), 201, "Created"),
                        **_errors(400, 401, 403, 404, 409, 413, 422),
                    },
                    operation_id="attachFile",
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
                    "The decision's audit events, oldest first, with their hashes",
                    {**_ok(_items("AuditEvent")), **_errors(401, 403, 404)},
                    operation_id="listAuditEvents",
                    params=[ID],
                )
            },
            "/audit/verify": {
                "post": _op(
                    "Verify the whole audit chain",
                    {**_ok(_ref("Verification")), **_errors(401, 403)},
                    operation_id="verifyAudit",
                )
            },
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token an administrator issued "
                    "(`decisionflow tokens create USERNAME --name …`)",
                }
            },
            "schemas": _schemas(),
        },
    }
