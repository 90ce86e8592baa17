"""The messages issue's acceptance scenario: two people (Alice and Bob) and a
bot hold a real conversation through the official `pachca-sdk` alone — a
chat, a direct message, a cross thread with an outsider (Carol), reactions
used as a poll, read receipts and search.

Only tokens come from our extensions over plain HTTP (`POST /bots` for the
bot, `POST /access_tokens` for people), and marking a chat read
(`POST /chats/{id}/read`), which the official API has no route for. Every SDK
response is parsed into the SDK's models and checked by `assert_model`.
"""

from __future__ import annotations

from collections import Counter

import pytest
from pachca.models import (
    ApiError,
    ValidationErrorCode,
    ListChatMessagesParams,
    ListMembersParams,
    MessageCreateRequest,
    MessageCreateRequestMessage,
    MessageEntityType,
    ReactionRequest,
    SearchMessagesParams,
    SortOrder,
)

from helpers import Sdk, assert_model, create, create_bot, http, issue_token, new_chat, run, unique


def say(entity_id: int, content: str, **fields) -> MessageCreateRequest:
    return MessageCreateRequest(message=MessageCreateRequestMessage(entity_id=entity_id, content=content, **fields))


async def post(client, entity_id: int, content: str, **fields):
    """Sends a message and checks the whole response."""
    m = await client.messages.create_message(say(entity_id, content, **fields))
    assert_model(m)
    return m


async def chat_messages(client, chat_id: int) -> list:
    """Every message of a chat, oldest first, each checked."""
    msgs = await client.messages.list_chat_messages_all(
        ListChatMessagesParams(chat_id=chat_id, limit=2, order=SortOrder.ASC))
    for m in msgs:
        assert_model(m)
    return msgs


def assert_not_found(raised: pytest.ExceptionInfo) -> None:
    """The SDK raised an `ApiError` saying `not_found` (our 404 for what the caller cannot see)."""
    for item in raised.value.errors:
        assert_model(item)
    assert [e.code for e in raised.value.errors] == [ValidationErrorCode.NOT_FOUND]


async def search(client, word: str) -> list[int]:
    found = await client.search.search_messages(SearchMessagesParams(query=word))
    assert_model(found)
    assert found.meta.total == len(found.data)
    return [m.id for m in found.data]


