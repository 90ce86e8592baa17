"""File uploads with the official Python SDK, step by step as
`api/file-uploads.md` describes: `files.get_upload_params`, then
`files.upload_file` to the form's `direct_url` (ours), then the key with
`${filename}` replaced attached to a message. A 5 MB file and a file with a
Cyrillic name; the message's file `url` serves the same bytes to a member
of the chat and nothing to anyone else; a forged form is refused."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace

from pachca.models import (
    FileType,
    FileUploadRequest,
    MessageCreateRequest,
    MessageCreateRequestFile,
    MessageCreateRequestMessage,
    MessageEntityType,
)

from helpers import Sdk, create, issue_token, new_chat, run, unique


def _download(url: str, token: str):
    parts = urllib.parse.urlsplit(url)
    quoted = urllib.parse.urlunsplit(parts._replace(path=urllib.parse.quote(parts.path)))
    req = urllib.request.Request(quoted, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def test_files_are_uploaded_with_the_sdk_attached_and_downloaded_by_readers_only(server):
    async def scenario():
        async with Sdk(server) as owner:
            member = await create(owner, first_name="Участник")
            outsider = await create(owner, first_name="Посторонний")
            chat = await new_chat(owner, name=unique("Файлы "), member_ids=[member.id])
            big = os.urandom(5 * 1024 * 1024)
            files = []
            for name, data in [("отчёт 2026.pdf", b"%PDF-1.7 " + os.urandom(3000)), ("big.bin", big)]:
                params = await owner.files.get_upload_params()
                assert params.direct_url.endswith("/api/shared/v1/direct_url")
                await owner.files.upload_file(params.direct_url, FileUploadRequest(
                    content_disposition=params.content_disposition, acl=params.acl,
                    policy=params.policy, x_amz_credential=params.x_amz_credential,
                    x_amz_algorithm=params.x_amz_algorithm, x_amz_date=params.x_amz_date,
                    x_amz_signature=params.x_amz_signature, key=params.key,
                    file=(name, data)))
                key = params.key.replace("${filename}", name)
                files.append((key, name, data))
            message = await owner.messages.create_message(MessageCreateRequest(
                message=MessageCreateRequestMessage(
                    entity_type=MessageEntityType.DISCUSSION, entity_id=chat.id, content="Файлы",
                    files=[MessageCreateRequestFile(key=k, name=n, file_type=FileType.FILE,
                                                    size=len(d)) for k, n, d in files])))
            assert [f.name for f in message.files] == ["отчёт 2026.pdf", "big.bin"]

            member_token = issue_token(server, member.id)["token"]
            outsider_token = issue_token(server, outsider.id)["token"]
            for f, (_, name, data) in zip(message.files, files):
                status, body, headers = _download(f.url, member_token)
                assert status == 200 and body == data, (status, len(body))
                assert headers["Content-Length"] == str(len(data))
                disposition = headers["Content-Disposition"]
                exact = disposition.split("filename*=UTF-8''", 1)[1]
                assert urllib.parse.unquote(exact) == name, disposition
                status, _, _ = _download(f.url, outsider_token)
                assert status == 404

            # A form whose signature does not match is refused, and stores nothing.
            params = await owner.files.get_upload_params()
            try:
                await owner.files.upload_file(params.direct_url, FileUploadRequest(
                    content_disposition=params.content_disposition, acl=params.acl,
                    policy=params.policy, x_amz_credential=params.x_amz_credential,
                    x_amz_algorithm=params.x_amz_algorithm, x_amz_date=params.x_amz_date,
                    x_amz_signature="0" * 64, key=params.key, file=("x.txt", b"x")))
                raise AssertionError("a forged form was accepted")
            except AssertionError:
                raise
            except Exception as e:
                assert "signature" in repr(e) or "403" in repr(e), repr(e)

    run(scenario())
