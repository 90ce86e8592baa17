"""The access matrix: every operation of the official `openapi.yaml` and of
our extension OpenAPI, called by every kind of caller, with what each gets.

Columns (callers):

| caller      | who                                                        |
|-------------|------------------------------------------------------------|
| `none`      | no `Authorization` header                                  |
| `malformed` | `Bearer` followed by something that is no token of ours    |
| `revoked`   | a personal token deleted with `DELETE /access_tokens/{id}` |
| `suspended` | the token of a user since suspended                        |
| `scopeless` | the owner's token holding one scope the operation does not need |
| `owner`, `admin`, `user` | a personal token with every scope the role may hold |
| `bot`       | a bot's token with every scope a bot may hold              |

Guests and multi-guests hold no scopes (`x-scope-roles` names neither), so
no token can be issued to them: `test_guests_cannot_hold_tokens`.

Rows are read from the two OpenAPI files, so a new operation is in the
matrix by being documented; every route of `spin.toml` must be covered by
an operation or by `OTHER_ROUTES`, or `test_every_route_of_spin_toml_is_in_the_matrix`
fails. What each cell expects:

* `none`, `malformed`, `revoked`, `suspended`: 401 with an `OAuthError`
  (`api/authorization.md`), for every operation that takes a token.
* `scopeless`: 403 `OAuthError` `insufficient_scope` for every operation
  with `x-requirements.scope`.
* A role whose token cannot hold the operation's scope (the spec's
  `x-scope-roles`; `EXTENSION_ROLES` for ours): 403 `insufficient_scope`.
* A role that holds it passes the gate: neither 401 nor
  `insufficient_scope`, a status the operation documents (read as
  `scripts/spec_hooks.py` reads the spec), and an `ApiError` for any 4xx.
* `user` and `bot` are no members of the owner's private chat, so every
  operation on it, its message, thread, task, export or broadcast is 404
  for them (`MEMBERS_ONLY`), not 403: nothing says it exists.
* `TOKENLESS` operations authenticate otherwise (a signed form, a token in
  the path, none at all); every caller gets the same answer from them.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from helpers import http, issue_token, raw_request, unique

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared/reference/pachca-api/openapi.yaml"
EXTENSIONS = ROOT / "shared/openapi/extensions.json"

CALLERS = ("none", "malformed", "revoked", "suspended", "scopeless", "user", "bot", "admin", "owner")
ROLES = ("user", "bot", "admin", "owner")

# Who may hold our own scopes (the owner and admins; a bot when granted,
# except analytics, which only the owner and admins read).
EXTENSION_ROLES = {
    "broadcasts:read": {"owner", "admin", "bot"},
    "broadcasts:write": {"owner", "admin", "bot"},
    "analytics:read": {"owner", "admin"},
    "analytics:write": {"owner", "admin"},
}

# Operations without `x-requirements.scope` that still take a bearer token,
# and who passes them: any token reads its own info and manages its user's
# own tokens (other users' only an owner's or admin's token with
# `users:update`: `INVISIBLE`); the schedulers' routes take the owner's or
# an admin's token, whatever it holds (they only run work that is due).
UNSCOPED = {
    ("GET", "/oauth/token/info"): {*ROLES, "scopeless"},
    ("POST", "/access_tokens"): {*ROLES, "scopeless"},
    ("GET", "/access_tokens"): {*ROLES, "scopeless"},
    ("DELETE", "/access_tokens/{id}"): {*ROLES, "scopeless"},
    ("POST", "/webhooks/deliveries/run"): {"owner", "admin", "scopeless"},
    ("POST", "/broadcasts/run"): {"owner", "admin", "scopeless"},
}

# Operations that take no bearer token, with the status any caller gets for
# the matrix's request: an unsigned form, a token in the path that is no
# incoming webhook's, the public OpenAPI document.
TOKENLESS = {
    ("POST", "/direct_url"): 400,  # a JSON body is no upload form
    ("POST", "/webhooks/incoming/{token}"): 404,
    ("GET", "/openapi.json"): 200,
}

# Routes of spin.toml outside the API: a file of a message needs a token
# (401 without one) or a signed link; avatars are public, as `image_url`
# is shown to anyone. A file that does not exist is 404.
OTHER_ROUTES = {
    "/attaches/...": ("/attaches/no/such/file.txt", 401),
    "/avatars/...": ("/avatars/no-such-avatar", 404),
}

# Operations on the owner's private chat and what is in it: 404 for callers
# who are no members (`user`, `bot`), as for a chat that does not exist.
# With `BODIES`, so that the request is valid but for whom it addresses.
MEMBERS_ONLY = {
    ("GET", "/chats/{id}"), ("PUT", "/chats/{id}"), ("PUT", "/chats/{id}/archive"),
    ("PUT", "/chats/{id}/unarchive"), ("GET", "/chats/{id}/members"),
    ("POST", "/chats/{id}/members"), ("DELETE", "/chats/{id}/members/{user_id}"),
    ("PUT", "/chats/{id}/members/{user_id}"), ("POST", "/chats/{id}/group_tags"),
    ("DELETE", "/chats/{id}/group_tags/{tag_id}"), ("DELETE", "/chats/{id}/leave"),
    ("POST", "/chats/{id}/read"), ("GET", "/chats/{id}/read_state"),
    ("GET", "/messages"), ("GET", "/messages/{id}"), ("PUT", "/messages/{id}"),
    ("DELETE", "/messages/{id}"), ("POST", "/messages/{id}/pin"), ("DELETE", "/messages/{id}/pin"),
    ("POST", "/messages/{id}/reactions"), ("DELETE", "/messages/{id}/reactions"),
    ("GET", "/messages/{id}/reactions"), ("GET", "/messages/{id}/read_member_ids"),
    ("POST", "/messages/{id}/thread"), ("POST", "/messages/{id}/link_previews"),
    ("POST", "/messages/{id}/button_clicks"), ("GET", "/threads/{id}"),
    ("GET", "/tasks/{id}"), ("PUT", "/tasks/{id}"), ("DELETE", "/tasks/{id}"),
    ("GET", "/chats/exports/{id}"),
}

# Who gets 404 from each operation, for what it addresses: the private
# chat's for non-members, another user's token for all but the managers.
INVISIBLE = {
    **{op: {"user", "bot"} for op in MEMBERS_ONLY},
    # Only bots preview links: a user is refused for what they are (403,
    # below), a bot without unfurl_domains does not see the message.
    ("POST", "/messages/{id}/link_previews"): {"bot"},
    ("DELETE", "/access_tokens/{id}"): {"user", "bot", "scopeless"},
}

# Business rules that refuse a caller for what it is, whatever the request
# addresses: a 403 `ApiError`.
REFUSED_FOR_WHAT_THEY_ARE = {
    ("POST", "/messages/{id}/link_previews"): {"user", "admin", "owner"},
}

# Valid bodies for the operations of `INVISIBLE` (and where an empty one
# would be refused before what it addresses is looked up); `{}` elsewhere.
BODIES = {
    ("PUT", "/chats/{id}"): {"chat": {"name": "Renamed"}},
    ("POST", "/chats/{id}/group_tags"): {"group_tag_ids": ["{tag}"]},
    ("POST", "/chats/{id}/members"): {"member_ids": ["{user}"]},
    ("PUT", "/chats/{id}/members/{user_id}"): {"role": "admin"},
    ("POST", "/chats/{id}/read"): {"message_id": "{message}"},
    ("PUT", "/messages/{id}"): {"message": {"content": "edited"}},
    ("POST", "/messages/{id}/button_clicks"): {"data": "vote"},
    ("POST", "/messages/{id}/link_previews"): {
        "link_previews": {"https://example.com/": {"title": "Example", "description": "A page"}}},
    ("POST", "/messages/{id}/reactions"): {"code": "👍"},
    ("PUT", "/tasks/{id}"): {"task": {"content": "edited"}},
}

# Calls that end the caller's own token run last in its column.
LAST = {("POST", "/bot/recreate_token")}

# The matrix's query strings: each operation's required parameters, naming
# the private resources.
QUERIES = {
    ("GET", "/messages"): "chat_id={chat}",
    ("DELETE", "/messages/{id}/reactions"): "code=%F0%9F%91%8D",
    ("GET", "/search/users"): "query=x",
    ("GET", "/search/chats"): "query=x",
    ("GET", "/search/messages"): "query=x",
}


def operations() -> list[tuple[str, str, dict, bool]]:
    """`(method, path, operation, official)` of both OpenAPI files."""
    found = []
    for spec, official in ((SPEC, True), (EXTENSIONS, False)):
        raw = yaml.safe_load(spec.read_text()) if official else json.loads(spec.read_text())
        for path, item in raw["paths"].items():
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    found.append((method.upper(), path, op, official))
    return found


def scope_roles() -> dict[str, set[str]]:
    """The spec's `x-scope-roles`: scope → the holders that may have it."""
    raw = yaml.safe_load(SPEC.read_text())

    def find(node):
        if isinstance(node, dict):
            if "x-scope-roles" in node:
                return node["x-scope-roles"]
            for v in node.values():
                if (hit := find(v)) is not None:
                    return hit
        return None

    table = find(raw) or {}
    names = raw["components"]["schemas"]["OAuthScope"]["enum"]
    by_key = {n.replace(":", "_"): n for n in names}
    assert set(table) == set(by_key), "x-scope-roles and OAuthScope disagree"
    return {by_key[k]: set(v) for k, v in table.items()}


