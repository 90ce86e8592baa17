"""A bot with a form, with the official Python SDK: a time-off request.

The bot posts "Оформить отпуск" with a data button. Whoever presses it gets
a form (dates, availability, a comment); the bot checks the submission and
either shows what is wrong under the field (the end before the start) or
accepts it, closing the form, and posts the request into the chat.

The bot receives its webhooks on a small HTTP server of its own, checks
every `Pachca-Signature` as `guides/webhook-handler.md` says, opens the
form with `views.open_view` within the 3 seconds a `trigger_id` lives, and
answers every submission within the 3 seconds it has
(`guides/forms-handling.md`).

    pip install pachca-sdk==1.6.1
    SPIN_VARIABLE_WEBHOOK_ALLOW_PRIVATE=true scripts/up   # the bot listens on loopback
    PACHCA_BASE_URL=http://127.0.0.1:3000/api/shared/v1 \\
    PACHCA_TOKEN=$(cat .spin/admin_token) python3 examples/timeoff_form.py

It sets the bot up in a chat (TIMEOFF_CHAT, default "Отпуска"), posts the
offer, and then serves forms until interrupted (or for TIMEOFF_SECONDS).
The bot listens on TIMEOFF_LISTEN (default 127.0.0.1:8765), which the
server must reach. Needs an admin's token for the setup.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import urllib.request
from datetime import date

from pachca.client import PachcaClient
from pachca.models import (
    AddMembersRequest,
    BotCreateRequest,
    BotCreateRequestWebhook,
    BotEventName,
    Button,
    ChatCreateRequest,
    ChatCreateRequestChat,
    MessageCreateRequest,
    MessageCreateRequestMessage,
    MessageEntityType,
    OpenViewRequest,
    OpenViewRequestView,
    ViewBlockDate,
    ViewBlockHeader,
    ViewBlockInput,
    ViewBlockRadio,
    ViewBlockSelectableOption,
)

CALLBACK_ID = "timeoff_request_form"


def form(trigger_id: str, chat_id: int) -> OpenViewRequest:
    """The time-off form for one press; the chat rides along in
    `private_metadata` and comes back with the submission."""
    return OpenViewRequest(
        type="modal", trigger_id=trigger_id, callback_id=CALLBACK_ID,
        private_metadata=json.dumps({"chat_id": chat_id}),
        view=OpenViewRequestView(title="Заявка на отпуск", submit_text="Отправить заявку", blocks=[
            ViewBlockHeader(type="header", text="Даты отпуска"),
            ViewBlockDate(type="date", name="date_start", label="Начало", required=True),
            ViewBlockDate(type="date", name="date_end", label="Конец", required=True),
            ViewBlockRadio(type="radio", name="accessibility", label="На связи", options=[
                ViewBlockSelectableOption(text="Только телефон", value="phone_only"),
                ViewBlockSelectableOption(text="Не на связи", value="nothing", checked=True)]),
            ViewBlockInput(type="input", name="info", label="Комментарий", multiline=True,
                           max_length=500),
        ]))


def check(data: dict) -> dict[str, str]:
    """What is wrong with a submission, by field (empty when nothing is)."""
    start, end = date.fromisoformat(data["date_start"]), date.fromisoformat(data["date_end"])
    if end < start:
        return {"date_end": "Дата окончания отпуска не может быть меньше даты начала"}
    if (end - start).days > 27:
        return {"date_end": "Не больше 28 дней подряд"}
    return {}


def announcement(user: str, data: dict) -> str:
    where = {"phone_only": "только по телефону", "nothing": "не на связи"}
    text = (f"🌴 {user} в отпуске с {data['date_start']} по {data['date_end']}, "
            f"{where.get(data.get('accessibility'), 'не на связи')}")
    return text + (f"\n{data['info']}" if data.get("info") else "")


def signing_secret(base_url: str, admin_token: str, bot_id: int) -> str:
    """The bot's signing secret: our documented extension field of
    `GET /bots/{id}` for the bot's creator (Pachka shows it in the bot's
    settings)."""
    req = urllib.request.Request(f"{base_url}/bots/{bot_id}",
                                 headers={"Authorization": f"Bearer {admin_token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["data"]["signing_secret"]


async def setup(admin: PachcaClient, chat_name: str, url: str) -> tuple[int, str, int]:
    """Creates the bot (its webhook at `url`) and its chat; returns (bot id,
    bot token, chat id)."""
    bot = await admin.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
        name="Отпуска", outgoing_url=url, events=[BotEventName.BUTTON_CLICK])))
    chat = (await admin.chats.create_chat(ChatCreateRequest(chat=ChatCreateRequestChat(
        name=chat_name)))).data
    await admin.members.add_members(chat.id, AddMembersRequest(member_ids=[bot.id], silent=True))
    return bot.id, bot.access_token, chat.id


async def post_offer(bot: PachcaClient, chat_id: int) -> int:
    """The bot's message with the button; returns its id."""
    message = await bot.messages.create_message(MessageCreateRequest(
        message=MessageCreateRequestMessage(
            entity_type=MessageEntityType.DISCUSSION, entity_id=chat_id,
            content="Собираетесь в отпуск? Оформите заявку.",
            buttons=[[Button(text="Оформить отпуск", data="timeoff")]])))
    return message.id


