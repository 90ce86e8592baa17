"""Broadcasts (our extension) seen from the official Python SDK: the
broadcast is sent through raw HTTP, then every recipient finds it with
their own token by `list_chats(personal=True)` and `list_chat_messages`,
answers it, presses a button with our extension and reacts, and the
analytics count exactly that. Every SDK answer is checked against its
models, so broadcast messages are ordinary messages to a client."""

from __future__ import annotations

import time

from pachca.models import ListChatMessagesParams, ListChatsParams, ReactionRequest

from helpers import Sdk, assert_model, create, http, issue_token, run, unique


def wait_until_sent(server, bid: int) -> dict:
    deadline = time.monotonic() + 20
    while True:
        status, got = http(server, "GET", f"/broadcasts/{bid}")
        assert status == 200, got
        if got["data"]["state"] == "sent":
            return got["data"]
        assert time.monotonic() < deadline, got
        time.sleep(0.05)


def test_every_recipient_reads_the_broadcast_with_the_sdk(server):
    department = unique("Логистика ")

    async def scenario():
        async with Sdk(server) as owner:
            people = [await create(owner, first_name=f"Курьер {i}", department=department)
                      for i in range(3)]
        status, created = http(server, "POST", "/broadcasts", {"broadcast": {
            "content": "Новый график смен с понедельника. Подтвердите:",
            "buttons": [[{"text": "Ознакомлен", "data": "ack"}]],
            "audience": {"departments": [department]},
        }})
        assert status == 201, created
        bid = created["data"]["id"]
        assert created["data"]["recipients_count"] == 3
        sent = wait_until_sent(server, bid)
        assert sent["delivered_count"] == 3

        for i, person in enumerate(people):
            token = issue_token(server, person.id)["token"]
            async with Sdk(server, token) as them:
                chats = await them.chats.list_chats(ListChatsParams(personal=True))
                assert_model(chats)
                assert len(chats.data) == 1 and chats.data[0].personal
                page = await them.messages.list_chat_messages(
                    ListChatMessagesParams(chat_id=chats.data[0].id))
                assert_model(page)
                assert [m.content for m in page.data] == ["Новый график смен с понедельника. Подтвердите:"]
                message = page.data[0]
                assert message.user_id == 1 and message.buttons[0][0].data == "ack"
                if i == 0:
                    # Writing back reads it and counts as a reply.
                    await them.messages.create_message(_reply(chats.data[0].id))
                if i < 2:
                    status, body = http(server, "POST", f"/messages/{message.id}/button_clicks",
                                        {"data": "ack"}, token=token)
                    assert status < 300, body
                    await them.reactions.add_reaction(message.id, ReactionRequest(code="👍"))

        status, stats = http(server, "GET", f"/broadcasts/{bid}/analytics")
        assert status == 200, stats
        s = stats["data"]
        assert s["read"]["count"] == 1 and s["replied"]["count"] == 1
        assert s["clicked"]["count"] == 2 and s["buttons"][0]["count"] == 2
        assert s["reactions"] == [{"code": "👍", "count": 2, "percent": 66.7}]
        status, unread = http(server, "GET", f"/broadcasts/{bid}/recipients?state=unread")
        assert [r["user_id"] for r in unread["data"]] == sorted(p.id for p in people[1:])

    run(scenario())


def _reply(chat_id: int):
    from pachca.models import MessageCreateRequest, MessageCreateRequestMessage

    return MessageCreateRequest(message=MessageCreateRequestMessage(
        entity_id=chat_id, content="Ознакомился, спасибо"))
