"""Rate limits with the official Python SDK: on a host whose tokens may make
3 requests a second, a burst of 12 `get_profile` calls all succeed, because
the SDK waits out each 429's `Retry-After` and tries again, as
`api/limits.md` tells clients to; raw HTTP sees the 429s themselves."""

from __future__ import annotations

import time

from helpers import Sdk, assert_model, http, run


def test_the_sdk_retries_through_a_burst(limited_server):
    async def scenario():
        async with Sdk(limited_server) as owner:
            started = time.monotonic()
            for _ in range(12):
                me = await owner.profile.get_profile()
                assert_model(me)
            # 12 calls at 3 a second cannot take less than three seconds.
            assert time.monotonic() - started >= 2.5

    run(scenario())
    time.sleep(1.1)  # past the SDK's last second
    statuses = [http(limited_server, "GET", "/profile")[0] for _ in range(8)]
    assert 429 in statuses and 200 in statuses
