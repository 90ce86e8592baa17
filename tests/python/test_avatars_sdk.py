"""Avatars with the official Python SDK: `profile.update_profile_avatar`
and `users.update_user_avatar` store the image, the user's `image_url`
serves it (no token needed, as an `<img>` has none), and the delete
methods remove it."""

from __future__ import annotations

import urllib.error
import urllib.request

from helpers import Sdk, create, run

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), ""


def test_avatars_are_set_served_and_removed_with_the_sdk(server):
    async def scenario():
        async with Sdk(server) as owner:
            mine = await owner.profile.update_profile_avatar(image=PNG)
            assert mine.image_url.startswith(server.base_url.rsplit("/api/", 1)[0] + "/avatars/1/")
            assert (await owner.profile.get_profile()).image_url == mine.image_url
            assert _get(mine.image_url) == (200, PNG, "image/png")

            colleague = await create(owner, first_name="Коллега")
            theirs = await owner.users.update_user_avatar(colleague.id, image=PNG)
            assert (await owner.users.get_user(colleague.id)).image_url == theirs.image_url

            await owner.profile.delete_profile_avatar()
            assert (await owner.profile.get_profile()).image_url is None
            assert _get(mine.image_url)[0] == 404
            await owner.users.delete_user_avatar(colleague.id)
            assert (await owner.users.get_user(colleague.id)).image_url is None

    run(scenario())
