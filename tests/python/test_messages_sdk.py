"""The official Python SDK (`pachca-sdk`) against our messages area,
unchanged but for its base URL: posting with mentions, buttons and files,
replies, edits, pins, every page of a chat's messages, reactions, threads
(including a cross thread), read members and message search.

Every response is parsed into the SDK's models and checked by `assert_model`.
"""

from __future__ import annotations

import pytest
from pachca.models import (
    AddMembersRequest,
    ApiError,
    Button,
    ListChatMessagesParams,
    ListReactionsParams,
    ListThreadsParams,
    MessageCreateRequest,
    MessageCreateRequestFile,
    MessageCreateRequestMessage,
    MessageEntityType,
    MessageUpdateRequest,
    MessageUpdateRequestMessage,
    ReactionRequest,
    RemoveReactionParams,
    SearchMessagesParams,
    FileType,
    SortOrder,
)

from helpers import Sdk, assert_model, create, http, issue_token, new_chat, run, unique


def send(chat_id: int, content: str, **fields) -> MessageCreateRequest:
    return MessageCreateRequest(message=MessageCreateRequestMessage(entity_id=chat_id, content=content, **fields))


def test_messages_reactions_and_threads_through_the_sdk(server):
    async def scenario():
        async with Sdk(server) as admin:
            bob = await create(admin, nickname=unique("bob"))
            bob_token = issue_token(server, bob.id)["token"]
            chat = await new_chat(admin, member_ids=[bob.id])
            m = await admin.messages.create_message(send(
                chat.id,
                f"Привет, <@{bob.id}>",
                buttons=[[Button(text="Open", url="https://example.com"), Button(text="Yes", data="yes")]],
                files=[MessageCreateRequestFile(key="attaches/files/1/a/pic.png", name="pic.png",
                                                file_type=FileType.IMAGE, size=10, width=4, height=3)],
            ))
            assert_model(m)
            assert m.content == f"Привет, @{bob.nickname}"
            assert m.entity_type == MessageEntityType.DISCUSSION
            assert m.chat_id == m.root_chat_id == m.entity_id == chat.id
            assert m.buttons[0][1].data == "yes"
            assert m.files[0].width == 4
            assert m.url.startswith(server.origin)

            async with Sdk(server, bob_token) as bob_client:
                reply = await bob_client.messages.create_message(send(chat.id, "ответ", parent_message_id=m.id))
                assert_model(reply)
                assert reply.parent_message_id == m.id
                edited = await bob_client.messages.update_message(
                    reply.id, MessageUpdateRequest(message=MessageUpdateRequestMessage(content="исправлено")))
                assert_model(edited)
                assert edited.content == "исправлено"
                reaction = await bob_client.reactions.add_reaction(m.id, ReactionRequest(code="👍"))
                assert_model(reaction)
                assert (reaction.user_id, reaction.code) == (bob.id, "👍")
                await bob_client.reactions.add_reaction(m.id, ReactionRequest(code="🔥"))
                await bob_client.messages.pin_message(m.id)
                await bob_client.messages.unpin_message(m.id)

            with pytest.raises(ApiError):
                await admin.messages.update_message(
                    reply.id, MessageUpdateRequest(message=MessageUpdateRequestMessage(content="не моё")))

            for i in range(5):
                await admin.messages.create_message(send(chat.id, f"сообщение {i}"))
            msgs = await admin.messages.list_chat_messages_all(
                ListChatMessagesParams(chat_id=chat.id, limit=2, order=SortOrder.ASC))
            for x in msgs:
                assert_model(x)
            ids = [x.id for x in msgs]
            assert ids == sorted(ids) and len(ids) == len(set(ids))
            assert m.id in ids and reply.id in ids

            reactions = await admin.reactions.list_reactions_all(m.id, ListReactionsParams(limit=1))
            for r in reactions:
                assert_model(r)
            assert sorted(r.code for r in reactions) == sorted(["👍", "🔥"])
            async with Sdk(server, bob_token) as bob_client:
                await bob_client.reactions.remove_reaction(m.id, RemoveReactionParams(code="🔥"))
            assert len(await admin.reactions.list_reactions_all(m.id)) == 1

            # A cross thread: an outsider sees the thread and its root only.
            out = await create(admin, nickname=unique("out"))
            out_token = issue_token(server, out.id)["token"]
            thread = await admin.threads.create_thread(m.id)
            assert_model(thread)
            assert (thread.message_id, thread.message_chat_id) == (m.id, chat.id)
            assert (await admin.threads.create_thread(m.id)).id == thread.id
            await admin.members.add_members(thread.chat_id, AddMembersRequest(member_ids=[out.id]))
            async with Sdk(server, out_token) as out_client:
                c = await out_client.messages.create_message(MessageCreateRequest(message=MessageCreateRequestMessage(
                    entity_type=MessageEntityType.THREAD, entity_id=thread.id, content="снаружи")))
                assert_model(c)
                assert (c.chat_id, c.root_chat_id, c.entity_id) == (thread.chat_id, chat.id, thread.id)
                root = await out_client.messages.get_message(m.id)
                assert root.thread.chat_id == thread.chat_id
                with pytest.raises(ApiError):
                    await out_client.messages.list_chat_messages(ListChatMessagesParams(chat_id=chat.id))
                with pytest.raises(ApiError):
                    await out_client.messages.get_message(reply.id)
                threads = await out_client.threads.list_threads_all(ListThreadsParams(limit=1))
                assert [t.id for t in threads] == [thread.id]
                assert_model(await out_client.threads.get_thread(thread.id))

            standalone = await admin.threads.create_standalone_thread()
            assert_model(standalone)
            assert standalone.message_id is None

            # Read state (our extension) feeds read_member_ids.
            status, _ = http(server, "POST", f"/chats/{chat.id}/read", {"message_id": m.id}, token=bob_token)
            assert status == 200
            readers = await admin.read_members.list_read_members(m.id)
            assert bob.id in readers["data"]

            found = await admin.search.search_messages(SearchMessagesParams(query="ИСПРАВЛЕНО", chat_ids=[chat.id]))
            assert_model(found)
            assert [x.id for x in found.data] == [reply.id]
            assert found.meta.total == 1

            await admin.messages.delete_message(reply.id)
            gone = await admin.messages.get_message(reply.id)
            assert gone.deleted_at is not None

    run(scenario())
