"""Helpers shared by the SDK tests: unique values, the strict model check,
an SDK client context, plain HTTP for our extensions, personal tokens and bots.

`assert_model` checks that a parsed SDK model matches its declared field
types (the SDK itself is lenient: it keeps unknown enum values and passes
wrong types through).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import importlib.util
import itertools
import json
import sys
import threading
import types
import typing
import urllib.error
import urllib.request
from datetime import datetime
from enum import Enum
from pathlib import Path

from pachca.client import PachcaClient
from pachca.models import (
    Chat,
    ChatCreateRequest,
    ChatCreateRequestChat,
    CreateChatResponse,
    User,
    UserCreateRequest,
    UserCreateRequestUser,
)

_counter = itertools.count()

ROOT = Path(__file__).resolve().parents[2]


def load_example(name: str):
    """Imports `examples/<name>.py` as a module (the examples are scripts,
    not a package)."""
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would, so its dataclasses resolve.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def unique(prefix: str) -> str:
    """A value unique within the session (the host is shared by all tests)."""
    return f"{prefix}{next(_counter)}"


def assert_model(value: object, tp: object = None, path: str = "$") -> None:
    """Checks that a parsed SDK model matches its declared field types."""
    if tp is None:
        tp = type(value)
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if value is None:
            assert type(None) in args, f"{path} is null but not nullable"
            return
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                assert_model(value, arg, path)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError("; ".join(errors))
    assert value is not None, f"{path} is null but declared {tp}"
    if origin is list:
        assert isinstance(value, list), f"{path}: {value!r} is not a list"
        (item,) = typing.get_args(tp)
        for i, v in enumerate(value):
            assert_model(v, item, f"{path}[{i}]")
        return
    if origin is dict or tp is typing.Any:
        return
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        assert isinstance(value, tp), f"{path}: {value!r} is not a {tp.__name__}"
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            assert_model(getattr(value, f.name), hints[f.name], f"{path}.{f.name}")
        return
    if isinstance(tp, type) and issubclass(tp, Enum):
        assert isinstance(value, tp), f"{path}: {value!r} is not a {tp.__name__}"
        assert getattr(value, "is_known", True), f"{path}: {value!r} is unknown to {tp.__name__}"
        return
    if tp is datetime:
        assert isinstance(value, datetime), f"{path}: {value!r} is not a datetime"
        assert value.tzinfo is not None, f"{path}: {value!r} has no time zone"
        return
    if tp is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r} is not an int"
        return
    if tp is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: {value!r}"
        return
    if isinstance(tp, type):
        assert isinstance(value, tp), f"{path}: {value!r} is not a {tp.__name__}"


def run(coro):
    return asyncio.run(coro)


class Sdk:
    """`async with Sdk(server, token) as client:` closes the client afterwards."""

    def __init__(self, server, token: str | None = None) -> None:
        self.client = PachcaClient(token or server.admin_token, base_url=server.base_url)

    async def __aenter__(self) -> PachcaClient:
        return self.client

    async def __aexit__(self, *exc) -> None:
        await self.client.close()


def raw_request(url: str, method: str, token: str | None, body: bytes | None = None) -> tuple[int, bytes]:
    """One JSON request with `Bearer token` (no `Authorization` when `None`):
    the status and the raw answer, whatever the status."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http(server, method: str, path: str, body: dict | None = None, token: str | None = None):
    """Plain HTTP for our extensions, which the SDK does not know."""
    data = json.dumps(body).encode() if body is not None else None
    status, raw = raw_request(f"{server.base_url}{path}", method, token or server.admin_token, data)
    return status, (json.loads(raw) if raw else None)


async def create(client: PachcaClient, **fields) -> User:
    """Creates a user (a unique e-mail unless given) and checks the model."""
    email = fields.pop("email", None) or f"{unique('sdk')}@example.com"
    user = await client.users.create_user(UserCreateRequest(user=UserCreateRequestUser(email=email, **fields)))
    assert_model(user)
    return user


def issue_token(server, user_id: int, scopes: list[str] | None = None) -> dict:
    """A personal token of `user_id` via `POST /access_tokens`: `{"id", "token", ...}`."""
    body: dict = {"access_token": {"user_id": user_id, "name": "sdk"}}
    if scopes is not None:
        body["access_token"]["scopes"] = scopes
    status, data = http(server, "POST", "/access_tokens", body)
    assert status == 201, data
    return data["data"]


async def new_chat(client: PachcaClient, **fields) -> Chat:
    """Creates a chat through the SDK and checks the whole response."""
    fields.setdefault("name", unique("Chat "))
    created = await client.chats.create_chat(ChatCreateRequest(chat=ChatCreateRequestChat(**fields)))
    assert isinstance(created, CreateChatResponse)
    assert_model(created)
    assert created.meta.not_found_member_ids == []
    return created.data


def create_bot(server, name: str, nickname: str, token: str | None = None,
               who_can_add: str = "creator_admin_user") -> dict:
    """A bot via the official `POST /bots` (`BotCreateRequest`) that any
    non-guest may add to chats unless `who_can_add` says otherwise; returns
    `{"id", "nickname", "name", "token"}` from its `BotCreateResponse`."""
    body = {"webhook": {"name": name, "nickname": nickname, "who_can_add": who_can_add}}
    status, data = http(server, "POST", "/bots", body, token=token)
    assert status == 201, data
    created = data["data"]
    return {
        "id": created["id"],
        "nickname": created["webhook"]["nickname"],
        "name": created["webhook"]["name"],
        "token": created["access_token"],
    }


class Receiver:
    """A webhook receiver written from the guide's Python example: it keeps
    each request whose `Pachca-Signature` matches the raw body (signed with
    `secret`), counts the others, and answers 200. With `signed=False` it
    receives unsigned announcements (a chat export's): it keeps those that
    carry no `Pachca-Signature` and counts the others."""

    def __init__(self, signed: bool = True) -> None:
        self.events: list[dict] = []
        self.bad_signatures = 0
        self.secret = ""
        receiver = self

        class Hook(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw_body = self.rfile.read(int(self.headers.get("content-length") or 0))
                expected = hmac.new(receiver.secret.encode(), raw_body, hashlib.sha256).hexdigest()
                got = self.headers.get("Pachca-Signature")
                if (hmac.compare_digest(expected, got or "") if signed else got is None):
                    receiver.events.append(json.loads(raw_body))
                else:
                    receiver.bad_signatures += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    async def wait_for(self, n: int, seconds: float = 10.0) -> list[dict]:
        """The events once `n` have come (or after `seconds`)."""
        for _ in range(int(seconds / 0.05)):
            if len(self.events) >= n:
                break
            await asyncio.sleep(0.05)
        return self.events

    async def next_event(self, kind: str, seconds: float = 10.0) -> dict:
        """Takes the first event of `type` `kind`, waiting up to `seconds`."""
        for _ in range(int(seconds / 0.02)):
            for e in self.events:
                if e.get("type") == kind:
                    self.events.remove(e)
                    return e
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind} event in {seconds}s: {self.events}")
