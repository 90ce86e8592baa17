"""Alerts from a monitoring system into a chat, through a bot's incoming
webhook, with the official Python SDK for the setup.

The setup (once): creates the bot `alerts_bot` with a Liquid template that
turns a Grafana-style alert into a message, and adds it to the chat named by
ALERT_CHAT (an open chat, created if missing). Then it posts one alert to
the bot's secret incoming URL the way the monitoring system would: a plain
HTTP POST of its JSON, no token. The message appears in every group chat
the bot is in.

    pip install pachca-sdk==1.6.1
    PACHCA_BASE_URL=http://127.0.0.1:3000/api/shared/v1 \\
    PACHCA_TOKEN=$(cat .spin/admin_token) python3 examples/monitoring_alerts.py

Point the monitoring system at the URL it prints. Needs a token with
bots:write, bots:read, chats:read, chats:create and chat_members:write (an
admin's token has them).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.request

from pachca.client import PachcaClient
from pachca.models import (
    AddMembersRequest,
    BotCreateRequest,
    BotCreateRequestWebhook,
    BotTemplateEngine,
    ChatAvailability,
    ChatCreateRequest,
    ChatCreateRequestChat,
    ListChatsParams,
)

TEMPLATE = (
    "{% if status == 'resolved' %}✅{% else %}🔥{% endif %} **{{ alert.name }}** — "
    "{{ alert.severity | upcase }}\n"
    "{{ alert.summary }}{% if alert.url %}\n[Open in Grafana]({{ alert.url }}){% endif %}\n"
    "{% for label in alert.labels %}`{{ label }}` {% endfor %}"
)


async def setup(client: PachcaClient, chat_name: str) -> tuple[int, int]:
    """Creates the bot and puts it in the chat; returns (bot id, chat id)."""
    bot = await client.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
        name="Alerts", nickname=None, template=TEMPLATE,
        template_engine=BotTemplateEngine.LIQUID)))
    chats = await client.chats.list_chats_all(ListChatsParams(availability=ChatAvailability.PUBLIC))
    chat = next((c for c in chats if c.name == chat_name), None)
    if chat is None:
        chat = (await client.chats.create_chat(ChatCreateRequest(chat=ChatCreateRequestChat(
            name=chat_name, public=True)))).data
    await client.members.add_members(chat.id, AddMembersRequest(member_ids=[bot.id], silent=True))
    return bot.id, chat.id


def incoming_url(base_url: str, token: str, bot_id: int) -> str:
    """The bot's secret incoming URL, which our server shows its creator as
    `webhook.url` (an extension field the SDK keeps)."""
    request = urllib.request.Request(f"{base_url}/bots/{bot_id}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["data"]["webhook"]["url"]


def send_alert(url: str, alert: dict) -> list[int]:
    """What the monitoring system does: POST the JSON, no token."""
    request = urllib.request.Request(url, data=json.dumps(alert).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["data"]["message_ids"]


async def main() -> int:
    base_url = os.environ.get("PACHCA_BASE_URL", "http://127.0.0.1:3000/api/shared/v1")
    token = os.environ.get("PACHCA_TOKEN")
    if not token:
        print("set PACHCA_TOKEN", file=sys.stderr)
        return 2
    chat_name = os.environ.get("ALERT_CHAT", "Alerts")
    client = PachcaClient(token, base_url=base_url)
    try:
        bot_id, chat_id = await setup(client, chat_name)
    finally:
        await client.close()
    url = incoming_url(base_url, token, bot_id)
    alert = {"status": "firing", "alert": {
        "name": "High CPU", "severity": "critical", "summary": "CPU above 90% for 5 minutes on db-1",
        "url": "https://grafana.example.com/d/cpu", "labels": ["prod", "db"]}}
    ids = send_alert(url, alert)
    print(f"bot {bot_id} posts to chat {chat_id}; incoming URL: {url}")
    print(f"alert posted as message(s) {ids}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
