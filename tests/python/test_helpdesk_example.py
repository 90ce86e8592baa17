"""`examples/helpdesk_reactions.py` against the host: the bot's ticket moves
to "в работе" with 👀 and to "закрыта" with ✅, from reaction events the bot
reads by polling, each handled once."""

from __future__ import annotations

import asyncio

from pachca.models import ReactionRequest

from helpers import Sdk, load_example, run, unique


def test_reactions_move_the_ticket(server):
    example = load_example("helpdesk_reactions")

    async def scenario():
        async with Sdk(server) as admin:
            bot_id, bot_token, chat_id = await example.setup(admin, unique("Support "))
            async with Sdk(server, bot_token) as bot:
                ticket = await example.open_ticket(bot, chat_id, "Не работает VPN")
                handled: list[int] = []
                worker = asyncio.create_task(example.work(bot, bot_id, handled, interval=0.2))
                await asyncio.sleep(0.3)

                async def react(code: str, count: int) -> str:
                    await admin.reactions.add_reaction(ticket, ReactionRequest(code=code))
                    for _ in range(100):
                        if len(handled) >= count:
                            break
                        await asyncio.sleep(0.1)
                    return (await admin.messages.get_message(ticket)).content

                me = await admin.profile.get_profile()
                taken = await react("👀", 1)
                assert taken == f"🎫 Заявка: Не работает VPN\nСтатус: в работе ({me.first_name})"
                # Another reaction is not an action; the ticket stays as it is.
                await admin.reactions.add_reaction(ticket, ReactionRequest(code="👍"))
                done = await react("✅", 2)
                assert done == "🎫 Заявка: Не работает VPN\nСтатус: закрыта"
                await asyncio.sleep(0.6)
                worker.cancel()
                assert handled == [ticket, ticket]

    run(scenario())
