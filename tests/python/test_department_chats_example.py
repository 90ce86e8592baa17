"""`examples/department_chats.py` (the README's example) against the host:
users land in their department's open chat, an existing chat of that name is
reused, and a second run changes nothing."""

from __future__ import annotations


from pachca.models import ChatAvailability, ListChatMessagesParams, ListChatsParams

from helpers import Sdk, assert_model, create, load_example, new_chat, run, unique


def test_the_example_places_users_in_their_department_chats(server, monkeypatch, capsys):
    sales, legal = unique("Sales "), unique("Legal ")

    async def setup():
        async with Sdk(server) as c:
            existing = await new_chat(c, name=sales, public=True)
            s1 = (await create(c, department=sales)).id
            s2 = (await create(c, department=f"  {sales} ")).id
            l1 = (await create(c, department=legal)).id
            nobody = (await create(c)).id
            return existing.id, s1, s2, l1, nobody

    existing, s1, s2, l1, nobody = run(setup())

    async def messages(chat_id: int) -> list[int]:
        async with Sdk(server) as c:
            found = await c.messages.list_chat_messages_all(ListChatMessagesParams(chat_id=chat_id))
            for m in found:
                assert_model(m)
            return [m.id for m in found]

    quiet = run(messages(existing))
    monkeypatch.setenv("PACHCA_BASE_URL", server.base_url)
    monkeypatch.setenv("PACHCA_TOKEN", server.admin_token)
    example = load_example("department_chats")

    placed = example.main()
    assert placed[sales] == existing
    assert f"{sales}: chat {existing}, 2 added" in capsys.readouterr().out

    async def check():
        async with Sdk(server) as c:
            chat = await c.chats.get_chat(placed[sales])
            assert_model(chat)
            assert chat.member_ids == [1, s1, s2]
            created = await c.chats.get_chat(placed[legal])
            assert_model(created)
            assert (created.name, created.public, created.channel) == (legal, True, False)
            assert created.member_ids == [1, l1]
            for chat_id in placed.values():
                assert nobody not in (await c.chats.get_chat(chat_id)).member_ids
            public = await c.chats.list_chats_all(ListChatsParams(availability=ChatAvailability.PUBLIC))
            return sorted(ch.id for ch in public if ch.name in (sales, legal))

    before = run(check())
    # Silent adds: no system message announces them.
    assert run(messages(existing)) == quiet
    assert before == sorted([existing, placed[legal]])

    # Idempotent: the same chats, nobody added twice.
    again = example.main(server.base_url, server.admin_token)
    assert again == placed
    assert f"{legal}: chat {placed[legal]}, 0 added" in capsys.readouterr().out
    assert run(check()) == before