def send(server, method: str, path: str, token: str | None, body: bytes | None = None):
    """`raw_request` to an API path (or a whole URL), the answer parsed."""
    url = path if path.startswith("http") else server.base_url + path
    status, raw = raw_request(url, method, token, body)
    try:
        return status, (json.loads(raw) if raw else None)
    except ValueError:
        return status, None


@pytest.fixture(scope="module")
def world(server):
    """The callers' tokens and the owner's private resources."""
    owner = server.admin_token

    def user(role: str) -> int:
        email = f"{unique('matrix')}@example.com"
        status, data = http(server, "POST", "/users", {"user": {"email": email, "role": role}})
        assert status == 201, data
        return data["data"]["id"]

    admin_id, user_id, suspended_id, other_id = (user(r) for r in ("admin", "user", "user", "user"))
    tokens = {
        "owner": owner,
        "admin": issue_token(server, admin_id)["token"],
        "user": issue_token(server, user_id)["token"],
        "malformed": "not-a-token-of-ours",
    }
    revoked = issue_token(server, user_id)
    assert http(server, "DELETE", f"/access_tokens/{revoked['id']}")[0] == 204
    tokens["revoked"] = revoked["token"]
    tokens["suspended"] = issue_token(server, suspended_id)["token"]
    status, data = http(server, "PUT", f"/users/{suspended_id}", {"user": {"suspended": True}})
    assert status == 200, data
    roles = scope_roles()
    bot_scopes = sorted([s for s, holders in roles.items() if "bot" in holders]
                        + [s for s, holders in EXTENSION_ROLES.items() if "bot" in holders])
    status, data = http(server, "POST", "/bots", {"webhook": {
        "name": "Matrix", "nickname": f"{unique('matrix').replace('-', '_')}_bot", "scopes": bot_scopes}})
    assert status == 201, data
    tokens["bot"] = data["data"]["access_token"]
    bot_id = data["data"]["id"]
    # One scope nobody in the matrix needs but GET /search/users, and
    # another for that one.
    tokens["scopeless"] = issue_token(server, 1, ["search:users"])["token"]
    tokens["scopeless_search_users"] = issue_token(server, 1, ["search:chats"])["token"]

    status, data = http(server, "POST", "/chats", {"chat": {"name": unique("Matrix "), "public": False}})
    assert status == 201, data
    chat = data["data"]["id"]
    status, data = http(server, "POST", "/messages", {"message": {"entity_id": chat, "content": "private"}})
    assert status == 201, data
    message = data["data"]["id"]
    status, data = http(server, "POST", f"/messages/{message}/thread")
    assert status == 201, data
    thread = data["data"]["id"]
    status, data = http(server, "POST", "/tasks", {"task": {"kind": "reminder", "content": "private",
                                                           "chat_id": chat}})
    assert status == 201, data
    task = data["data"]["id"]
    status, data = http(server, "POST", "/group_tags", {"group_tag": {"name": unique("Matrix ")}})
    assert status == 201, data
    tag = data["data"]["id"]
    spare = issue_token(server, other_id)["id"]
    ids = {
        "/chats/exports/{id}": 1, "/chats/{id}": chat, "/messages/{id}": message,
        "/threads/{id}": thread, "/tasks/{id}": task, "/bots/{id}": bot_id,
        "/users/{id}": other_id, "/users/{user_id}": other_id, "/group_tags/{id}": tag,
        "/access_tokens/{id}": spare, "/broadcasts/{id}": 999999, "/views/{id}": 999999,
        "/analytics/chats/{id}": chat,
        "/webhooks/events/{id}": 999999, "/custom_properties/{id}": 999999,
    }
    return {"tokens": tokens, "roles": roles, "chat": chat, "user": other_id, "tag": tag,
            "message": message, "ids": ids}


