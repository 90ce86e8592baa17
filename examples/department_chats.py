"""Place users in their department chats, with the official Python SDK.

For every department found on the workspace's users, this reuses the open
chat named after the department (or creates one) and silently adds the
department's users who are not members yet. Running it again changes nothing
unless users or departments changed, so it can run on a schedule.

    pip install pachca-sdk==1.6.1
    PACHCA_BASE_URL=http://127.0.0.1:3000/api/shared/v1 \\
    PACHCA_TOKEN=$(cat .spin/admin_token) python3 examples/department_chats.py

Needs a token with users:read, chats:read, chats:create and
chat_members:write (an admin's token has them).
"""

from __future__ import annotations

import asyncio
import os
import sys

from pachca.client import PachcaClient
from pachca.models import (
    AddMembersRequest,
    ChatAvailability,
    ChatCreateRequest,
    ChatCreateRequestChat,
    ListChatsParams,
    ListUsersParams,
)

# Members added per request.
BATCH = 500


async def place_users(client: PachcaClient) -> dict[str, int]:
    """Adds every user to their department's open chat; returns {department: chat id}."""
    departments: dict[str, list[int]] = {}
    for user in await client.users.list_users_all(ListUsersParams(limit=50)):
        department = (user.department or "").strip()
        if department and not user.bot:
            departments.setdefault(department, []).append(user.id)

    # Open chats by name (the oldest wins if a name repeats); archived ones are skipped.
    open_chats = await client.chats.list_chats_all(ListChatsParams(availability=ChatAvailability.PUBLIC, limit=50))
    by_name = {}
    for chat in sorted(open_chats, key=lambda c: c.id, reverse=True):
        by_name[chat.name] = chat

    placed: dict[str, int] = {}
    for department, user_ids in sorted(departments.items()):
        chat = by_name.get(department)
        if chat is None:
            request = ChatCreateRequest(chat=ChatCreateRequestChat(name=department, public=True))
            chat = (await client.chats.create_chat(request)).data
        missing = sorted(set(user_ids) - set(chat.member_ids))
        for i in range(0, len(missing), BATCH):
            batch = missing[i : i + BATCH]
            await client.members.add_members(chat.id, AddMembersRequest(member_ids=batch, silent=True))
        placed[department] = chat.id
        print(f"{department}: chat {chat.id}, {len(missing)} added, {len(user_ids)} in the department")
    return placed


async def _run(base_url: str, token: str) -> dict[str, int]:
    client = PachcaClient(token, base_url=base_url)
    try:
        return await place_users(client)
    finally:
        await client.close()


def main(base_url: str | None = None, token: str | None = None) -> dict[str, int]:
    """Runs against `base_url`/`token`, by default `PACHCA_BASE_URL`/`PACHCA_TOKEN`."""
    base_url = base_url or os.environ.get("PACHCA_BASE_URL", "http://127.0.0.1:3000/api/shared/v1")
    token = token or os.environ.get("PACHCA_TOKEN")
    if not token:
        sys.exit("set PACHCA_TOKEN to an admin's token (scripts/up prints one)")
    return asyncio.run(_run(base_url, token))


if __name__ == "__main__":
    main()
