"""`examples/communication_report.py` against the host: people write and
react with their own tokens through the official SDK, join an open chat by
themselves, and ask support; the example's three answers match what they
did (the open chat's growth, the support chat's requests and first
responses), and its whole report prints."""

from __future__ import annotations

import datetime as dt

from pachca.models import AddMembersRequest, MessageCreateRequest, MessageCreateRequestMessage, ReactionRequest

from helpers import Sdk, create, http, issue_token, load_example, new_chat, run, unique


def test_the_example_reports_activity_open_chats_and_support(server, monkeypatch, capsys):
    agents_tag_name, support_tag_name = unique("Agents "), unique("Support chats ")

    async def setup():
        async with Sdk(server) as c:
            agent = (await create(c, list_tags=[agents_tag_name])).id
            people = [(await create(c)).id for _ in range(3)]
            open_chat = await new_chat(c, name=unique("Running club "), public=True, member_ids=[people[0]])
            support = await new_chat(c, name=unique("Help "), member_ids=[agent, *people])
            return agent, people, open_chat.id, support.id

    agent, people, open_chat, support = run(setup())
    tokens = {u: issue_token(server, u)["token"] for u in [agent, *people]}

    async def act():
        for person in people[1:]:
            async with Sdk(server, tokens[person]) as c:
                await c.members.add_members(open_chat, AddMembersRequest(member_ids=[person]))

        async def post(user: int, text: str) -> int:
            async with Sdk(server, tokens[user]) as c:
                m = await c.messages.create_message(MessageCreateRequest(
                    message=MessageCreateRequestMessage(entity_id=support, content=text)))
                return m.id

        first = await post(people[0], "не открывается почта")
        await post(agent, "сейчас посмотрю")
        waiting = await post(people[1], "и у меня")
        async with Sdk(server, tokens[people[2]]) as c:
            await c.reactions.add_reaction(first, ReactionRequest(code="👍"))
        return waiting

    waiting = run(act())
    status, body = http(server, "GET", "/group_tags")
    tags = {t["name"]: t["id"] for t in body["data"]}
    status, body = http(server, "POST", "/group_tags", {"group_tag": {"name": support_tag_name}})
    assert status == 201, body
    support_tag = body["data"]["id"]
    status, body = http(server, "POST", f"/chats/{support}/group_tags", {"group_tag_ids": [support_tag]})
    assert status == 204, body

    monkeypatch.setenv("PACHCA_BASE_URL", server.base_url)
    monkeypatch.setenv("PACHCA_TOKEN", server.admin_token)
    monkeypatch.setenv("SUPPORT_CHAT_TAG", str(support_tag))
    monkeypatch.setenv("AGENTS_TAG", str(tags[agents_tag_name]))
    example = load_example("communication_report")
    zone = http(server, "GET", "/analytics/settings")[1]["data"]["time_zone"]
    assert zone == "UTC"
    today = dt.datetime.now(dt.timezone.utc).date()
    with example.client() as c:
        chats = example.growing_open_chats(c, today, today)
        ours = next(ch for ch in chats if ch["chat_id"] == open_chat)
        assert (ours["growth"], ours["joins"], ours["self_joins"], ours["leaves"]) == (3, 3, 2, 0)
        report = example.support(c, support_tag, tags[agents_tag_name], today, today)
        assert report["chat_ids"] == [support]
        assert (report["requests"], report["answered"], report["unanswered"]) == (2, 1, 1)
        assert report["unanswered_requests"][0]["message_id"] == waiting
        assert report["agents"][0]["user_id"] == agent and report["agents"][0]["first_responses"] == 1
        week = example.week(c, today - dt.timedelta(days=today.weekday()))
        assert week["active_members"] >= 4 and week["members"] >= 4
        assert 0 < week["engagement_rate"] <= 100
    # The whole report, as run by hand a week later.
    report = example.main(today + dt.timedelta(days=7))
    out = capsys.readouterr().out
    assert f"Week of {report['week']['start']}: {report['week']['active_members']} of" in out
    assert report["week"]["active_members"] == week["active_members"]
    assert "Support, " in out
