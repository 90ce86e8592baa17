"""A pull-request status bot, with the official Python SDK: one head
message per PR in the team chat that the bot edits as the PR moves
(opened → approved → merged), and every step posted in the head message's
thread, so the chat stays one line per PR and the history is one click away.

    pip install pachca-sdk==1.6.1
    PACHCA_BASE_URL=http://127.0.0.1:3000/api/shared/v1 \\
    PACHCA_TOKEN=$(cat .spin/admin_token) python3 examples/pr_status.py

It creates the bot and the chat `PR_CHAT` (default "Pull requests"), then
plays one PR's life; in real use `on_event` is called from your CI or
forge's webhook handler. Needs an admin's token for the setup.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from pachca.client import PachcaClient
from pachca.models import (
    AddMembersRequest,
    BotCreateRequest,
    BotCreateRequestWebhook,
    Button,
    ChatCreateRequest,
    ChatCreateRequestChat,
    MessageCreateRequest,
    MessageCreateRequestMessage,
    MessageEntityType,
    MessageUpdateRequest,
    MessageUpdateRequestMessage,
)

ICONS = {"opened": "🟡", "approved": "🟢", "changes_requested": "🔴", "merged": "🟣"}


@dataclass
class PullRequest:
    """What the bot knows of one PR: its head message and that message's thread."""

    number: int
    title: str
    url: str
    head_message_id: int
    thread_id: int
    thread_chat_id: int


def head_text(number: int, title: str, state: str) -> str:
    return f"{ICONS.get(state, '⚪')} PR #{number}: {title} — {state}"


async def setup(admin: PachcaClient, chat_name: str) -> tuple[str, int]:
    """Creates the bot and the team chat; returns (bot token, chat id)."""
    bot = await admin.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
        name="PR status")))
    chat = (await admin.chats.create_chat(ChatCreateRequest(chat=ChatCreateRequestChat(
        name=chat_name)))).data
    await admin.members.add_members(chat.id, AddMembersRequest(member_ids=[bot.id], silent=True))
    return bot.access_token, chat.id


async def open_pr(bot: PachcaClient, chat_id: int, number: int, title: str, url: str) -> PullRequest:
    """Posts the head message (with a link button) and opens its thread."""
    head = await bot.messages.create_message(MessageCreateRequest(message=MessageCreateRequestMessage(
        entity_type=MessageEntityType.DISCUSSION, entity_id=chat_id,
        content=head_text(number, title, "opened"),
        buttons=[[Button(text="Открыть PR", url=url)]])))
    thread = await bot.threads.create_thread(head.id)
    pr = PullRequest(number, title, url, head.id, thread.id, thread.chat_id)
    await on_event(bot, pr, "opened", "PR открыт")
    return pr


async def on_event(bot: PachcaClient, pr: PullRequest, state: str, note: str) -> None:
    """One step of the PR: the head message shows the new state, the thread gets the note."""
    await bot.messages.update_message(pr.head_message_id, MessageUpdateRequest(
        message=MessageUpdateRequestMessage(content=head_text(pr.number, pr.title, state))))
    await bot.messages.create_message(MessageCreateRequest(message=MessageCreateRequestMessage(
        entity_type=MessageEntityType.THREAD, entity_id=pr.thread_id,
        content=f"{ICONS.get(state, '⚪')} {note}")))


async def main() -> int:
    base_url = os.environ.get("PACHCA_BASE_URL", "http://127.0.0.1:3000/api/shared/v1")
    token = os.environ.get("PACHCA_TOKEN")
    if not token:
        print("set PACHCA_TOKEN", file=sys.stderr)
        return 2
    admin = PachcaClient(token, base_url=base_url)
    try:
        bot_token, chat_id = await setup(admin, os.environ.get("PR_CHAT", "Pull requests"))
    finally:
        await admin.close()
    bot = PachcaClient(bot_token, base_url=base_url)
    try:
        pr = await open_pr(bot, chat_id, 42, "Вход по SSO", "https://git.example.com/app/pull/42")
        await on_event(bot, pr, "approved", "Одобрен: @reviewer")
        await on_event(bot, pr, "merged", "Влит в main")
        print(f"PR #{pr.number}: head message {pr.head_message_id}, thread chat {pr.thread_chat_id}")
    finally:
        await bot.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