def concrete(world, method: str, path: str) -> str:
    """`path` with its parameters naming the owner's private resources: the
    first `{...}` by the longest `ids` entry that leads up to it."""
    out = path
    leading = [p for p in world["ids"] if path.startswith(p)]
    if leading:
        head = max(leading, key=len)
        out = re.sub(r"\{[^}]+\}", str(world["ids"][head]), head, count=1) + path[len(head):]
    out = (out.replace("{user_id}", str(world["user"])).replace("{tag_id}", str(world["tag"]))
           .replace("{delivery_id}", "999999").replace("{token}", "no-such-incoming-webhook"))
    assert "{" not in out, out
    query = QUERIES.get((method, path))
    return out + ("?" + query.format(chat=world["chat"]) if query else "")


def documented(op: dict, official: bool) -> set[int]:
    statuses = {int(s) for s in op.get("responses", {}) if s.isdigit()}
    if official:
        statuses |= {400, 403}  # scripts/spec_hooks.py, from api/errors.md
    return statuses


def cell(world, method: str, path: str, op: dict, official: bool, caller: str):
    """The expectation of one cell: `(status or None, rule)`."""
    key = (method, path)
    if key in TOKENLESS:
        return TOKENLESS[key], "tokenless"
    if caller in ("none", "malformed", "revoked", "suspended"):
        return 401, "oauth"
    scope = (op.get("x-requirements") or {}).get("scope")
    if scope:
        if caller == "scopeless":
            return 403, "insufficient_scope"
        holders = world["roles"].get(scope) or EXTENSION_ROLES.get(scope)
        assert holders is not None, f"{method} {path}: who holds {scope}?"
        if caller not in holders:
            return 403, "insufficient_scope"
    elif key in UNSCOPED:
        if caller not in UNSCOPED[key]:
            return None, "refused"
    else:
        raise AssertionError(f"{method} {path} has no scope: add it to UNSCOPED or TOKENLESS")
    if caller in REFUSED_FOR_WHAT_THEY_ARE.get(key, ()):
        return 403, "business_rule"
    if caller in INVISIBLE.get(key, ()):
        return 404, "invisible"
    return None, "passes"