class FormBot:
    """The bot's webhook endpoint. `accepted` collects the requests it took."""

    def __init__(self, listen: str, base_url: str, token: str, secret: str = "") -> None:
        self.base_url, self.token, self.secret = base_url, token, secret
        self.accepted: list[dict] = []
        host, port = listen.rsplit(":", 1)
        bot = self

        class Hook(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                expected = hmac.new(bot.secret.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("Pachca-Signature", "")):
                    return self.reply(401, b"")
                status, answer = asyncio.run(bot.handle(json.loads(body)))
                self.reply(status, json.dumps(answer).encode() if answer else b"")

            def reply(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, int(port)), Hook)
        self.url = f"http://{host}:{self.server.server_address[1]}/hook"

    def start(self) -> None:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if getattr(self, "thread", None):
            self.server.shutdown()
        self.server.server_close()

    async def handle(self, event: dict) -> tuple[int, dict | None]:
        """One webhook: a press opens the form; a submission is checked,
        and accepted or answered with per-field errors."""
        bot = PachcaClient(self.token, base_url=self.base_url)
        try:
            if event.get("type") == "button" and event.get("data") == "timeoff":
                await bot.views.open_view(form(event["trigger_id"], event["chat_id"]))
                return 200, None
            if event.get("type") == "view" and event.get("callback_id") == CALLBACK_ID:
                errors = check(event["data"])
                if errors:
                    return 400, {"errors": errors}
                chat_id = json.loads(event["private_metadata"])["chat_id"]
                user = await bot.users.get_user(event["user_id"])
                await bot.messages.create_message(MessageCreateRequest(
                    message=MessageCreateRequestMessage(
                        entity_type=MessageEntityType.DISCUSSION, entity_id=chat_id,
                        content=announcement(user.first_name or user.nickname, event["data"]))))
                self.accepted.append(event["data"])
            return 200, None
        finally:
            await bot.close()


async def main() -> int:
    base_url = os.environ.get("PACHCA_BASE_URL", "http://127.0.0.1:3000/api/shared/v1")
    token = os.environ.get("PACHCA_TOKEN")
    if not token:
        print("set PACHCA_TOKEN", file=sys.stderr)
        return 2
    hook = FormBot(os.environ.get("TIMEOFF_LISTEN", "127.0.0.1:8765"), base_url, "")
    admin = PachcaClient(token, base_url=base_url)
    try:
        bot_id, bot_token, chat_id = await setup(
            admin, os.environ.get("TIMEOFF_CHAT", "Отпуска"), hook.url)
    finally:
        await admin.close()
    hook.token, hook.secret = bot_token, signing_secret(base_url, token, bot_id)
    hook.start()
    bot = PachcaClient(bot_token, base_url=base_url)
    try:
        offer = await post_offer(bot, chat_id)
    finally:
        await bot.close()
    print(f"offer {offer} in chat {chat_id}; press its button")
    try:
        await asyncio.sleep(float(os.environ.get("TIMEOFF_SECONDS", "0")) or 10**9)
    finally:
        hook.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
