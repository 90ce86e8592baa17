"""`examples/timeoff_form.py` against the host: a press opens the bot's
form, a submission with the end before the start comes back with the bot's
error under `date_end` and the form stays open, the corrected one closes it,
and the bot announces the request in the chat."""

from __future__ import annotations

import asyncio

from helpers import Sdk, http as raw, issue_token, load_example, run, unique


def test_the_form_round_trip_open_errors_resubmit_closed(server):
    example = load_example("timeoff_form")
    hook = example.FormBot("127.0.0.1:0", server.base_url, "")

    async def scenario():
        async with Sdk(server) as admin:
            bot_id, bot_token, chat_id = await example.setup(admin, unique("Отпуска "), hook.url)
        hook.token = bot_token
        hook.secret = example.signing_secret(server.base_url, server.admin_token, bot_id)
        hook.start()
        async with Sdk(server, bot_token) as bot:
            offer = await example.post_offer(bot, chat_id)

        status, user = raw(server, "POST", "/users", {"user": {
            "email": f"{unique('timeoff')}@example.com", "first_name": "Ольга"}})
        assert status == 201, user
        olga = issue_token(server, user["data"]["id"])["token"]
        status, _ = raw(server, "POST", f"/chats/{chat_id}/members",
                        {"member_ids": [user["data"]["id"]]})
        assert status == 204
        status, _ = raw(server, "POST", f"/messages/{offer}/button_clicks", {"data": "timeoff"},
                        token=olga)
        assert status == 201
        views = []
        for _ in range(100):
            _, listed = raw(server, "GET", "/views", token=olga)
            views = listed["data"]
            if views:
                break
            await asyncio.sleep(0.05)
        assert len(views) == 1 and views[0]["title"] == "Заявка на отпуск", views
        submit = f"/views/{views[0]['id']}/submit"

        wrong = {"date_start": "2025-07-14", "date_end": "2025-07-01", "accessibility": "phone_only"}
        status, refused = raw(server, "POST", submit, {"data": wrong}, token=olga)
        assert status == 422, refused
        assert refused["errors"][0]["key"] == "data.date_end"
        assert refused["errors"][0]["message"] == \
            "Дата окончания отпуска не может быть меньше даты начала"
        _, still = raw(server, "GET", f"/views/{views[0]['id']}", token=olga)
        assert still["data"]["state"] == "open"

        right = {"date_start": "2025-07-01", "date_end": "2025-07-14",
                 "accessibility": "phone_only", "info": "Поеду на Байкал"}
        status, closed = raw(server, "POST", submit, {"data": right}, token=olga)
        assert status == 200, closed
        assert closed["data"]["state"] == "closed"
        assert hook.accepted == [right]
        _, page = raw(server, "GET", f"/messages?chat_id={chat_id}&limit=1")
        assert page["data"][0]["content"] == (
            "🌴 Ольга в отпуске с 2025-07-01 по 2025-07-14, только по телефону\nПоеду на Байкал")

    try:
        run(scenario())
    finally:
        hook.stop()
