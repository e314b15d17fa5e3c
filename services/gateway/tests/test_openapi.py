"""The merged document: public paths only, gateway answers declared, security schemes set."""

from typing import Any

from services.gateway.app.openapi import merge_documents


def doc(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}}


def op(ref: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}
    return {"get": {"responses": {"200": {"description": "ok", "content": content}}}}


AUTH = doc(
    {
        "/api/v1/auth/login": {"post": {"requestBody": {}, "responses": {}}},
        "/internal/v1/api-keys/resolve": op("Item"),
    },
    {"Item": {"type": "object", "title": "auth item"}},
)
TASKS = doc({"/api/v1/tasks/{id}": op("Item")}, {"Item": {"type": "object", "title": "task"}})


def merged() -> dict[str, Any]:
    return merge_documents({"auth": AUTH, "tasks": TASKS}, title="T", version="1")


def test_only_public_paths_are_kept() -> None:
    assert set(merged()["paths"]) == {"/api/v1/auth/login", "/api/v1/tasks/{id}"}
    assert merged()["openapi"] == "3.1.0"


def test_colliding_schema_names_are_prefixed_and_references_follow() -> None:
    document = merged()
    assert document["components"]["schemas"]["tasks_Item"]["title"] == "task"
    schema = document["paths"]["/api/v1/tasks/{id}"]["get"]["responses"]["200"]["content"]
    assert schema["application/json"]["schema"]["$ref"] == "#/components/schemas/tasks_Item"


def test_gateway_answers_and_security_are_declared() -> None:
    document = merged()
    login = document["paths"]["/api/v1/auth/login"]["post"]
    task = document["paths"]["/api/v1/tasks/{id}"]["get"]
    assert login["security"] == []
    assert {"413", "429", "502", "503", "504"} <= set(login["responses"])
    assert "401" not in login["responses"]
    assert {"401", "429"} <= set(task["responses"])
    flows = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert document["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


def test_the_gateways_own_ofrep_paths_are_public_api_too() -> None:
    own = doc({"/ofrep/v1/evaluate/flags": {"post": {"responses": {}}}}, {})
    document = merge_documents({"auth": AUTH, "gateway": own}, title="T", version="1")
    ofrep = document["paths"]["/ofrep/v1/evaluate/flags"]["post"]
    assert "401" in ofrep["responses"]
