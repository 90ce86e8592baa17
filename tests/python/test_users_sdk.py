"""The official Python SDK (`pachca-sdk`) against our server, unchanged but
for its base URL: users, tags, statuses, profile, token info and search, plus a
personal token issued through our `/access_tokens` extension.

Every response is parsed into the SDK's models, and `assert_model` (in
`helpers.py`) then checks that each field really has its declared type.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pachca.models import (
    AccessTokenInfo,
    ApiError,
    CustomPropertyDefinition,
    GetTagUsersParams,
    GroupTag,
    GroupTagRequest,
    GroupTagRequestGroupTag,
    ListPropertiesParams,
    ListTagsParams,
    ListUsersParams,
    OAuthError,
    OAuthErrorCode,
    SearchEntityType,
    SearchSortOrder,
    SearchUsersParams,
    SortOrder,
    StatusUpdateRequest,
    StatusUpdateRequestStatus,
    UserCreateRequestCustomProperty,
    UserCreateRole,
    UserRole,
    UserRoleInput,
    UserUpdateRequest,
    UserUpdateRequestUser,
    ValidationErrorCode,
)

from helpers import Sdk, assert_model, create, http, issue_token, run, unique

# ------------------------------------------------------------------ users


def test_create_get_update_and_delete_a_user(server):
    async def go():
        async with Sdk(server) as c:
            email = f"{unique('olga')}@example.com"
            user = await create(
                c,
                email=email,
                first_name="Ольга",
                last_name="Смирнова",
                department="Finance",
                title="CFO",
                role=UserCreateRole.ADMIN,
                list_tags=[unique("Finance")],
            )
            assert user.email == email
            assert user.role is UserRole.ADMIN
            assert user.suspended is False
            assert user.invite_status.value == "sent"
            assert user.inviter_id == 1
            assert user.created_at.tzinfo is not None
            assert len(user.list_tags) == 1

            got = await c.users.get_user(user.id)
            assert_model(got)
            assert got == user

            updated = await c.users.update_user(
                user.id,
                UserUpdateRequest(user=UserUpdateRequestUser(title="CEO", role=UserRoleInput.MULTI_GUEST)),
            )
            assert_model(updated)
            assert (updated.title, updated.role, updated.first_name) == ("CEO", UserRole.MULTI_GUEST, "Ольга")

            suspended = await c.users.update_user(
                user.id, UserUpdateRequest(user=UserUpdateRequestUser(suspended=True))
            )
            assert_model(suspended)
            assert suspended.suspended is True

            await c.users.delete_user(user.id)
            with pytest.raises(ApiError) as err:
                await c.users.get_user(user.id)
            assert err.value.errors[0].code is ValidationErrorCode.NOT_FOUND

    run(go())


def test_duplicate_email_is_an_api_error_taken(server):
    async def go():
        async with Sdk(server) as c:
            user = await create(c)
            with pytest.raises(ApiError) as err:
                await create(c, email=user.email.upper())
            item = err.value.errors[0]
            assert_model(item)
            assert (item.key, item.code) == ("email", ValidationErrorCode.TAKEN)

    run(go())


def test_owner_is_protected(server):
    async def go():
        async with Sdk(server) as c:
            with pytest.raises(ApiError) as err:
                await c.users.update_user(1, UserUpdateRequest(user=UserUpdateRequestUser(role=UserRoleInput.USER)))
            assert err.value.errors[0].code is ValidationErrorCode.OWNER_PROTECTED
            with pytest.raises(ApiError) as err:
                await c.users.delete_user(1)
            assert err.value.errors[0].code is ValidationErrorCode.OWNER_PROTECTED

    run(go())


def test_custom_properties_are_listed_and_set_on_users(server):
    name = unique("City")[:32]
    status, created = http(
        server,
        "POST",
        "/custom_properties",
        {"custom_property": {"entity_type": "User", "name": name, "data_type": "string"}},
    )
    assert status == 201, created
    pid = created["data"]["id"]

    async def go():
        async with Sdk(server) as c:
            props = await c.custom_properties.list_properties(ListPropertiesParams(entity_type=SearchEntityType.USER))
            assert_model(props)
            assert CustomPropertyDefinition(id=pid, name=name, data_type="string") in props.data
            user = await create(c, custom_properties=[UserCreateRequestCustomProperty(id=pid, value="Тверь")])
            prop = next(p for p in user.custom_properties if p.id == pid)
            assert (prop.name, prop.value, prop.data_type.value) == (name, "Тверь", "string")

    run(go())


# -------------------------------------------------------------- listing


def test_list_users_walks_every_page_by_cursor(server):
    async def go():
        async with Sdk(server) as c:
            created = [(await create(c)).id for _ in range(23)]
            everyone = await c.users.list_users_all(ListUsersParams(limit=5))
            for u in everyone:
                assert_model(u)
            ids = [u.id for u in everyone]
            assert len(ids) == len(set(ids)), "a user was repeated"
            assert ids == sorted(ids)
            assert set(created) <= set(ids)
            assert 1 in ids

            first = await c.users.list_users(ListUsersParams(limit=5))
            assert_model(first)
            assert first.meta.paginate.has_next is True
            assert first.meta.paginate.has_prev is False

    run(go())


def test_search_users_walks_every_page_by_cursor(server):
    async def go():
        async with Sdk(server) as c:
            marker = unique("Searchable")
            created = {(await create(c, first_name=marker, last_name=str(i))).id for i in range(7)}
            page = await c.search.search_users(SearchUsersParams(query=marker.lower(), limit=3))
            assert_model(page)
            assert page.meta.total == 7
            found = await c.search.search_users_all(
                SearchUsersParams(
                    query=marker,
                    limit=3,
                    sort=SearchSortOrder.ALPHABETICAL,
                    order=SortOrder.ASC,
                    company_roles=[UserRole.USER],
                    created_from=datetime.now(timezone.utc) - timedelta(hours=1),
                )
            )
            for u in found:
                assert_model(u)
            assert [u.last_name for u in found] == [str(i) for i in range(7)]
            assert {u.id for u in found} == created

    run(go())


def test_search_users_accepts_the_naive_datetimes_the_sdk_sends(server):
    # `datetime.isoformat()` of a naive datetime has no offset; it means UTC.
    async def go():
        async with Sdk(server) as c:
            marker = unique("Naive")
            await create(c, first_name=marker)
            found = await c.search.search_users_all(
                SearchUsersParams(query=marker, created_from=datetime(2000, 1, 1), created_to=datetime(2999, 1, 1))
            )
            assert [u.first_name for u in found] == [marker]

    run(go())


# ----------------------------------------------------------------- tags


def test_group_tags_lifecycle_and_their_users(server):
    async def go():
        async with Sdk(server) as c:
            name = unique("Team")
            tag = await c.group_tags.create_tag(GroupTagRequest(group_tag=GroupTagRequestGroupTag(name=name)))
            assert_model(tag)
            assert (tag.name, tag.users_count) == (name, 0)

            members = [(await create(c, list_tags=[name])).id for _ in range(4)]
            got = await c.group_tags.get_tag(tag.id)
            assert_model(got)
            assert got == GroupTag(id=tag.id, name=name, users_count=4)

            tags = await c.group_tags.list_tags_all(ListTagsParams(limit=2))
            for t in tags:
                assert_model(t)
            assert tag.id in {t.id for t in tags}
            only = await c.group_tags.list_tags(ListTagsParams(names=[name]))
            assert_model(only)
            assert [t.id for t in only.data] == [tag.id]

            users = await c.group_tags.get_tag_users_all(tag.id, GetTagUsersParams(limit=3))
            for u in users:
                assert_model(u)
            assert [u.id for u in users] == members

            renamed = await c.group_tags.update_tag(
                tag.id, GroupTagRequest(group_tag=GroupTagRequestGroupTag(name=name + "-x"))
            )
            assert_model(renamed)
            assert renamed.name == name + "-x"

            await c.group_tags.delete_tag(tag.id)
            with pytest.raises(ApiError) as err:
                await c.group_tags.get_tag(tag.id)
            assert err.value.errors[0].code is ValidationErrorCode.NOT_FOUND

    run(go())


# ------------------------------------------------------------- statuses


def test_user_and_profile_statuses(server):
    async def go():
        async with Sdk(server) as c:
            user = await create(c)
            expires = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
            status = await c.users.update_user_status(
                user.id,
                StatusUpdateRequest(
                    status=StatusUpdateRequestStatus(
                        emoji="🌴", title="Отпуск", expires_at=expires, is_away=True, away_message="Вернусь"
                    )
                ),
            )
            assert_model(status)
            assert (status.emoji, status.title, status.is_away) == ("🌴", "Отпуск", True)
            assert status.expires_at == expires
            assert status.away_message.text == "Вернусь"
            got = await c.users.get_user_status(user.id)
            assert_model(got)
            assert got == status
            with_status = await c.users.get_user(user.id)
            assert_model(with_status)
            assert with_status.user_status == status
            await c.users.delete_user_status(user.id)
            assert await c.users.get_user_status(user.id) is None

            mine = await c.profile.update_status(
                StatusUpdateRequest(status=StatusUpdateRequestStatus(emoji="💻", title="Coding"))
            )
            assert_model(mine)
            assert (mine.emoji, mine.is_away, mine.expires_at, mine.away_message) == ("💻", False, None, None)
            got = await c.profile.get_status()
            assert_model(got)
            assert got == mine
            await c.profile.delete_status()
            assert await c.profile.get_status() is None

    run(go())


# ---------------------------------------------------- profile and tokens


def test_profile_and_token_info_of_the_admin_token(server):
    async def go():
        async with Sdk(server) as c:
            me = await c.profile.get_profile()
            assert_model(me)
            assert (me.id, me.role) == (1, UserRole.ADMIN)
            info = await c.oauth.get_token_info()
            assert_model(info)
            assert info.user_id == 1
            assert info.token != server.admin_token
            assert "users:create" in info.scopes
            same = await c.profile.get_token_info()
            assert_model(same)
            assert same == info

    run(go())


def test_a_personal_token_works_through_the_sdk_unchanged(server):
    async def admin_side():
        async with Sdk(server) as c:
            return await create(c, first_name="Token", role=UserCreateRole.USER)

    user = run(admin_side())
    issued = issue_token(server, user.id)
    assert issued["user_id"] == user.id

    async def user_side():
        async with Sdk(server, issued["token"]) as c:
            me = await c.profile.get_profile()
            assert_model(me)
            assert (me.id, me.email, me.role) == (user.id, user.email, UserRole.USER)

            info = await c.oauth.get_token_info()
            assert_model(info)
            assert isinstance(info, AccessTokenInfo)
            assert (info.id, info.user_id, info.name) == (issued["id"], user.id, "sdk")
            assert "users:read" in info.scopes and "users:create" not in info.scopes

            page = await c.users.list_users(ListUsersParams(limit=2))
            assert_model(page)
            assert len(page.data) == 2

            # A `user` cannot hold `users:create`: the spec's 403 OAuthError.
            with pytest.raises(OAuthError) as err:
                await create(c)
            assert err.value.error is OAuthErrorCode.INSUFFICIENT_SCOPE

    run(user_side())

    # Listed without the secret; revoked tokens stop working at once.
    status, listed = http(server, "GET", f"/access_tokens?user_id={user.id}")
    assert status == 200
    assert issued["token"] not in json.dumps(listed)
    assert [t["id"] for t in listed["data"]] == [issued["id"]]
    status, _ = http(server, "DELETE", f"/access_tokens/{issued['id']}")
    assert status == 204

    async def revoked():
        async with Sdk(server, issued["token"]) as c:
            with pytest.raises(OAuthError) as err:
                await c.profile.get_profile()
            assert err.value.error is OAuthErrorCode.INVALID_TOKEN

    run(revoked())


def test_a_bad_token_is_an_oauth_error(server):
    async def go():
        async with Sdk(server, "nope") as c:
            with pytest.raises(OAuthError) as err:
                await c.users.list_users()
            assert err.value.error is OAuthErrorCode.INVALID_TOKEN

    run(go())


def test_a_token_without_the_scope_is_insufficient_scope(server):
    async def setup():
        async with Sdk(server) as c:
            return await create(c)

    user = run(setup())
    issued = issue_token(server, user.id, ["profile:read"])

    async def go():
        async with Sdk(server, issued["token"]) as c:
            me = await c.profile.get_profile()
            assert me.id == user.id
            with pytest.raises(OAuthError) as err:
                await c.users.get_user(1)
            assert err.value.error is OAuthErrorCode.INSUFFICIENT_SCOPE

    run(go())

