"""The OpenAPI 3.1 document for the referral API, built from api_schema.SCHEMA (one source)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from panel.referrals import api_schema
from panel.referrals.api_schema import Field


def json_schema(spec: Field) -> dict[str, Any]:
    """JSON Schema (2020-12, as OpenAPI 3.1 uses) for one field of the body."""
    out = _type_schema(spec)
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.nullable:
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        out["type"] = [out["type"], "null"]
    if spec.description:
        out["description"] = spec.description
    return out


_SIMPLE_TYPES: dict[str, dict[str, Any]] = {
    "date": {"type": "string", "format": "date"},
    "email": {"type": "string", "format": "email"},
    "boolean": {"type": "boolean"},
}


def _type_schema(spec: Field) -> dict[str, Any]:
    """The schema of the field's kind, before what every kind may add (length, null, description)."""
    if spec.kind == "object":
        return _object_schema(spec)
    if spec.kind == "list":
        assert spec.items is not None
        out: dict[str, Any] = {"type": "array", "items": json_schema(spec.items)}
        if spec.max_items is not None:
            out["maxItems"] = spec.max_items
        if spec.unique_items:
            out["uniqueItems"] = True
        return out
    if spec.kind == "enum":
        return {"type": "string", "enum": list(spec.enum)}
    return dict(_SIMPLE_TYPES.get(spec.kind, {"type": "string"}))  # a copy: the caller adds to it


def _object_schema(spec: Field) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: json_schema(child) for name, child in spec.properties.items()},
    }
    required = [name for name, child in spec.properties.items() if child.required]
    if required:
        out["required"] = required
    return out


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document() -> dict[str, Any]:
    service = current_app.config["SERVICE_NAME"]
    created = {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}}
    location = {"Location": {"description": "The referral's page in the service.", "schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{service} referral API",
            "version": "1.0.0",
            "description": (
                "Agencies' own systems send referrals into the pathway without re-keying them. The body is a "
                "stable interface: unknown fields are refused. The same validation and the same case cap as the "
                "referral form apply: when the pathway is full the referral is saved with status `waiting`. "
                "Every call is audited. Tokens belong to one agency, the referring agency."
            ),
        },
        "servers": [{"url": current_app.config["PUBLIC_URL"]}],
        "security": [{"bearerToken": []}],
        "paths": {
            "/api/referrals": {
                "post": {
                    "operationId": "createReferral",
                    "summary": "Make a referral",
                    "parameters": [{
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": ("Any value unique to this referral (1 to 100 visible ASCII characters). "
                                        "Sending the same key again with the same token and the same body (the "
                                        "same JSON, however spaced or ordered) returns the original referral "
                                        "with 200, and never makes a second one. The same key with a different "
                                        "body is refused with 422: use a new key for each new referral."),
                        "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"},
                    }],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Referral"},
                            "example": api_schema.EXAMPLE,
                        }},
                    },
                    "responses": {
                        "201": {"description": "Created: `submitted` when the pathway has room, else `waiting`.",
                                "headers": location, "content": created},
                        "200": {"description": "A repeat of an earlier call with the same Idempotency-Key: the "
                                               "original referral, as first answered.",
                                "headers": location, "content": created},
                        "400": _error_response("The body is not well-formed UTF-8 JSON (or repeats a key), or "
                                               "the Idempotency-Key is not valid."),
                        "401": {**_error_response("No token, not a bearer token, or an unknown or revoked token."),
                                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
                        "403": _error_response("The token's agency has no current information sharing agreement "
                                               "(never signed, or past its review date), so it cannot make "
                                               "referrals, as on the referral form. The error says which."),
                        "413": _error_response(f"The body is larger than {api_schema.MAX_BODY_BYTES // 1024} KB."),
                        "415": _error_response("The Content-Type is not application/json."),
                        "422": {"description": ("The referral cannot be accepted: one error per field path "
                                                "(ValidationErrors); or the Idempotency-Key was already used "
                                                "with a different body, for a different referral (Error)."),
                                "content": {"application/json": {"schema": {"oneOf": [
                                    {"$ref": "#/components/schemas/ValidationErrors"},
                                    {"$ref": "#/components/schemas/Error"}]}}}},
                        "429": {**_error_response("Too many calls with this token in the last minute."),
                                "headers": {"Retry-After": {"description": "Seconds to wait.",
                                                            "schema": {"type": "integer"}}}},
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer",
                                "description": "A token issued by the service's administrators for one agency."},
            },
            "schemas": {
                "Referral": json_schema(api_schema.SCHEMA),
                "Created": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["reference", "status", "url"],
                    "properties": {
                        "reference": {"type": "string", "examples": ["R-2027-00042"]},
                        "status": {"type": "string", "enum": ["submitted", "waiting"]},
                        "url": {"type": "string", "format": "uri"},
                    },
                },
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "ValidationErrors": {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {"errors": {"type": "array", "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string", "description": "Path in the body, like person.nhs_number"},
                            "message": {"type": "string"},
                        },
                    }}},
                },
            },
        },
    }