def body_of(world, method: str, path: str) -> bytes | None:
    """The request body: `BODIES`, naming the private resources, or `{}`."""
    if method not in ("POST", "PUT"):
        return None
    text = json.dumps(BODIES.get((method, path), {}), ensure_ascii=False)
    for name in ("tag", "user", "message"):
        text = text.replace(f'"{{{name}}}"', str(world[name]))
    return text.encode()


def test_the_access_matrix(server, world):
    ops = operations()
    assert len([o for o in ops if o[3]]) == 77
    failures = []
    cells = 0
    for caller in CALLERS:
        for method, path, op, official in sorted(ops, key=lambda o: ((o[0], o[1]) in LAST, o[1], o[0])):
            if (method, path) in LAST and caller != "bot":
                continue
            expected, rule = cell(world, method, path, op, official, caller)
            token = None if caller == "none" else world["tokens"][caller]
            if caller == "scopeless" and path == "/search/users":
                token = world["tokens"]["scopeless_search_users"]
            body = body_of(world, method, path)
            status, answer = send(server, method, concrete(world, method, path), token, body)
            cells += 1
            error = answer.get("error") if isinstance(answer, dict) else None
            api_error = isinstance(answer, dict) and isinstance(answer.get("errors"), list)
            where = f"{caller:>9} {method} {path}: {status} {json.dumps(answer)[:200]}"
            if rule == "oauth":
                ok = status == 401 and error == "invalid_token"
            elif rule == "insufficient_scope":
                ok = status == 403 and error == "insufficient_scope"
            elif rule == "invisible":
                ok = status == 404 and api_error
            elif rule == "business_rule":
                ok = status == 403 and api_error
            elif rule == "tokenless":
                ok = status == expected
            elif rule == "refused":
                ok = status in (401, 403) and (error is not None or api_error)
            else:
                ok = (status in documented(op, official) and status != 401
                      and error != "insufficient_scope" and (status < 400 or api_error))
            if not ok:
                failures.append(f"expected {rule} {expected or ''}: {where}")
    assert not failures, f"{len(failures)} of {cells} cells:\n" + "\n".join(failures)


