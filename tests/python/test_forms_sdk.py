"""Forms with the official Python SDK (`pachca-sdk`): a bot's data button is
pressed, the bot opens a view with `views.open_view` (`OpenViewRequest`
with every block type the SDK models) using the press's `trigger_id`, and
the user's submission (our `/views` extension) reaches the bot as a signed
`view_submission` carrying the view's `callback_id` and `private_metadata`.
"""

from __future__ import annotations


from pachca.models import (
    OpenViewRequest,
    OpenViewRequestView,
    ViewBlockCheckbox,
    ViewBlockCheckboxOption,
    ViewBlockDate,
    ViewBlockDivider,
    ViewBlockHeader,
    ViewBlockInput,
    ViewBlockMarkdown,
    ViewBlockPlainText,
    ViewBlockRadio,
    ViewBlockSelect,
    ViewBlockSelectableOption,
    ViewBlockTime,
)

from helpers import Receiver, Sdk, create_bot, http as raw, issue_token, run, unique


def test_a_bot_opens_a_view_with_the_sdk_and_receives_the_submission(server):
    hook = Receiver()
    created = create_bot(server, "Отпуск", unique("timeoff") + "_bot", who_can_add="anyone")
    status, data = raw(server, "PUT", f"/bots/{created['id']}", {"webhook": {
        "outgoing_url": hook.url, "events": ["button_click"]}})
    assert status == 200, data
    _, data = raw(server, "GET", f"/bots/{created['id']}")
    hook.secret = data["data"]["signing_secret"]

    status, user = raw(server, "POST", "/users", {"user": {
        "email": f"{unique('forms')}@example.com", "first_name": "Анна"}})
    assert status == 201, user
    anna = issue_token(server, user["data"]["id"])["token"]
    status, chat = raw(server, "POST", "/chats", {"chat": {
        "name": unique("HR "), "member_ids": [created["id"], user["data"]["id"]]}})
    assert status == 201, chat
    status, message = raw(server, "POST", "/messages", {"message": {
        "entity_id": chat["data"]["id"], "content": "Оформить отпуск?",
        "buttons": [[{"text": "Оформить", "data": "timeoff"}]]}}, token=created["token"])
    assert status == 201, message

    async def scenario():
        status, _ = raw(server, "POST", f"/messages/{message['data']['id']}/button_clicks",
                        {"data": "timeoff"}, token=anna)
        assert status == 201
        press = await hook.next_event("button")
        view = OpenViewRequestView(title="Уведомление об отпуске", blocks=[
            ViewBlockHeader(type="header", text="Основная информация"),
            ViewBlockPlainText(type="plain_text", text="Заполните форму."),
            ViewBlockMarkdown(type="markdown", text="Правила — по [ссылке](https://example.com)"),
            ViewBlockDivider(type="divider"),
            ViewBlockInput(type="input", name="info", label="Описание", required=True, max_length=500),
            ViewBlockSelect(type="select", name="team", label="Команда", options=[
                ViewBlockSelectableOption(text="Успех", value="success")]),
            ViewBlockRadio(type="radio", name="accessibility", label="Доступность", options=[
                ViewBlockSelectableOption(text="Только телефон", value="phone_only", checked=True),
                ViewBlockSelectableOption(text="Ничего", value="nothing")]),
            ViewBlockCheckbox(type="checkbox", name="newsletters", label="Рассылки", options=[
                ViewBlockCheckboxOption(text="Задачи", value="new_tasks")]),
            ViewBlockDate(type="date", name="date_start", label="Начало", initial_date="2025-07-01"),
            ViewBlockTime(type="time", name="time", label="Время", initial_time="11:00"),
        ])
        async with Sdk(server, created["token"]) as bot:
            await bot.views.open_view(OpenViewRequest(
                type="modal", trigger_id=press["trigger_id"], view=view,
                private_metadata='{"timeoff_id":4378}', callback_id="timeoff_request_form"))

        status, views = raw(server, "GET", "/views", token=anna)
        assert status == 200 and len(views["data"]) == 1, views
        opened = views["data"][0]
        assert len(opened["blocks"]) == 10
        radio = next(b for b in opened["blocks"] if b["type"] == "radio")
        assert radio["options"][0]["selected"] is True
        values = {"info": "Поеду в Сибирь на свадьбу", "team": "success",
                  "accessibility": "phone_only", "newsletters": ["new_tasks"],
                  "date_start": "2025-07-01", "time": "22:00"}
        status, closed = raw(server, "POST", f"/views/{opened['id']}/submit",
                             {"data": values}, token=anna)
        assert status == 200, closed
        assert closed["data"]["state"] == "closed"
        submission = await hook.next_event("view")
        assert submission["event"] == "submit"
        assert submission["callback_id"] == "timeoff_request_form"
        assert submission["private_metadata"] == '{"timeoff_id":4378}'
        assert submission["user_id"] == user["data"]["id"]
        assert submission["chat_id"] == chat["data"]["id"]
        assert submission["data"] == values

    run(scenario())
