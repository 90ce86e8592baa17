"""Tasks with the official Python SDK: a task's whole life (`create_task`,
`get_task`, `list_tasks` with its filters, `update_task` to done and back
with a new due date, `delete_task`), every answer checked against the SDK's
models, and who sees a task."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pachca.models import (
    ListTasksParams,
    TaskCreateRequest,
    TaskCreateRequestTask,
    TaskKind,
    TaskStatus,
    TaskUpdateRequest,
    TaskUpdateRequestTask,
)

from helpers import Sdk, assert_model, create, issue_token, new_chat, run, unique


def test_a_tasks_whole_life_through_the_sdk(server):
    async def scenario():
        async with Sdk(server) as owner:
            performer = await create(owner, first_name="Исполнитель")
            stranger = await create(owner, first_name="Посторонний")
            chat = await new_chat(owner, name=unique("Склад "))
            due = datetime(2026, 12, 24, 18, 30, tzinfo=timezone(timedelta(hours=3)))
            task = await owner.tasks.create_task(TaskCreateRequest(task=TaskCreateRequestTask(
                kind=TaskKind.CALL, content="Забрать со склада 21 заказ", due_at=due,
                priority=2, performer_ids=[performer.id], chat_id=chat.id)))
            assert_model(task)
            assert (task.kind, task.status, task.priority) == (TaskKind.CALL, TaskStatus.UNDONE, 2)
            assert task.due_at == due and task.all_day is False
            assert task.performer_ids == [performer.id] and task.chat_id == chat.id

            plain = await owner.tasks.create_task(TaskCreateRequest(task=TaskCreateRequestTask(
                kind=TaskKind.REMINDER)))
            assert plain.content == "Простое напоминание"

            got = await owner.tasks.get_task(task.id)
            assert_model(got)
            assert got.content == "Забрать со склада 21 заказ"

            page = await owner.tasks.list_tasks(ListTasksParams(limit=1))
            assert_model(page)
            assert [t.id for t in page.data] == [plain.id]
            everything = await owner.tasks.list_tasks_all()
            assert {task.id, plain.id} <= {t.id for t in everything}
            mine = await owner.tasks.list_tasks(ListTasksParams(performer_ids=[performer.id]))
            assert [t.id for t in mine.data] == [task.id]
            in_chat = await owner.tasks.list_tasks(ListTasksParams(chat_ids=[chat.id]))
            assert [t.id for t in in_chat.data] == [task.id]

            # The performer marks it done; the creator moves it to an all-day date.
            async with Sdk(server, issue_token(server, performer.id)["token"]) as them:
                assert [t.id for t in (await them.tasks.list_tasks()).data] == [task.id]
                done = await them.tasks.update_task(task.id, TaskUpdateRequest(
                    task=TaskUpdateRequestTask(status=TaskStatus.DONE)))
                assert_model(done)
                assert done.status == TaskStatus.DONE
                undone = await owner.tasks.list_tasks(ListTasksParams(status=TaskStatus.UNDONE))
                assert task.id not in [t.id for t in undone.data]
            moved = await owner.tasks.update_task(task.id, TaskUpdateRequest(
                task=TaskUpdateRequestTask(
                    status=TaskStatus.UNDONE,
                    due_at=datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=3))))))
            assert moved.status == TaskStatus.UNDONE and moved.all_day is True

            async with Sdk(server, issue_token(server, stranger.id)["token"]) as outsider:
                assert (await outsider.tasks.list_tasks()).data == []
                try:
                    await outsider.tasks.get_task(task.id)
                    raise AssertionError("a stranger saw the task")
                except Exception as e:  # the SDK raises ApiError for 404
                    assert "404" in repr(e) or "not_found" in repr(e), repr(e)

            await owner.tasks.delete_task(task.id)
            assert task.id not in {t.id for t in await owner.tasks.list_tasks_all()}

    run(scenario())
