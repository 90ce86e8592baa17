"""`examples/monitoring_alerts.py` against the host: the bot it creates posts
the rendered alert into the alert chat when the alert is POSTed, with no
token, to its incoming URL."""

from __future__ import annotations


from pachca.models import ListChatMessagesParams

from helpers import Sdk, load_example, run, unique


def test_the_example_posts_a_rendered_alert_through_the_incoming_webhook(server, monkeypatch, capsys):
    chat_name = unique("Alerts ")
    monkeypatch.setenv("PACHCA_BASE_URL", server.base_url)
    monkeypatch.setenv("PACHCA_TOKEN", server.admin_token)
    monkeypatch.setenv("ALERT_CHAT", chat_name)
    example = load_example("monitoring_alerts")
    assert run(example.main()) == 0
    out = capsys.readouterr().out
    assert "incoming URL: " in out and "/webhooks/incoming/" in out

    async def messages():
        async with Sdk(server) as c:
            chats = await c.chats.list_chats_all()
            chat = next(ch for ch in chats if ch.name == chat_name)
            return await c.messages.list_chat_messages_all(ListChatMessagesParams(chat_id=chat.id))

    texts = [m.content for m in run(messages())]
    assert texts == [
        "🔥 **High CPU** — CRITICAL\nCPU above 90% for 5 minutes on db-1\n"
        "[Open in Grafana](https://grafana.example.com/d/cpu)\n`prod` `db` "
    ]