def test_two_people_and_a_bot_hold_a_conversation_through_the_sdk(server):
    async def scenario():
        async with Sdk(server) as admin:
            alice = await create(admin, first_name="Alice", nickname=unique("alice"))
            bob = await create(admin, first_name="Bob", nickname=unique("bob"))
            carol = await create(admin, first_name="Carol", nickname=unique("carol"))
            bot = create_bot(server, "Helper", unique("helper") + "_bot")
            user = await admin.users.get_user(bot["id"])
            assert_model(user)
            assert user.bot and user.nickname == bot["nickname"]
        alice_token = issue_token(server, alice.id)["token"]
        bob_token = issue_token(server, bob.id)["token"]
        carol_token = issue_token(server, carol.id)["token"]

        async with (Sdk(server, alice_token) as a, Sdk(server, bob_token) as b,
                    Sdk(server, carol_token) as c, Sdk(server, bot["token"]) as h):
            # Alice creates a chat with Bob and the bot; they talk.
            chat = await new_chat(a, name=unique("Project "), member_ids=[bob.id, bot["id"]])
            members = await a.members.list_members_all(chat.id, ListMembersParams(limit=2))
            for m in members:
                assert_model(m)
            assert {m.id for m in members} == {alice.id, bob.id, bot["id"]}
            hello = await post(a, chat.id, f"Привет, <@{bob.id}>! Обсудим релиз?")
            assert hello.content == f"Привет, @{bob.nickname}! Обсудим релиз?"
            answer = await post(b, chat.id, "Да, я готов", parent_message_id=hello.id)
            assert answer.parent_message_id == hello.id
            assert answer.id in [m.id for m in await chat_messages(h, chat.id)]
            note = await post(h, chat.id, "Напоминание: релиз в пятницу", display_name="Release reminder")
            assert (note.user_id, note.display_name) == (bot["id"], "Release reminder")
            # (The chat opens with the system message announcing the members.)
            seen_by_bob = [m for m in await chat_messages(b, chat.id) if m.id >= hello.id]
            assert [m.id for m in seen_by_bob] == [hello.id, answer.id, note.id]
            assert seen_by_bob[2].display_name == "Release reminder"

            # Alice writes Bob directly (entity_type user): a personal chat.
            dm = await post(a, bob.id, "Лично: посмотри черновик", entity_type=MessageEntityType.USER)
            assert dm.entity_type == MessageEntityType.USER
            assert dm.entity_id == bob.id and dm.chat_id != chat.id
            assert [m.id for m in await chat_messages(b, dm.chat_id)] == [dm.id]
            with pytest.raises(ApiError) as raised:
                await c.messages.get_message(dm.id)
            assert_not_found(raised)

            # A cross thread: Alice mentions Carol, who is not in the chat.
            thread = await a.threads.create_thread(hello.id)
            assert_model(thread)
            assert (thread.message_id, thread.message_chat_id) == (hello.id, chat.id)
            invite = await post(a, thread.id, f"<@{carol.id}>, нужна твоя оценка",
                                entity_type=MessageEntityType.THREAD)
            assert (invite.chat_id, invite.root_chat_id) == (thread.chat_id, chat.id)
            in_thread = [m.id for m in await chat_messages(c, thread.chat_id)]
            assert invite.id in in_thread
            root = await c.messages.get_message(hello.id)
            assert_model(root)
            assert root.thread.chat_id == thread.chat_id
            reply = await post(c, thread.id, "Оценка: три дня, согласована", entity_type=MessageEntityType.THREAD)
            assert reply.user_id == carol.id
            in_thread = [m.id for m in await chat_messages(a, thread.chat_id)]
            assert in_thread[-2:] == [invite.id, reply.id]
            with pytest.raises(ApiError) as raised:
                await c.messages.list_chat_messages(ListChatMessagesParams(chat_id=chat.id))
            assert_not_found(raised)

            # A poll by reactions: whoever can read the question votes.
            question = await post(a, chat.id, "Когда релиз? 👍 пятница, 🔥 понедельник")
            for client, code in ((b, "👍"), (h, "🔥"), (a, "👍")):
                r = await client.reactions.add_reaction(question.id, ReactionRequest(code=code))
                assert_model(r)
                assert r.code == code
            with pytest.raises(ApiError) as raised:
                await c.reactions.add_reaction(question.id, ReactionRequest(code="🔥"))
            assert_not_found(raised)
            page = await b.reactions.list_reactions(question.id)
            assert_model(page)
            votes = await b.reactions.list_reactions_all(question.id)
            for r in votes:
                assert_model(r)
            tally = Counter(r.code for r in votes)
            assert tally == Counter({"👍": 2, "🔥": 1})
            assert {r.user_id for r in votes} == {alice.id, bob.id, bot["id"]}
            assert tally.most_common(1)[0][0] == "👍"

            # Read receipts: Bob marks the chat read up to the question.
            status, body = http(server, "POST", f"/chats/{chat.id}/read", {"message_id": question.id},
                                token=bob_token)
            assert status == 200, body
            readers = await a.read_members.list_read_members(question.id)
            assert isinstance(readers, dict) and all(isinstance(i, int) for i in readers["data"])
            assert bob.id in readers["data"] and carol.id not in readers["data"]

            # Search: a word of the chat is found by Bob, not by Carol (it is
            # outside her thread); the thread's root is readable by her, as is
            # the thread's word.
            assert await search(b, "готов") == [answer.id]
            assert await search(c, "готов") == []
            assert await search(c, "Обсудим") == [hello.id]
            assert await search(c, "согласована") == [reply.id]
            assert await search(b, "черновик") == [dm.id]
            assert await search(c, "черновик") == []

    run(scenario())
