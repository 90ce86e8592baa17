"""Chat exports with the official Python SDK: `request_export` gets the
export's id, the `webhook_url` is told when the archive is ready
(`ExportWebhookPayload`), `download_export` answers the temporary link,
and the archive holds the guide's folders and files with this test's
messages."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
import zipfile
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pachca.models import ExportRequest, MessageCreateRequest, MessageCreateRequestMessage

from helpers import Sdk, new_chat, run, unique


class Announcements:
    """A receiver of the export's (unsigned) announcement."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/export"

    def wait(self, seconds: float = 30) -> dict:
        deadline = time.monotonic() + seconds
        while not self.bodies:
            assert time.monotonic() < deadline, "no announcement"
            time.sleep(0.05)
        return self.bodies[0]


def test_an_export_is_announced_and_downloaded(server):
    hook = Announcements()

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
            ready = hook.wait()
            assert ready["type"] == "export" and ready["event"] == "ready"
            assert ready["export_id"] == export.id
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
