"""The official Python SDK (`pachca-sdk`) against our chats area, unchanged
but for its base URL: a channel's lifecycle, silent member adds and chat
roles, archiving, every documented filter of `GET /chats` across all pages,
open chats seen and joined by another user, the members list by role,
group tags bringing their users into a chat and taking them out again, and
new users joining chats through `chat_ids`.

Every response is parsed into the SDK's models and checked by `assert_model`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pachca.client import PachcaClient
from pachca.models import (
    AddMembersRequest,
    ApiError,
    Chat,
    ChatAvailability,
    ChatMemberRole,
    ChatMemberRoleFilter,
    ChatSortField,
    ChatUpdateRequest,
    ChatUpdateRequestChat,
    GroupTagRequest,
    GroupTagRequestGroupTag,
    ListChatMessagesParams,
    ListChatsParams,
    ListMembersParams,
    SearchChatsParams,
    SortOrder,
    UserCreateRole,
    UserRole,
    ValidationErrorCode,
)

from helpers import Sdk, assert_model, create, issue_token, new_chat, run, unique


async def all_chats(client: PachcaClient, **params) -> list[Chat]:
    """Every page of `GET /chats` (two chats a page), each chat checked."""
    chats = await client.chats.list_chats_all(ListChatsParams(limit=2, **params))
    for c in chats:
        assert_model(c)
    ids = [c.id for c in chats]
    assert len(ids) == len(set(ids)), f"a chat was repeated: {ids}"
    return chats


async def member_ids(client: PachcaClient, chat_id: int, role: ChatMemberRoleFilter | None = None) -> list[int]:
    """Every page of `GET /chats/{id}/members` (two users a page), each user checked."""
    users = await client.members.list_members_all(chat_id, ListMembersParams(role=role, limit=2))
    for u in users:
        assert_model(u)
    return [u.id for u in users]


def test_a_channel_with_silent_adds_roles_rename_and_archive(server):
    async def go():
        async with Sdk(server) as c:
            alice, bob, carol = [(await create(c, first_name=n)).id for n in ("Alice", "Bob", "Carol")]
            name = unique("📣 News ")
            chat = await new_chat(c, name=name, member_ids=[alice], channel=True, public=True)
            assert (chat.name, chat.owner_id, chat.channel, chat.public) == (name, 1, True, True)
            assert (chat.archived, chat.personal, chat.group_tag_ids) == (False, False, [])
            assert chat.member_ids == [1, alice]
            assert chat.last_message_at >= chat.created_at
            assert chat.created_at.tzinfo is not None

            history = ListChatMessagesParams(chat_id=chat.id)
            before = await c.messages.list_chat_messages_all(history)
            await c.members.add_members(chat.id, AddMembersRequest(member_ids=[bob, carol], silent=True))
            got = await c.chats.get_chat(chat.id)
            assert_model(got)
            assert got.member_ids == [1, alice, bob, carol]
            # Silent: no system message announces the addition.
            assert await c.messages.list_chat_messages_all(history) == before

            await c.members.update_member_role(chat.id, bob, ChatMemberRole.EDITOR)
            await c.members.update_member_role(chat.id, carol, ChatMemberRole.ADMIN)
            assert await member_ids(c, chat.id, ChatMemberRoleFilter.OWNER) == [1]
            assert await member_ids(c, chat.id, ChatMemberRoleFilter.ADMIN) == [carol]
            assert await member_ids(c, chat.id, ChatMemberRoleFilter.EDITOR) == [bob]
            assert await member_ids(c, chat.id, ChatMemberRoleFilter.MEMBER) == [alice]
            assert await member_ids(c, chat.id, ChatMemberRoleFilter.ALL) == [1, alice, bob, carol]
            assert await member_ids(c, chat.id) == [1, alice, bob, carol]
            page = await c.members.list_members(chat.id, ListMembersParams(limit=3))
            assert_model(page)
            assert [u.id for u in page.data] == [1, alice, bob]
            assert page.meta.paginate.has_next is True

            # The creator's role is protected.
            with pytest.raises(ApiError) as err:
                await c.members.update_member_role(chat.id, 1, ChatMemberRole.MEMBER)
            assert_model(err.value.errors[0])
            assert err.value.errors[0].code is ValidationErrorCode.OWNER_PROTECTED

            renamed = await c.chats.update_chat(
                chat.id, ChatUpdateRequest(chat=ChatUpdateRequestChat(name=name + " (old)", public=False))
            )
            assert_model(renamed)
            assert (renamed.name, renamed.public) == (name + " (old)", False)

            await c.chats.archive_chat(chat.id)
            archived = await c.chats.get_chat(chat.id)
            assert_model(archived)
            assert archived.archived is True
            # Membership is frozen while archived.
            with pytest.raises(ApiError) as err:
                await c.members.add_members(chat.id, AddMembersRequest(member_ids=[1]))
            assert err.value.errors[0].code is ValidationErrorCode.FORBIDDEN
            await c.chats.unarchive_chat(chat.id)
            assert (await c.chats.get_chat(chat.id)).archived is False

            with pytest.raises(ApiError) as err:
                await c.members.remove_member(chat.id, 1)
            assert_model(err.value.errors[0])
            assert err.value.errors[0].code is ValidationErrorCode.CANNOT_KICK_OWNER
            await c.members.remove_member(chat.id, alice)
            assert await member_ids(c, chat.id) == [1, bob, carol]

            page = await c.search.search_chats(SearchChatsParams(query=name.upper(), limit=1))
            assert_model(page)
            assert (page.meta.total, [f.id for f in page.data]) == (1, [chat.id])
            found = await c.search.search_chats_all(SearchChatsParams(query=name.upper(), limit=1))
            for f in found:
                assert_model(f)
            assert [f.id for f in found] == [chat.id]

    run(go())


def test_list_chats_with_every_filter_across_pages(server):
    async def go():
        async with Sdk(server) as c:
            prefix = unique("Filters ")
            mine = [await new_chat(c, name=f"{prefix} {i}", public=i % 2 == 0) for i in range(7)]
            ids = [ch.id for ch in mine]
            archived = mine[3]
            await c.chats.archive_chat(archived.id)
            active = [i for i in ids if i != archived.id]
            mine = [await c.chats.get_chat(i) for i in ids]
            by_last_message = [ch.id for ch in sorted(mine, key=lambda ch: (ch.last_message_at, ch.id))]

            def ours(chats: list[Chat]) -> list[int]:
                return [ch.id for ch in chats if ch.id in ids]

            # Default: sort=id, order=desc, availability=is_member, no archived chats.
            assert ours(await all_chats(c)) == sorted(active, reverse=True)
            assert ours(await all_chats(c, sort=ChatSortField.ID, order=SortOrder.DESC)) == sorted(active, reverse=True)
            assert ours(await all_chats(c, sort=ChatSortField.ID, order=SortOrder.ASC)) == active
            assert ours(await all_chats(c, archived=True, order=SortOrder.ASC)) == ids
            assert ours(await all_chats(c, archived=False, order=SortOrder.ASC)) == active

            # last_message_at (the creation time until the first message), ties by id.
            by_time = await all_chats(c, sort=ChatSortField.LAST_MESSAGE_AT, order=SortOrder.ASC, archived=True)
            keys = [(ch.last_message_at, ch.id) for ch in by_time]
            assert keys == sorted(keys)
            assert ours(by_time) == by_last_message
            desc = await all_chats(c, sort=ChatSortField.LAST_MESSAGE_AT, order=SortOrder.DESC, archived=True)
            assert ours(desc) == by_last_message[::-1]

            lo, hi = mine[1].last_message_at, mine[5].last_message_at
            window = await all_chats(
                c, archived=True, order=SortOrder.ASC, last_message_at_after=lo, last_message_at_before=hi
            )
            expected = [ch.id for ch in mine if lo <= ch.last_message_at <= hi]
            assert {mine[1].id, mine[5].id} <= set(expected)
            assert ours(window) == expected
            assert all(lo <= ch.last_message_at <= hi for ch in window)
            later = await all_chats(c, archived=True, last_message_at_after=hi + timedelta(milliseconds=1))
            assert ours(later) == [ch.id for ch in mine if ch.last_message_at > hi][::-1]
            earlier = await all_chats(c, archived=True, last_message_at_before=lo - timedelta(milliseconds=1))
            assert ours(earlier) == [ch.id for ch in mine if ch.last_message_at < lo][::-1]
            # The SDK sends naive datetimes without an offset: read as UTC.
            naive = await all_chats(
                c, archived=True, order=SortOrder.ASC,
                last_message_at_after=lo.replace(tzinfo=None), last_message_at_before=hi.replace(tzinfo=None),
            )
            assert ours(naive) == expected

            # personal: none of these is personal; personal=true lists only personal chats.
            assert ours(await all_chats(c, personal=False, order=SortOrder.ASC)) == active
            personal = await all_chats(c, personal=True, archived=True)
            assert ours(personal) == []
            assert all(ch.personal for ch in personal)

            # availability=public: every open chat, member or not.
            public = await all_chats(c, availability=ChatAvailability.PUBLIC, archived=True, order=SortOrder.ASC)
            assert all(ch.public and not ch.personal for ch in public)
            assert ours(public) == [ch.id for ch in mine if ch.public]
            member = await all_chats(c, availability=ChatAvailability.IS_MEMBER, order=SortOrder.ASC)
            assert ours(member) == active

            first = await c.chats.list_chats(ListChatsParams(limit=2, order=SortOrder.ASC))
            assert_model(first)
            assert len(first.data) == 2
            assert first.meta.paginate.has_next is True

    run(go())


def test_another_user_lists_open_chats_and_joins_one(server):
    async def setup():
        async with Sdk(server) as c:
            dave = await create(c, first_name="Dave")
            prefix = unique("Open ")
            open_chat = await new_chat(c, name=f"{prefix} discussion", public=True)
            open_channel = await new_chat(c, name=f"{prefix} channel", public=True, channel=True)
            closed = await new_chat(c, name=f"{prefix} closed")
            return dave, open_chat, open_channel, closed

    dave, open_chat, open_channel, closed = run(setup())
    token = issue_token(server, dave.id)["token"]

    async def as_dave():
        async with Sdk(server, token) as c:
            ours = {open_chat.id, open_channel.id, closed.id}
            public = await all_chats(c, availability=ChatAvailability.PUBLIC)
            assert {ch.id for ch in public} & ours == {open_chat.id, open_channel.id}
            assert {ch.id for ch in await all_chats(c)} & ours == set()

            seen = await c.chats.get_chat(open_chat.id)
            assert_model(seen)
            assert dave.id not in seen.member_ids
            with pytest.raises(ApiError) as err:
                await c.chats.get_chat(closed.id)
            assert_model(err.value.errors[0])
            assert err.value.errors[0].code is ValidationErrorCode.NOT_FOUND

            # Joining an open chat: adding oneself.
            await c.members.add_members(open_chat.id, AddMembersRequest(member_ids=[dave.id], silent=True))
            joined = await c.chats.get_chat(open_chat.id)
            assert_model(joined)
            assert joined.member_ids == [1, dave.id]
            assert await member_ids(c, open_chat.id, ChatMemberRoleFilter.MEMBER) == [dave.id]
            assert {ch.id for ch in await all_chats(c)} & ours == {open_chat.id}
            public = await all_chats(c, availability=ChatAvailability.PUBLIC, sort=ChatSortField.LAST_MESSAGE_AT)
            assert {ch.id for ch in public} & ours == {open_chat.id, open_channel.id}

            await c.members.leave_chat(open_chat.id)
            assert {ch.id for ch in await all_chats(c)} & ours == set()

    run(as_dave())


def test_a_group_tag_brings_its_users_into_a_chat_and_takes_them_out(server):
    async def go():
        async with Sdk(server) as c:
            tag_name = unique("Ops ")
            tag = await c.group_tags.create_tag(GroupTagRequest(group_tag=GroupTagRequestGroupTag(name=tag_name)))
            assert_model(tag)
            tagged = [(await create(c, list_tags=[tag_name])).id for _ in range(3)]
            direct = tagged[0]
            outsider = (await create(c)).id

            chat = await new_chat(c, member_ids=[direct, outsider])
            assert chat.member_ids == sorted([1, direct, outsider])

            await c.members.add_tags(chat.id, [tag.id])
            with_tag = await c.chats.get_chat(chat.id)
            assert_model(with_tag)
            assert with_tag.group_tag_ids == [tag.id]
            assert with_tag.member_ids == sorted({1, outsider, *tagged})
            assert await member_ids(c, chat.id) == sorted({1, outsider, *tagged})

            # A user who gets the tag later joins too.
            late = (await create(c, list_tags=[tag_name])).id
            assert late in (await c.chats.get_chat(chat.id)).member_ids

            await c.members.remove_tag(chat.id, tag.id)
            without = await c.chats.get_chat(chat.id)
            assert_model(without)
            assert without.group_tag_ids == []
            # Those who were there only through the tag leave; direct members stay.
            assert without.member_ids == sorted([1, direct, outsider])
            assert await member_ids(c, chat.id) == sorted([1, direct, outsider])

            # A chat created with the tag has its users from the start.
            tagged_chat = await new_chat(c, group_tag_ids=[tag.id])
            assert tagged_chat.group_tag_ids == [tag.id]
            assert tagged_chat.member_ids == sorted({1, late, *tagged})

    run(go())


def test_new_users_join_the_chats_given_on_creation(server):
    async def go():
        async with Sdk(server) as c:
            open_chat = await new_chat(c, public=True)
            closed = await new_chat(c)
            user = await create(c, chat_ids=[open_chat.id, closed.id])
            for chat_id in (open_chat.id, closed.id):
                got = await c.chats.get_chat(chat_id)
                assert_model(got)
                assert got.member_ids == [1, user.id]
            assert await member_ids(c, closed.id, ChatMemberRoleFilter.MEMBER) == [user.id]

            # An unknown chat: 422 on its item, and the user is not created.
            email = f"{unique('nochat')}@example.com"
            with pytest.raises(ApiError) as err:
                await create(c, email=email, chat_ids=[open_chat.id, 987654321])
            item = err.value.errors[0]
            assert_model(item)
            assert (item.key, item.code, item.value) == ("chat_ids.1", ValidationErrorCode.NOT_FOUND, "987654321")
            assert (await create(c, email=email)).email == email

            # A guest joins exactly one active chat.
            guest = await create(c, role=UserCreateRole.GUEST, chat_ids=[closed.id])
            assert guest.role is UserRole.GUEST
            assert guest.id in (await c.chats.get_chat(closed.id)).member_ids

    run(go())
