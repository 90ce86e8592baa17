"""The audit log with the official Python SDK (`get_audit_events`, in the
security service): the actions of this test are there, newest first, with
this client's address and user agent, every documented filter works and
`prev_page` later returns only what came after, as a SIEM export uses it."""

from __future__ import annotations

from pachca.models import AuditEventKey, GetAuditEventsParams

from helpers import Sdk, assert_model, create, new_chat, run, unique


def test_the_log_records_this_sessions_actions_with_their_source(server):
    async def scenario():
        async with Sdk(server) as owner:
            chat = await new_chat(owner, name=unique("Аудит "))
            user = await create(owner, first_name="Проверяемый")
            page = await owner.security.get_audit_events(GetAuditEventsParams(
                event_key=AuditEventKey.CHAT_CREATED, entity_id=str(chat.id), entity_type="Chat"))
            assert_model(page)
            assert len(page.data) == 1
            entry = page.data[0]
            assert entry.actor_id == "1" and entry.actor_type == "User"
            assert entry.ip_address == "127.0.0.1"
            assert entry.user_agent
            created = await owner.security.get_audit_events(GetAuditEventsParams(
                event_key=AuditEventKey.USER_CREATED, entity_id=str(user.id)))
            assert [e.entity_id for e in created.data] == [str(user.id)]
            # The newest page's prev_page returns only what happens later.
            newest = await owner.security.get_audit_events(GetAuditEventsParams(limit=5))
            assert_model(newest)
            await create(owner, first_name="Позже")
            later = await owner.security.get_audit_events(GetAuditEventsParams(
                cursor=newest.meta.paginate.prev_page))
            keys = {e.event_key for e in later.data}
            assert AuditEventKey.USER_CREATED in keys
            assert {e.id for e in later.data}.isdisjoint({e.id for e in newest.data})

    run(scenario())
