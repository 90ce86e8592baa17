"""A weekly communication report from this server's analytics (our extension,
`/api/shared/v1/analytics`; the official SDK does not know it, so this uses
httpx, which the SDK brings along). One request answers each question:

1. How many people wrote or reacted in shared chats last week, and what
   share of the company is that?
2. Which ten open chats grew most this month?
3. What was the support team's median first response, in working hours,
   last month, and which requests are still unanswered?

    PACHCA_BASE_URL=http://127.0.0.1:3000/api/shared/v1 \\
    PACHCA_TOKEN=$(cat .spin/admin_token) \\
    SUPPORT_CHAT_TAG=4 AGENTS_TAG=3 \\
    .venv/bin/python examples/communication_report.py

The token must be the owner's or an admin's (scope `analytics:read`).
Without SUPPORT_CHAT_TAG and AGENTS_TAG the support part is left out.
"""

from __future__ import annotations

import datetime as dt
import os

import httpx


def client() -> httpx.Client:
    return httpx.Client(
        base_url=os.environ["PACHCA_BASE_URL"].rstrip("/") + "/analytics",
        headers={"Authorization": f"Bearer {os.environ['PACHCA_TOKEN']}"},
        timeout=60,
    )


def get(c: httpx.Client, path: str, **params) -> dict:
    r = c.get(path, params=params)
    r.raise_for_status()
    return r.json()["data"]


def week(c: httpx.Client, monday: dt.date) -> dict:
    """Active members, members and engagement of the week from `monday`."""
    sunday = monday + dt.timedelta(days=6)
    return get(c, "/activity", bucket="week", **{"from": monday.isoformat(), "to": sunday.isoformat()})["series"][0]


def growing_open_chats(c: httpx.Client, first: dt.date, last: dt.date) -> list[dict]:
    """The ten open chats with the most joins minus leaves."""
    r = c.get("/open_chats", params={"from": first.isoformat(), "to": last.isoformat(), "limit": 10})
    r.raise_for_status()
    return r.json()["data"]


def support(c: httpx.Client, chats_tag: int, agents_tag: int, first: dt.date, last: dt.date) -> dict:
    """First responses in working hours (09:00–18:00, Monday to Friday)."""
    return get(c, "/support", chat_group_tag_ids=chats_tag, agent_group_tag_id=agents_tag,
               working_hours="09:00-18:00", **{"from": first.isoformat(), "to": last.isoformat()})


def main(today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    last_monday = today - dt.timedelta(days=today.weekday() + 7)
    month_start = today.replace(day=1)
    prev_month_end = month_start - dt.timedelta(days=1)
    report = {}
    with client() as c:
        w = week(c, last_monday)
        report["week"] = w
        print(f"Week of {w['start']}: {w['active_members']} of {w['members']} people wrote or reacted "
              f"({w['engagement_rate']}%)")
        chats = growing_open_chats(c, month_start, today)
        report["open_chats"] = chats
        for n, chat in enumerate(chats, 1):
            print(f"{n:2}. {chat['name']}: +{chat['growth']} ({chat['joins']} joined, "
                  f"{chat['self_joins']} by themselves, {chat['leaves']} left), {chat['members']} members")
        if os.environ.get("SUPPORT_CHAT_TAG") and os.environ.get("AGENTS_TAG"):
            s = support(c, int(os.environ["SUPPORT_CHAT_TAG"]), int(os.environ["AGENTS_TAG"]),
                        prev_month_end.replace(day=1), prev_month_end)
            report["support"] = s
            median = s["first_response_seconds"]["p50"]
            shown = "no answers" if median is None else f"{median // 60} min {median % 60} s"
            print(f"Support, {s['from']} to {s['to']}: {s['requests']} requests, median first response "
                  f"{shown} of working time, {s['unanswered']} unanswered")
            for u in s["unanswered_requests"]:
                print(f"  waiting since {u['created_at']}: message {u['message_id']} in chat {u['chat_id']}")
    return report


if __name__ == "__main__":
    main()
