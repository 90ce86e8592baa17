"""The official Python SDK (`pachca-sdk`) against our bots and webhooks
area, unchanged but for its base URL: a bot created with `create_bot`
(`BotCreateRequest`), read with `get_bot`, changed with `update_bot`; the bot
setting its own URL with `self_update_bot_webhook`; a real receiver checking
every `Pachca-Signature` as `guides/webhook-handler.md` does; and a second
bot without a URL that reads the same events through `get_webhook_events`
and `poll_webhook_events`, each exactly once.
"""

from __future__ import annotations

import asyncio

from pachca.models import (
    BotCreateRequest,
    BotCreateRequestWebhook,
    BotEventName,
    BotTriggerOn,
    BotUpdateRequest,
    BotUpdateRequestWebhook,
    BotWebhookSelfUpdateRequest,
    BotWebhookSelfUpdateRequestWebhook,
    GetWebhookEventsParams,
    MessageWebhookPayload,
)

from helpers import Receiver, Sdk, assert_model, http as raw, new_chat, run, unique


class Poller:
    """`poll_webhook_events` running in the background, keeping what it yields."""

    def __init__(self, client) -> None:
        self.seen: list = []
        self._task = asyncio.create_task(self._run(client))

    async def _run(self, client) -> None:
        async for event in client.bots.poll_webhook_events(interval_seconds=0.2):
            self.seen.append(event)

    @classmethod
    async def start(cls, client) -> "Poller":
        poller = cls(client)
        await asyncio.sleep(0.3)  # it reads only events after it started
        return poller

    async def wait_for(self, n: int, seconds: float = 10.0) -> list:
        for _ in range(int(seconds / 0.1)):
            if len(self.seen) >= n or self._task.done():
                break
            await asyncio.sleep(0.1)
        if self._task.done():
            self._task.result()  # a poller that failed fails the test with its error
        return self.seen

    def stop(self) -> None:
        self._task.cancel()


def test_a_bot_created_with_the_sdk_receives_signed_events_and_another_polls_them(server):
    receiver = Receiver()

    async def scenario():
        async with Sdk(server) as owner:
            created = await owner.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
                name="Releases", nickname=unique("releases") + "_bot",
                events=[BotEventName.MESSAGE_NEW], trigger_on=BotTriggerOn.ALL_MESSAGES)))
            assert created.access_token and created.webhook.outgoing_url is None
            # The signing secret is our documented extension of the answer.
            _, data = raw(server, "GET", f"/bots/{created.id}")
            receiver.secret = data["data"]["signing_secret"]

            bot = await owner.bots.get_bot(created.id)
            assert_model(bot)
            assert bot.webhook.trigger_on == BotTriggerOn.ALL_MESSAGES
            updated = await owner.bots.update_bot(created.id, BotUpdateRequest(
                webhook=BotUpdateRequestWebhook(name="Релизы")))
            assert_model(updated)
            assert updated.webhook.name == "Релизы"
            assert updated.webhook.events == [BotEventName.MESSAGE_NEW]

            # The bot points its webhook at the receiver with its own token.
            async with Sdk(server, created.access_token) as itself:
                mine = await itself.bots.self_update_bot_webhook(BotWebhookSelfUpdateRequest(
                    webhook=BotWebhookSelfUpdateRequestWebhook(outgoing_url=receiver.url)))
                assert mine.webhook.outgoing_url == receiver.url

            poller = await owner.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
                name="Poller", nickname=unique("poller") + "_bot",
                events=[BotEventName.MESSAGE_NEW], trigger_on=BotTriggerOn.ALL_MESSAGES,
                events_history_enabled=True)))

            # More than a page of older history: the poller starts after it.
            old_chat = await new_chat(owner, name=unique("Old "), member_ids=[poller.id])
            for i in range(55):
                await owner.messages.create_message(_message(old_chat.id, f"старое {i}"))

            async with Sdk(server, poller.access_token) as polling:
                polled = await Poller.start(polling)
                chat = await new_chat(owner, name=unique("Releases "),
                                      member_ids=[created.id, poller.id])
                contents = [f"релиз {i}" for i in range(3)]
                for text in contents:
                    await owner.messages.create_message(_message(chat.id, text))
                seen = await polled.wait_for(3)
                await asyncio.sleep(0.6)  # a few more polls: nothing twice
                polled.stop()

                assert sorted(e.payload.content for e in seen) == sorted(contents)
                assert len({e.id for e in seen}) == len(seen) == 3
                for e in seen:
                    assert isinstance(e.payload, MessageWebhookPayload)
                    assert e.payload.chat_id == chat.id

                page = await polling.bots.get_webhook_events(GetWebhookEventsParams(limit=2))
                assert_model(page)
                # Newest first, as every official list.
                assert [e.payload.content for e in page.data] == ["релиз 2", "релиз 1"]
                assert page.meta.paginate.has_next

            got = await receiver.wait_for(3)
            assert receiver.bad_signatures == 0
            assert sorted(e["content"] for e in got) == sorted(contents)
            assert all(isinstance(e["webhook_timestamp"], int) for e in got)

    run(scenario())


def _message(chat_id: int, content: str):
    from pachca.models import MessageCreateRequest, MessageCreateRequestMessage, MessageEntityType
    return MessageCreateRequest(message=MessageCreateRequestMessage(
        entity_type=MessageEntityType.DISCUSSION, entity_id=chat_id, content=content))


def test_an_unfurl_bot_reads_link_shared_by_polling_and_unfurls_with_the_sdk(server):
    from pachca.models import (LinkPreview, LinkPreviewsRequest, LinkSharedWebhookPayload,
                               MessageCreateRequest, MessageCreateRequestMessage, MessageEntityType)

    async def scenario():
        async with Sdk(server) as owner:
            created = await owner.bots.create_bot(BotCreateRequest(webhook=BotCreateRequestWebhook(
                name="Tracker", nickname=unique("tracker") + "_bot",
                events=[BotEventName.MESSAGE_LINK_SHARED], trigger_on=BotTriggerOn.UNFURL,
                events_history_enabled=True, unfurl_domains=["tracker.example.com"])))
            assert created.webhook.unfurl_domains == ["tracker.example.com"]
            chat = await new_chat(owner, name=unique("Dev "), member_ids=[created.id])
            async with Sdk(server, created.access_token) as bot:
                polled = await Poller.start(bot)
                link = "https://tracker.example.com/issues/7"
                message = await owner.messages.create_message(MessageCreateRequest(
                    message=MessageCreateRequestMessage(entity_type=MessageEntityType.DISCUSSION,
                                                        entity_id=chat.id,
                                                        content=f"Смотри {link}")))
                seen = await polled.wait_for(1)
                await asyncio.sleep(0.6)  # a few more polls: nothing twice
                polled.stop()
                assert len(seen) == 1
                payload = seen[0].payload
                assert isinstance(payload, LinkSharedWebhookPayload)
                assert payload.message_id == message.id
                assert [(l.url, l.domain, l.skip) for l in payload.links] == [
                    (link, "tracker.example.com", False)]
                await bot.messages.unfurl(message.id, LinkPreviewsRequest(link_previews={
                    link: LinkPreview(title="Задача 7", description="Открыта")}))

    run(scenario())
