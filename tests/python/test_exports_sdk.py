"""Chat exports with the official Python SDK: `request_export` gets the
export's id, the `webhook_url` is told when the archive is ready
(`ExportWebhookPayload`, unsigned), `download_export` answers the temporary
link, and the archive holds the guide's folders and files with this test's
messages."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from datetime import datetime, timezone

from pachca.models import ExportRequest, MessageCreateRequest, MessageCreateRequestMessage

from helpers import Receiver, Sdk, new_chat, run, unique


def test_an_export_is_announced_and_downloaded(server):
    hook = Receiver(signed=False)

    async def scenario():
        async with Sdk(server) as owner:
            name = unique("Экспорт ")
            chat = await new_chat(owner, name=name)
            await owner.messages.create_message(MessageCreateRequest(
                message=MessageCreateRequestMessage(entity_id=chat.id, content="В архив")))
            today = datetime.now(timezone.utc).date()
            export = await owner.chats.request_export(ExportRequest(
                # The SDK cannot serialize `date` objects: ISO strings, as the spec shows.
                start_at=today.isoformat(), end_at=today.isoformat(), webhook_url=hook.url,
                chat_ids=[chat.id]))
            ready = await hook.next_event("export", 30)
            assert ready["event"] == "ready" and ready["export_id"] == export.id
            assert hook.bad_signatures == 0
            link = await owner.chats.download_export(export.id)
            with urllib.request.urlopen(link, timeout=30) as r:
                assert r.headers["Content-Type"] == "application/zip"
                archive = zipfile.ZipFile(io.BytesIO(r.read()))
            folder = name.replace(" ", "_") + f"_{chat.id}"
            messages = json.loads(archive.read(f"{folder}/{today.isoformat()}.json"))
            assert [m["content"] for m in messages] == ["В архив"]
            assert messages[0]["chat"]["id"] == chat.id and messages[0]["user"]["id"] == 1
            assert [c["id"] for c in json.loads(archive.read("chats.json"))] == [chat.id]

    try:
        run(scenario())
    finally:
        hook.server.shutdown()
