"""`examples/pr_status.py` against the host: one head message per PR, edited
to the PR's latest state, with every step in its thread."""

from __future__ import annotations

from pachca.models import ListChatMessagesParams

from helpers import Sdk, load_example, run, unique


def test_the_head_message_follows_the_pr_and_the_thread_keeps_its_steps(server):
    example = load_example("pr_status")

    async def scenario():
        async with Sdk(server) as admin:
            bot_token, chat_id = await example.setup(admin, unique("PRs "))
            async with Sdk(server, bot_token) as bot:
                pr = await example.open_pr(bot, chat_id, 7, "Кэш", "https://git.example.com/p/7")
                await example.on_event(bot, pr, "approved", "Одобрен")
                await example.on_event(bot, pr, "merged", "Влит в main")
            head = await admin.messages.get_message(pr.head_message_id)
            assert head.content == "🟣 PR #7: Кэш — merged"
            assert head.buttons[0][0].url == "https://git.example.com/p/7"
            in_chat = await admin.messages.list_chat_messages_all(
                ListChatMessagesParams(chat_id=chat_id))
            assert [m.id for m in in_chat] == [pr.head_message_id]
            steps = await admin.messages.list_chat_messages_all(
                ListChatMessagesParams(chat_id=pr.thread_chat_id))
            assert sorted(m.content for m in steps) == sorted(
                ["🟡 PR открыт", "🟢 Одобрен", "🟣 Влит в main"])

    run(scenario())