def test_every_route_of_spin_toml_is_in_the_matrix():
    manifest = tomllib.loads((ROOT / "spin.toml").read_text())
    paths = [p for _, p, _, _ in operations()]
    uncovered = []
    for trigger in manifest["trigger"]["http"]:
        route = trigger["route"]
        if route in OTHER_ROUTES:
            continue
        if not route.startswith("/api/shared/v1"):
            uncovered.append(route)
            continue
        parts = []
        for seg in route.removeprefix("/api/shared/v1").split("/")[1:]:
            parts.append("(/.*)?" if seg == "..." else "/[^/]+" if seg.startswith(":") else "/" + re.escape(seg))
        pattern = "".join(parts)
        rx = re.compile(f"^{pattern}$")
        if not any(rx.match(re.sub(r"\{[^}]+\}", "1", p)) for p in paths):
            uncovered.append(route)
    assert uncovered == []


def test_downloads_outside_the_api(server, world):
    for route, (path, without_token) in OTHER_ROUTES.items():
        status, answer = send(server, "GET", server.origin + path, None)
        assert status == without_token, (route, answer)
        if status == 401:
            assert answer["error"] == "invalid_token", answer
        status, answer = send(server, "GET", server.origin + path, world["tokens"]["owner"])
        assert status == 404 and answer["errors"][0]["code"] == "not_found", (route, answer)


def test_guests_cannot_hold_tokens(server):
    status, data = http(server, "POST", "/chats", {"chat": {"name": unique("Guests "), "public": False}})
    assert status == 201, data
    chat = data["data"]["id"]
    for role in ("guest", "multi_guest"):
        status, data = http(server, "POST", "/users", {"user": {"email": f"{unique('g')}@example.com",
                                                                "role": role, "chat_ids": [chat]}})
        assert status == 201, data
        status, data = http(server, "POST", "/access_tokens",
                            {"access_token": {"user_id": data["data"]["id"], "name": "guest"}})
        assert status == 403, data
        assert (data["errors"][0]["key"], data["errors"][0]["code"]) == ("user_id", "forbidden"), data
