"""A helpdesk driven by reactions, with the official Python SDK: the bot
posts each request as a ticket in the support chat, and agents move it on
with a reaction; the bot edits the ticket to show where it stands.

    👀  taken: "в работе", with who took it
    ✅  done:  "закрыта"

The bot needs no public URL: it keeps its event history
(`events_history_enabled`) and reads it with `poll_webhook_events`.

    pip install pachca-sdk==1.6.1
    PACHCA_BASE_URL=http://127.0.0.1:3000/api/shared/v1 \\
    PACHCA_TOKEN=$(cat .spin/admin_token) python3 examples/helpdesk_reactions.py

It sets the bot up, opens one ticket, and then handles reactions until
interrupted (or for HELPDESK_SECONDS). Needs an admin's token for the setup.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pachca.client import PachcaClient
from pachca.models import (
    AddMembersRequest,
    BotCreateRequest,
    BotCreateRequestWebhook,
    BotEventName,
    ChatCreateRequest,
    ChatCreateRequestChat,
    MessageCreateRequest,
    MessageCreateRequestMessage,
    MessageEntityType,
    MessageUpdateRequest,
    MessageUpdateRequestMessage,
    ReactionWebhookPayload,
)

STATES = {"👀": "в работе", "✅": "закрыта"}


def ticket_text(request: str, state: str, who: str | None = None) -> str:
    line = f"Статус: {state}" + (f" ({who})" if who else "")
    return f"🎫 Заявка: {request}\n{line}"


async def setup(admin: PachcaClient, chat_name: str) -> tuple[int, str, int]:
    """Creates the helpdesk bot and its support chat; returns (bot id, bot token, chat id)."""
    bot = await admin.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
        name="Helpdesk", events=[BotEventName.REACTION_NEW], events_history_enabled=True)))
    chat = (await admin.chats.create_chat(ChatCreateRequest(chat=ChatCreateRequestChat(
        name=chat_name)))).data
    await admin.members.add_members(chat.id, AddMembersRequest(member_ids=[bot.id], silent=True))
    return bot.id, bot.access_token, chat.id


async def open_ticket(bot: PachcaClient, chat_id: int, request: str) -> int:
    """The bot posts a ticket; returns its message id."""
    message = await bot.messages.create_message(MessageCreateRequest(
        message=MessageCreateRequestMessage(entity_type=MessageEntityType.DISCUSSION,
                                            entity_id=chat_id,
                                            content=ticket_text(request, "открыта"))))
    return message.id


async def handle(bot: PachcaClient, bot_id: int, payload: ReactionWebhookPayload) -> bool:
    """Moves the ticket a reaction is on; returns whether it changed one."""
    state = STATES.get(payload.code)
    if state is None:
        return False
    message = await bot.messages.get_message(payload.message_id)
    if message.user_id != bot_id or not message.content.startswith("🎫 Заявка: "):
        return False
    request = message.content.split("\n", 1)[0].removeprefix("🎫 Заявка: ")
    who = None
    if payload.code == "👀":
        who = (await bot.users.get_user(payload.user_id)).first_name
    await bot.messages.update_message(message.id, MessageUpdateRequest(
        message=MessageUpdateRequestMessage(content=ticket_text(request, state, who))))
    return True


async def work(bot: PachcaClient, bot_id: int, handled: list[int], interval: float = 1.0) -> None:
    """Handles reaction events as they come (each exactly once)."""
    async for event in bot.bots.poll_webhook_events(interval_seconds=interval):
        if isinstance(event.payload, ReactionWebhookPayload):
            if await handle(bot, bot_id, event.payload):
                handled.append(event.payload.message_id)


async def main() -> int:
    base_url = os.environ.get("PACHCA_BASE_URL", "http://127.0.0.1:3000/api/shared/v1")
    token = os.environ.get("PACHCA_TOKEN")
    if not token:
        print("set PACHCA_TOKEN", file=sys.stderr)
        return 2
    admin = PachcaClient(token, base_url=base_url)
    try:
        bot_id, bot_token, chat_id = await setup(admin, os.environ.get("HELPDESK_CHAT", "Support"))
    finally:
        await admin.close()
    bot = PachcaClient(bot_token, base_url=base_url)
    try:
        ticket = await open_ticket(bot, chat_id, "Не работает VPN")
        print(f"ticket {ticket} in chat {chat_id}; react 👀 or ✅ to it")
        seconds = float(os.environ.get("HELPDESK_SECONDS", "0")) or None
        try:
            await asyncio.wait_for(work(bot, bot_id, []), timeout=seconds)
        except asyncio.TimeoutError:
            pass
    finally:
        await bot.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
