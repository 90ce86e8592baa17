//! Native unit tests of the chats area: the visibility matrix cell by cell,
//! chat roles, the creator's protections, tag sync in both directions,
//! events, bulk adds and complete `member_ids`, lists, search and the router.

use crate::auth::context::Config;
use crate::auth::scopes::{self, Role};
use crate::auth::{Credential, Principal};
use crate::chats::members::{self, AddMembers};
use crate::chats::membership_sync::ChatMembershipSync;
use crate::chats::visibility::{self as vis, MemberRole, Membership};
use crate::chats::{self, ChatInput, ChatUpdate};
use crate::platform::db::{Db, NativeDb};
use crate::platform::http::{Query, Request};
use crate::testutil::*;
use serde_json::{json, Value as Json};

fn principal(db: &dyn Db, user_id: i64) -> Principal {
    let r = db
        .query_row(
            "SELECT role, bot FROM users WHERE id = ?",
            &[user_id.into()],
        )
        .unwrap()
        .unwrap();
    let role = Role::parse(&r.string(0).unwrap()).unwrap();
    let bot = r.bool(1).unwrap();
    Principal {
        user_id,
        role,
        bot,
        scopes: scopes::all(),
        credential: Credential::AdminToken,
    }
}

fn user(db: &dyn Db, name: &str, role: &str) -> i64 {
    if role == "guest" {
        // Guests are created with exactly one chat; make a multi-guest and demote.
        let id = create_user(db, &format!("{name}@example.com"), "multi_guest");
        db.execute("UPDATE users SET role = 'guest' WHERE id = ?", &[id.into()])
            .unwrap();
        return id;
    }
    create_user(db, &format!("{name}@example.com"), role)
}

fn bot(db: &dyn Db, name: &str) -> i64 {
    let id = create_user(db, &format!("{name}@example.com"), "user");
    db.execute("UPDATE users SET bot = 1 WHERE id = ?", &[id.into()])
        .unwrap();
    id
}

fn new_chat(db: &dyn Db, p: &Principal, name: &str, channel: bool, public: bool) -> i64 {
    let input = ChatInput {
        name: name.into(),
        channel,
        public,
        ..ChatInput::default()
    };
    chats::create(db, p, &input).unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn add(db: &dyn Db, p: &Principal, chat: i64, ids: &[i64]) -> crate::Result<()> {
    members::add(
        db,
        p,
        chat,
        &AddMembers {
            member_ids: ids.to_vec(),
            silent: false,
        },
    )
}

fn status(r: crate::Result<impl Sized>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

fn code(r: crate::Result<impl Sized>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.body()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    }
}

fn members(db: &dyn Db, chat: i64) -> Vec<i64> {
    members::member_ids(db, chat).unwrap()
}

fn role_of(db: &dyn Db, chat: i64, user: i64) -> Option<MemberRole> {
    chats::membership(db, chat, user).unwrap().map(|m| m.role)
}

fn list_ids(db: &dyn Db, p: &Principal, qs: &str) -> Vec<i64> {
    let lp = chats::parse_list_params(&Query::parse(qs), 50).unwrap();
    let (data, _) = chats::list(db, p, &lp).unwrap();
    data.iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// The world of the visibility matrix.
struct World {
    db: NativeDb,
    creator: i64,
    admin: i64,
    employee: i64,
    bot: i64,
    multi_guest: i64,
    guest: i64,
    open_discussion: i64,
    open_channel: i64,
    closed_discussion: i64,
    closed_channel: i64,
    personal: i64,
}

fn world() -> World {
    let db = test_db();
    let creator = user(&db, "creator", "user");
    let admin = user(&db, "admin", "admin");
    let employee = user(&db, "employee", "user");
    let bot_id = bot(&db, "bot");
    let multi_guest = user(&db, "mguest", "multi_guest");
    let guest = user(&db, "guest", "guest");
    let other = user(&db, "other", "user");
    let pc = principal(&db, creator);
    let open_discussion = new_chat(&db, &pc, "Open discussion", false, true);
    let open_channel = new_chat(&db, &pc, "Open channel", true, true);
    let closed_discussion = new_chat(&db, &pc, "Closed discussion", false, false);
    let closed_channel = new_chat(&db, &pc, "Closed channel", true, false);
    let personal = chats::find_or_create_personal_chat(&db, creator, other, false).unwrap();
    World {
        db,
        creator,
        admin,
        employee,
        bot: bot_id,
        multi_guest,
        guest,
        open_discussion,
        open_channel,
        closed_discussion,
        closed_channel,
        personal,
    }
}

#[test]
fn visibility_matrix_non_members() {
    let w = world();
    let db = &w.db;
    // Columns: open discussion, open channel, closed discussion, closed channel, personal of others.
    let chats = [
        w.open_discussion,
        w.open_channel,
        w.closed_discussion,
        w.closed_channel,
        w.personal,
    ];
    let matrix: [(i64, [u16; 5]); 6] = [
        (1, [200, 200, 404, 404, 404]), // workspace owner
        (w.admin, [200, 200, 404, 404, 404]),
        (w.employee, [200, 200, 404, 404, 404]),
        (w.bot, [404, 200, 404, 404, 404]),
        (w.multi_guest, [404, 404, 404, 404, 404]),
        (w.guest, [404, 404, 404, 404, 404]),
    ];
    for (viewer, expected) in matrix {
        let p = principal(db, viewer);
        for (chat, want) in chats.iter().zip(expected) {
            assert_eq!(
                status(chats::get(db, &p, *chat)),
                want,
                "viewer {viewer} chat {chat}"
            );
            // The list with availability=public and the search agree with GET.
            let public = list_ids(db, &p, "availability=public");
            assert_eq!(
                public.contains(chat),
                want == 200,
                "public list {viewer} {chat}"
            );
            let sp = chats::parse_search_params(&Query::default()).unwrap();
            let (found, _) = chats::search(db, &p, &sp).unwrap();
            let found: Vec<i64> = found.iter().map(|c| c["id"].as_i64().unwrap()).collect();
            assert_eq!(found.contains(chat), want == 200, "search {viewer} {chat}");
            // Not a member: is_member lists never show it.
            assert!(!list_ids(db, &p, "").contains(chat));
        }
    }
}

#[test]
fn visibility_matrix_members_see_everything_they_are_in() {
    let w = world();
    let db = &w.db;
    let pc = principal(db, w.creator);
    for chat in [
        w.open_discussion,
        w.open_channel,
        w.closed_discussion,
        w.closed_channel,
    ] {
        add(
            db,
            &pc,
            chat,
            &[w.admin, w.employee, w.bot, w.multi_guest, w.guest],
        )
        .unwrap();
    }
    for viewer in [w.admin, w.employee, w.bot, w.multi_guest, w.guest] {
        let p = principal(db, viewer);
        for chat in [
            w.open_discussion,
            w.open_channel,
            w.closed_discussion,
            w.closed_channel,
        ] {
            assert_eq!(status(chats::get(db, &p, chat)), 200, "{viewer} {chat}");
            assert!(list_ids(db, &p, "").contains(&chat));
        }
    }
    // The personal chat: both sides see it, nobody else.
    let other = members(db, w.personal)
        .into_iter()
        .find(|u| *u != w.creator)
        .unwrap();
    assert_eq!(
        status(chats::get(db, &principal(db, other), w.personal)),
        200
    );
    assert_eq!(status(chats::get(db, &pc, w.personal)), 200);
}

#[test]
fn members_list_owner_bypass_only_for_the_workspace_owner() {
    let w = world();
    let db = &w.db;
    let list = |viewer: i64, chat: i64| {
        status(members::list(
            db,
            &principal(db, viewer),
            chat,
            None,
            50,
            None,
        ))
    };
    assert_eq!(list(1, w.closed_discussion), 200);
    assert_eq!(list(1, w.personal), 200);
    assert_eq!(list(w.admin, w.closed_discussion), 404);
    assert_eq!(list(w.employee, w.closed_channel), 404);
    assert_eq!(list(w.employee, w.open_discussion), 200);
    assert_eq!(list(w.bot, w.open_channel), 200);
    assert_eq!(list(w.bot, w.open_discussion), 404);
    assert_eq!(list(w.guest, w.open_channel), 404);
    // The owner still cannot read the closed chat itself.
    assert_eq!(
        status(chats::get(db, &principal(db, 1), w.closed_discussion)),
        404
    );
}

#[test]
fn open_chats_can_be_joined_and_guests_cannot_add() {
    let w = world();
    let db = &w.db;
    let pe = principal(db, w.employee);
    // Join an open chat by adding oneself.
    add(db, &pe, w.open_discussion, &[w.employee]).unwrap();
    assert_eq!(
        role_of(db, w.open_discussion, w.employee),
        Some(MemberRole::Member)
    );
    // A non-member employee can add someone else to an open chat.
    add(db, &pe, w.open_channel, &[w.admin]).unwrap();
    // ...but not to a closed one (invisible: 404).
    assert_eq!(
        status(add(db, &pe, w.closed_discussion, &[w.employee])),
        404
    );
    // Guests cannot add even where they are members.
    let pc = principal(db, w.creator);
    add(db, &pc, w.closed_discussion, &[w.multi_guest]).unwrap();
    let pg = principal(db, w.multi_guest);
    assert_eq!(
        status(add(db, &pg, w.closed_discussion, &[w.employee])),
        403
    );
    // A bot sees and can join open channels, not open discussions.
    let pb = principal(db, w.bot);
    add(db, &pb, w.open_channel, &[w.bot]).unwrap();
    assert_eq!(status(add(db, &pb, w.open_discussion, &[w.bot])), 404);
}

#[test]
fn roles_on_join() {
    let w = world();
    let db = &w.db;
    let pc = principal(db, w.creator);
    for chat in [w.open_discussion, w.open_channel] {
        add(
            db,
            &pc,
            chat,
            &[1, w.admin, w.employee, w.bot, w.multi_guest],
        )
        .unwrap();
    }
    let d = w.open_discussion;
    let c = w.open_channel;
    assert_eq!(role_of(db, d, w.creator), Some(MemberRole::Owner));
    assert_eq!(role_of(db, d, 1), Some(MemberRole::Admin));
    assert_eq!(role_of(db, d, w.admin), Some(MemberRole::Admin));
    assert_eq!(role_of(db, d, w.employee), Some(MemberRole::Member));
    assert_eq!(role_of(db, d, w.bot), Some(MemberRole::Member));
    assert_eq!(role_of(db, c, w.bot), Some(MemberRole::Editor));
    assert_eq!(role_of(db, c, w.employee), Some(MemberRole::Member));
    assert_eq!(role_of(db, c, w.multi_guest), Some(MemberRole::Member));
    for u in members(db, w.personal) {
        assert_eq!(role_of(db, w.personal, u), Some(MemberRole::Admin));
    }
    // Workspace roles changing later do not recompute chat roles.
    db.execute(
        "UPDATE users SET role = 'user' WHERE id = ?",
        &[w.admin.into()],
    )
    .unwrap();
    assert_eq!(role_of(db, d, w.admin), Some(MemberRole::Admin));
}

#[test]
fn creator_cannot_be_kicked_or_demoted_and_managers_rules() {
    let w = world();
    let db = &w.db;
    let pc = principal(db, w.creator);
    let d = w.closed_discussion;
    add(db, &pc, d, &[w.admin, w.employee, w.multi_guest]).unwrap();
    let pa = principal(db, w.admin); // chat admin (workspace admin on join)
    let pe = principal(db, w.employee); // plain member
                                        // Kicking the creator: 403 cannot_kick_owner, even by the creator.
    let r = members::remove(db, &pa, d, w.creator);
    assert_eq!(r.as_ref().map_err(|e| e.status()).err(), Some(403));
    assert_eq!(code(r), "cannot_kick_owner");
    assert_eq!(
        code(members::remove(db, &pc, d, w.creator)),
        "cannot_kick_owner"
    );
    // A plain member cannot kick or change roles.
    assert_eq!(status(members::remove(db, &pe, d, w.multi_guest)), 403);
    assert_eq!(
        status(members::set_role(
            db,
            &pe,
            d,
            w.multi_guest,
            MemberRole::Admin
        )),
        403
    );
    // Creator's role cannot change; own role cannot change; editor only in channels.
    assert_eq!(
        code(members::set_role(db, &pa, d, w.creator, MemberRole::Member)),
        "owner_protected"
    );
    assert_eq!(
        code(members::set_role(db, &pa, d, w.admin, MemberRole::Member)),
        "self_update"
    );
    let r = members::set_role(db, &pa, d, w.employee, MemberRole::Editor);
    assert_eq!(r.as_ref().map_err(|e| e.status()).err(), Some(422));
    assert_eq!(code(r), "not_applicable");
    // Unknown target: 404 on user_id.
    assert_eq!(status(members::remove(db, &pa, d, w.bot)), 404);
    // A chat admin promotes and kicks.
    members::set_role(db, &pa, d, w.employee, MemberRole::Admin).unwrap();
    assert_eq!(role_of(db, d, w.employee), Some(MemberRole::Admin));
    members::remove(db, &principal(db, w.employee), d, w.multi_guest).unwrap();
    assert_eq!(role_of(db, d, w.multi_guest), None);
    // In a channel, editor is allowed.
    let ch = w.closed_channel;
    add(db, &pc, ch, &[w.employee]).unwrap();
    members::set_role(db, &pc, ch, w.employee, MemberRole::Editor).unwrap();
    assert_eq!(role_of(db, ch, w.employee), Some(MemberRole::Editor));
    // Workspace admin that is not a chat member of an open chat: sees it, cannot manage it.
    let upd = ChatUpdate {
        name: Some("x".into()),
        public: None,
    };
    assert_eq!(
        status(chats::update(db, &principal(db, 1), w.open_channel, &upd)),
        403
    );
    assert_eq!(
        status(chats::update(db, &principal(db, 1), w.closed_channel, &upd)),
        404
    );
}

#[test]
fn creator_can_leave_and_non_members_cannot() {
    let w = world();
    let db = &w.db;
    let pc = principal(db, w.creator);
    let pe = principal(db, w.employee);
    assert_eq!(status(members::leave(db, &pe, w.open_discussion)), 403);
    assert_eq!(status(members::leave(db, &pe, w.closed_discussion)), 404);
    members::leave(db, &pc, w.closed_discussion).unwrap();
    assert_eq!(status(chats::get(db, &pc, w.closed_discussion)), 404);
    // owner_id is kept.
    let chat = chats::load(db, w.closed_discussion).unwrap().unwrap();
    assert_eq!(chat.owner_id, w.creator);
    // Personal chats: membership operations are refused.
    let r = members::leave(db, &pc, w.personal);
    assert_eq!(code(r), "personal_chat");
    assert_eq!(
        code(add(db, &pc, w.personal, &[w.employee])),
        "personal_chat"
    );
}

#[test]
fn tag_sync_both_directions() {
    let db = test_db();
    let owner = owner_principal();
    let creator = user(&db, "creator", "user");
    let u1 = user(&db, "u1", "user");
    let u2 = user(&db, "u2", "user");
    let u3 = user(&db, "u3", "user");
    let set_tags = |uid: i64, tags: &[&str]| {
        let body = json!({"user": {"list_tags": tags}});
        let input = crate::users::parse_input(&body, false).unwrap();
        crate::users::update(&db, &owner, uid, input, &ChatMembershipSync).unwrap();
    };
    set_tags(u1, &["dev"]);
    set_tags(u2, &["dev", "ops"]);
    let dev = crate::users::group_tags::list(&db, &["dev".into()], 10, None)
        .unwrap()
        .0[0]["id"]
        .as_i64()
        .unwrap();
    let ops = crate::users::group_tags::list(&db, &["ops".into()], 10, None)
        .unwrap()
        .0[0]["id"]
        .as_i64()
        .unwrap();
    let pc = principal(&db, creator);
    let chat = new_chat(&db, &pc, "Dev", false, false);
    // Adding a tag makes its users members (not direct).
    members::add_tags(&db, &pc, chat, &[dev]).unwrap();
    assert_eq!(members(&db, chat), vec![creator, u1, u2]);
    assert_eq!(
        chats::membership(&db, chat, u1).unwrap(),
        Some(Membership {
            role: MemberRole::Member,
            direct: false
        })
    );
    let rendered = chats::get(&db, &pc, chat).unwrap();
    assert_eq!(rendered["group_tag_ids"], json!([dev]));
    // A user gaining the tag joins; losing it leaves.
    set_tags(u3, &["dev"]);
    assert_eq!(members(&db, chat), vec![creator, u1, u2, u3]);
    set_tags(u1, &[]);
    assert_eq!(members(&db, chat), vec![creator, u2, u3]);
    // u2 is also added directly: removing the tag keeps them.
    add(&db, &pc, chat, &[u2]).unwrap();
    members::add_tags(&db, &pc, chat, &[ops]).unwrap();
    members::remove_tag(&db, &pc, chat, dev).unwrap();
    assert_eq!(members(&db, chat), vec![creator, u2]);
    assert_eq!(status(members::remove_tag(&db, &pc, chat, dev)), 404);
    // Re-attach dev, then delete the tag entirely: tag-only members leave.
    members::add_tags(&db, &pc, chat, &[dev]).unwrap();
    assert_eq!(members(&db, chat), vec![creator, u2, u3]);
    crate::users::group_tags::delete(&db, &owner, dev, &ChatMembershipSync).unwrap();
    assert_eq!(members(&db, chat), vec![creator, u2]);
    assert_eq!(
        chats::get(&db, &pc, chat).unwrap()["group_tag_ids"],
        json!([ops])
    );
    // Unknown tag: 422 not_found.
    let r = members::add_tags(&db, &pc, chat, &[9999]);
    assert_eq!(r.as_ref().map_err(|e| e.status()).err(), Some(422));
    assert_eq!(code(r), "not_found");
    // A tag at creation time works too, and user deletion removes memberships.
    let c2 = chats::create(
        &db,
        &pc,
        &ChatInput {
            name: "Ops".into(),
            group_tag_ids: vec![ops],
            member_ids: vec![u3],
            ..ChatInput::default()
        },
    )
    .unwrap();
    let c2 = c2["id"].as_i64().unwrap();
    assert_eq!(members(&db, c2), vec![creator, u2, u3]);
    crate::users::delete(&db, &owner, u3, &ChatMembershipSync).unwrap();
    assert_eq!(members(&db, c2), vec![creator, u2]);
    // Tag events carry the audit facts: who, which tag, its name.
    let tag_events: Vec<_> = events_of(&db, chat)
        .into_iter()
        .filter(|(k, e, _, _)| k == "chat" && e.starts_with("tag_"))
        .collect();
    assert_eq!(tag_events.len(), 5, "{tag_events:?}");
    assert_eq!(tag_events[0].1, "tag_add");
    assert_eq!(tag_events[0].2, Some(creator));
    assert_eq!(tag_events[0].3["tag_name"], "dev");
    assert_eq!(tag_events[4].1, "tag_remove");
    assert_eq!(tag_events[4].2, Some(1));
    assert_eq!(tag_events[4].3["tag_name"], "dev");
}

fn events_of(db: &dyn Db, chat: i64) -> Vec<(String, String, Option<i64>, Json)> {
    db.query(
        "SELECT type, event, actor_user_id, payload_json FROM events \
         WHERE entity_type = 'Chat' AND entity_id = ? ORDER BY id",
        &[chat.into()],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.string(0).unwrap(),
            r.string(1).unwrap(),
            r.opt_i64(2).unwrap(),
            serde_json::from_str(&r.string(3).unwrap()).unwrap(),
        )
    })
    .collect()
}

#[test]
fn events_are_recorded_with_actor_and_silent_flag() {
    let w = world();
    let db = &w.db;
    let pc = principal(db, w.creator);
    let chat = chats::create(
        db,
        &pc,
        &ChatInput {
            name: "Team".into(),
            member_ids: vec![w.employee],
            ..ChatInput::default()
        },
    )
    .unwrap()["id"]
        .as_i64()
        .unwrap();
    members::add(
        db,
        &pc,
        chat,
        &AddMembers {
            member_ids: vec![w.admin],
            silent: true,
        },
    )
    .unwrap();
    chats::update(
        db,
        &pc,
        chat,
        &ChatUpdate {
            name: Some("Team 2".into()),
            public: Some(true),
        },
    )
    .unwrap();
    members::set_role(db, &pc, chat, w.employee, MemberRole::Admin).unwrap();
    members::remove(db, &pc, chat, w.admin).unwrap();
    chats::set_archived(db, &pc, chat, true).unwrap();
    chats::set_archived(db, &pc, chat, true).unwrap(); // idempotent: no second event
    chats::set_archived(db, &pc, chat, false).unwrap();
    let ev = events_of(db, chat);
    let names: Vec<(&str, &str)> = ev
        .iter()
        .map(|(k, e, _, _)| (k.as_str(), e.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("chat", "create"),
            ("chat_member", "add"),
            ("chat_member", "add"),
            ("chat", "rename"),
            ("chat", "permission_change"),
            ("chat_member", "role_update"),
            ("chat_member", "remove"),
            ("chat", "archive"),
            ("chat", "unarchive"),
        ]
    );
    assert!(ev.iter().all(|(_, _, actor, _)| *actor == Some(w.creator)));
    assert_eq!(ev[1].3["user_ids"], json!([w.employee]));
    assert_eq!(ev[1].3["silent"], json!(false));
    assert_eq!(ev[2].3["user_ids"], json!([w.admin]));
    assert_eq!(ev[2].3["silent"], json!(true));
    assert_eq!(ev[3].3["old_name"], "Team");
    assert_eq!(ev[3].3["new_name"], "Team 2");
    assert_eq!(ev[4].3["public_access"], true);
    assert_eq!(ev[5].3["previous_role"], "member");
    assert_eq!(ev[5].3["new_role"], "admin");
    // A failed change records nothing (same transaction).
    let before = events_of(db, chat).len();
    assert_eq!(status(add(db, &pc, chat, &[w.bot, 999_999])), 422);
    assert_eq!(events_of(db, chat).len(), before);
    assert_eq!(role_of(db, chat, w.bot), None);
}

fn bulk_users(db: &dyn Db, n: i64) -> Vec<i64> {
    let first = db
        .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM users", &[])
        .unwrap()
        .unwrap()
        .i64(0)
        .unwrap();
    db.execute(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?) \
         INSERT INTO users (nickname, email, role, created_at, updated_at) \
         SELECT 'bulk' || n, 'bulk' || n || '@example.com', 'user', '2025-01-01T00:00:00.000Z', \
         '2025-01-01T00:00:00.000Z' FROM s",
        &[n.into()],
    )
    .unwrap();
    (first..first + n).collect()
}

#[test]
fn five_thousand_members_in_one_transaction_well_under_a_second() {
    let db = test_db();
    let creator = user(&db, "creator", "user");
    let pc = principal(&db, creator);
    let chat = new_chat(&db, &pc, "Big", false, false);
    let ids = bulk_users(&db, 5000);
    // One bad id: the whole add is refused, nothing is half-added.
    let mut bad = ids.clone();
    bad.push(99_999_999);
    assert_eq!(status(add(&db, &pc, chat, &bad)), 422);
    assert_eq!(members(&db, chat).len(), 1);
    let started = std::time::Instant::now();
    add(&db, &pc, chat, &ids).unwrap();
    let took = started.elapsed();
    assert!(took.as_millis() < 1000, "5,000-member add took {took:?}");
    assert_eq!(members(&db, chat).len(), 5001);
    let adds: Vec<_> = events_of(&db, chat)
        .into_iter()
        .filter(|(_, e, _, _)| e == "add")
        .collect();
    assert_eq!(adds.len(), 1, "one event for the whole batch");
    assert_eq!(adds[0].3["user_ids"].as_array().unwrap().len(), 5000);
    // Adding them again is a no-op (no new event).
    add(&db, &pc, chat, &ids).unwrap();
    assert_eq!(events_of(&db, chat).len(), 2, "chat create + one add");
}

#[test]
fn member_ids_are_complete_for_ten_thousand_members() {
    let db = test_db();
    let creator = user(&db, "creator", "user");
    let pc = principal(&db, creator);
    let chat = new_chat(&db, &pc, "Huge", false, true);
    let ids = bulk_users(&db, 10_000);
    add(&db, &pc, chat, &ids).unwrap();
    let c = chats::get(&db, &pc, chat).unwrap();
    let got: Vec<i64> = c["member_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let mut want = vec![creator];
    want.extend(&ids);
    want.sort_unstable();
    assert_eq!(got, want);
    // Also in lists.
    let listed = chats::list(
        &db,
        &pc,
        &chats::parse_list_params(&Query::default(), 50).unwrap(),
    )
    .unwrap()
    .0;
    assert_eq!(listed[0]["member_ids"].as_array().unwrap().len(), 10_001);
}

#[test]
fn chat_shape_and_validation() {
    let db = test_db();
    let p = owner_principal();
    let c = chats::create(
        &db,
        &p,
        &chats::parse_create(&json!({"chat": {"name": " Aqua ", "channel": true}})).unwrap(),
    )
    .unwrap();
    for key in [
        "id",
        "name",
        "created_at",
        "owner_id",
        "member_ids",
        "group_tag_ids",
        "channel",
        "archived",
        "personal",
        "public",
        "last_message_at",
        "meet_room_url",
    ] {
        assert!(c.get(key).is_some_and(|v| !v.is_null()), "{key}");
    }
    assert_eq!(c["name"], "Aqua");
    assert_eq!(c["channel"], true);
    assert_eq!(c["public"], false);
    assert_eq!(c["owner_id"], 1);
    assert_eq!(c["member_ids"], json!([1]));
    let e = chats::parse_create(&json!({"chat": {"name": ""}})).unwrap_err();
    assert_eq!(
        (e.status(), e.body()["errors"][0]["code"].clone()),
        (422, json!("blank"))
    );
    let e = chats::parse_create(&json!({"chat": {"name": "x".repeat(256)}})).unwrap_err();
    assert_eq!(e.body()["errors"][0]["code"], "too_long");
    let e = chats::parse_create(&json!({"name": "x"})).unwrap_err();
    assert_eq!(e.status(), 400);
    let e = chats::parse_create(&json!({"chat": {"name": "x", "member_ids": ["a"]}})).unwrap_err();
    assert_eq!(e.body()["errors"][0]["key"], "member_ids.0");
    let e = chats::create(
        &db,
        &p,
        &ChatInput {
            name: "x".into(),
            member_ids: vec![424242],
            ..ChatInput::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.status(), 422);
    assert_eq!(e.body()["errors"][0]["key"], "member_ids");
    assert_eq!(e.body()["errors"][0]["code"], "not_found");
    assert_eq!(members::parse_add(&json!({})).unwrap_err().status(), 400);
    assert_eq!(
        members::parse_role(&json!({"role": "owner"}))
            .unwrap_err()
            .body()["errors"][0]["code"],
        "inclusion"
    );
    assert_eq!(members::parse_tags(&json!([1])).unwrap_err().status(), 400);
}

#[test]
fn archived_chats_are_frozen_but_visible() {
    let w = world();
    let db = &w.db;
    let pc = principal(db, w.creator);
    let pe = principal(db, w.employee);
    let d = w.open_discussion;
    add(db, &pc, d, &[w.employee]).unwrap();
    assert_eq!(status(chats::set_archived(db, &pe, d, true)), 403);
    chats::set_archived(db, &pc, d, true).unwrap();
    assert_eq!(status(chats::get(db, &pe, d)), 200);
    assert_eq!(status(add(db, &pc, d, &[w.admin])), 403);
    assert_eq!(status(members::remove(db, &pc, d, w.employee)), 403);
    let upd = ChatUpdate {
        name: Some("n".into()),
        public: None,
    };
    assert_eq!(status(chats::update(db, &pc, d, &upd)), 403);
    // Lists hide archived chats unless archived=true.
    assert!(!list_ids(db, &pe, "").contains(&d));
    assert!(list_ids(db, &pe, "archived=true").contains(&d));
    assert!(!list_ids(db, &pe, "availability=public").contains(&d));
    assert!(list_ids(db, &pe, "availability=public&archived=true").contains(&d));
    // Leaving is still allowed; unarchive restores everything.
    members::leave(db, &pe, d).unwrap();
    chats::set_archived(db, &pc, d, false).unwrap();
    chats::update(db, &pc, d, &upd).unwrap();
}

#[test]
fn can_post_rules() {
    let w = world();
    let db = &w.db;
    let chat = |id: i64| chats::load(db, id).unwrap().unwrap();
    let m = |role| Membership { role, direct: true };
    let ch = chat(w.open_channel);
    let di = chat(w.open_discussion);
    for (role, channel_ok) in [
        (MemberRole::Owner, true),
        (MemberRole::Admin, true),
        (MemberRole::Editor, true),
        (MemberRole::Member, false),
    ] {
        assert_eq!(vis::can_post(&ch, Some(&m(role))), channel_ok, "{role:?}");
        assert!(vis::can_post(&di, Some(&m(role))));
    }
    assert!(!vis::can_post(&di, None));
    let mut archived = di.clone();
    archived.archived = true;
    assert!(!vis::can_post(&archived, Some(&m(MemberRole::Owner))));
    assert!(vis::can_post(
        &chat(w.personal),
        Some(&m(MemberRole::Admin))
    ));
}

#[test]
fn personal_chats_are_found_or_created_once() {
    let db = test_db();
    let a = user(&db, "a", "user");
    let b = user(&db, "b", "user");
    let id = chats::find_or_create_personal_chat(&db, a, b, false).unwrap();
    assert_eq!(
        chats::find_or_create_personal_chat(&db, b, a, false).unwrap(),
        id
    );
    let pa = principal(&db, a);
    let c = chats::get(&db, &pa, id).unwrap();
    assert_eq!(c["personal"], true);
    assert_eq!(c["public"], false);
    assert_eq!(c["member_ids"], json!([a, b]));
    let group = new_chat(&db, &pa, "Group", false, false);
    assert_eq!(list_ids(&db, &pa, "personal=true"), vec![id]);
    assert_eq!(list_ids(&db, &pa, "personal=false"), vec![group]);
    assert_eq!(list_ids(&db, &pa, ""), vec![group, id]);
    assert_eq!(
        status(chats::find_or_create_personal_chat(&db, a, 777_777, false)),
        404
    );
    let upd = ChatUpdate {
        name: None,
        public: Some(true),
    };
    assert_eq!(code(chats::update(&db, &pa, id, &upd)), "personal_chat");
}

#[test]
fn list_sorts_filters_and_walks_both_ways() {
    let db = test_db();
    let p = owner_principal();
    let ids: Vec<i64> = (0..7)
        .map(|i| new_chat(&db, &p, &format!("c{i}"), false, false))
        .collect();
    // Distinct last_message_at values, in reverse of id order.
    for (n, id) in ids.iter().enumerate() {
        db.execute(
            "UPDATE chats SET last_message_at = ? WHERE id = ?",
            &[
                format!("2025-01-{:02}T00:00:00.000Z", 20 - n).into(),
                (*id).into(),
            ],
        )
        .unwrap();
    }
    let mut desc = ids.clone();
    desc.reverse();
    assert_eq!(list_ids(&db, &p, ""), desc);
    assert_eq!(list_ids(&db, &p, "order=asc"), ids);
    assert_eq!(list_ids(&db, &p, "sort=last_message_at"), ids);
    assert_eq!(list_ids(&db, &p, "sort=last_message_at&order=asc"), desc);
    assert_eq!(
        list_ids(
            &db,
            &p,
            "last_message_at_after=2025-01-16T00:00:00.000Z&last_message_at_before=2025-01-18T00:00:00.000Z&order=asc"
        ),
        vec![ids[2], ids[3], ids[4]]
    );
    // Walk pages of 3 forward, then back with prev_page.
    let page = |qs: &str| {
        let lp = chats::parse_list_params(&Query::parse(qs), 50).unwrap();
        let (data, meta) = chats::list(&db, &p, &lp).unwrap();
        let ids: Vec<i64> = data.iter().map(|c| c["id"].as_i64().unwrap()).collect();
        (ids, meta["paginate"].clone())
    };
    let (p1, m1) = page("sort=last_message_at&limit=3");
    assert_eq!(p1, ids[0..3]);
    assert_eq!(
        (m1["has_next"].clone(), m1["has_prev"].clone()),
        (json!(true), json!(false))
    );
    let (p2, m2) = page(&format!(
        "sort=last_message_at&limit=3&cursor={}",
        m1["next_page"].as_str().unwrap()
    ));
    assert_eq!(p2, ids[3..6]);
    assert_eq!(
        (m2["has_next"].clone(), m2["has_prev"].clone()),
        (json!(true), json!(true))
    );
    let (p3, m3) = page(&format!(
        "sort=last_message_at&limit=3&cursor={}",
        m2["next_page"].as_str().unwrap()
    ));
    assert_eq!(p3, ids[6..7]);
    assert_eq!(m3["has_next"], false);
    let (back, mb) = page(&format!(
        "sort=last_message_at&limit=3&cursor={}",
        m3["prev_page"].as_str().unwrap()
    ));
    assert_eq!(back, ids[3..6]);
    assert_eq!(
        (mb["has_next"].clone(), mb["has_prev"].clone()),
        (json!(true), json!(true))
    );
    // Bad parameters are 400.
    for qs in [
        "sort=name",
        "order=up",
        "availability=all",
        "archived=maybe",
        "personal=2",
        "last_message_at_after=yesterday",
        "limit=51",
        "cursor=zzz",
    ] {
        let e = chats::parse_list_params(&Query::parse(qs), 50).unwrap_err();
        assert_eq!(e.status(), 400, "{qs}");
    }
}

#[test]
fn search_filters_and_pages() {
    let db = test_db();
    let p = owner_principal();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(new_chat(&db, &p, &format!("Разработка {i}"), false, false));
    }
    let other = new_chat(&db, &p, "Marketing", true, false);
    chats::set_archived(&db, &p, ids[0], true).unwrap();
    let run = |qs: &str| {
        let sp = chats::parse_search_params(&Query::parse(qs)).unwrap();
        let (data, meta) = chats::search(&db, &p, &sp).unwrap();
        let ids: Vec<i64> = data.iter().map(|c| c["id"].as_i64().unwrap()).collect();
        (ids, meta)
    };
    let (found, meta) = run("query=%D1%80%D0%90%D0%97%D1%80%D0%B0%D0%B1"); // "рАЗраб"
    assert_eq!(meta["total"], 5);
    assert_eq!(found, vec![ids[4], ids[3], ids[2], ids[1], ids[0]]);
    let (found, _) = run("query=разработка&active=true&order=asc");
    assert_eq!(found, ids[1..].to_vec());
    let (found, _) = run("active=false");
    assert_eq!(found, vec![ids[0]]);
    let (found, _) = run("query=market");
    assert_eq!(found, vec![other]);
    let (found, _) = run("chat_subtype=thread");
    assert!(found.is_empty());
    let (found, _) = run("personal=true");
    assert!(found.is_empty());
    // Pages of 2 via next_page until empty.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let after = if cursor.is_empty() {
            String::new()
        } else {
            format!("&cursor={cursor}")
        };
        let (page, meta) = run(&format!("query=Разработка&limit=2{after}"));
        assert_eq!(meta["total"], 5);
        if page.is_empty() {
            break;
        }
        seen.extend(page);
        cursor = meta["paginate"]["next_page"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen.len(), 5);
    for qs in [
        "limit=101",
        "order=x",
        "chat_subtype=dm",
        "active=yes",
        "created_from=x",
    ] {
        assert_eq!(
            chats::parse_search_params(&Query::parse(qs))
                .unwrap_err()
                .status(),
            400,
            "{qs}"
        );
    }
}

#[test]
fn members_list_role_filter_and_pages() {
    let db = test_db();
    let creator = user(&db, "creator", "user");
    let admin = user(&db, "adm", "admin");
    let pc = principal(&db, creator);
    let chat = new_chat(&db, &pc, "Team", true, false);
    let mut ids = bulk_users(&db, 120);
    add(&db, &pc, chat, &ids).unwrap();
    add(&db, &pc, chat, &[admin]).unwrap();
    members::set_role(&db, &pc, chat, ids[0], MemberRole::Editor).unwrap();
    let listed = |role: Option<MemberRole>| {
        members::list(&db, &pc, chat, role, 50, None)
            .unwrap()
            .0
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(Some(MemberRole::Owner)), vec![creator]);
    assert_eq!(listed(Some(MemberRole::Admin)), vec![admin]);
    assert_eq!(listed(Some(MemberRole::Editor)), vec![ids[0]]);
    assert_eq!(listed(Some(MemberRole::Member)).len(), 50);
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let (data, meta) = members::list(&db, &pc, chat, None, 50, cursor.as_ref()).unwrap();
        all.extend(data.iter().map(|u| u["id"].as_i64().unwrap()));
        if meta["paginate"]["has_next"] != true {
            break;
        }
        cursor = Some(
            crate::platform::pagination::Cursor::decode(
                meta["paginate"]["next_page"].as_str().unwrap(),
            )
            .unwrap(),
        );
    }
    ids.push(creator);
    ids.push(admin);
    ids.sort_unstable();
    assert_eq!(all, ids);
    assert_eq!(status(members::parse_role_filter(Some("boss"))), 400);
}

fn call(
    db: &dyn Db,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Json>,
) -> (u16, Json) {
    let mut req = Request::new(method, &format!("/api/shared/v1{path}"));
    if let Some(t) = token {
        req = req.with_header("Authorization", &format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.with_json(&b);
    }
    let cfg = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    let r = crate::components::chats(db, &cfg, &req);
    (r.status, r.json_body())
}

#[test]
fn router_auth_scopes_and_routes() {
    let db = test_db();
    let (s, b) = call(&db, "GET", "/chats", None, None);
    assert_eq!((s, b["error"].clone()), (401, json!("invalid_token")));
    let uid = user(&db, "reader", "user");
    let issued = crate::auth::access_tokens::issue(
        &db,
        &owner_principal(),
        crate::auth::access_tokens::IssueRequest {
            user_id: Some(uid),
            name: None,
            scopes: Some(vec!["chats:read".into()]),
        },
    )
    .unwrap();
    let t = issued.token.as_str();
    let (s, b) = call(
        &db,
        "POST",
        "/chats",
        Some(t),
        Some(json!({"chat": {"name": "x"}})),
    );
    assert_eq!((s, b["error"].clone()), (403, json!("insufficient_scope")));
    let (s, b) = call(
        &db,
        "POST",
        "/chats",
        Some(ADMIN),
        Some(json!({"chat": {"name": "Secret"}})),
    );
    assert_eq!(s, 201, "{b}");
    let id = b["data"]["id"].as_i64().unwrap();
    // Private chat: 404 to a non-member, 200 to its creator.
    assert_eq!(
        call(&db, "GET", &format!("/chats/{id}"), Some(t), None).0,
        404
    );
    assert_eq!(
        call(&db, "GET", &format!("/chats/{id}"), Some(ADMIN), None).0,
        200
    );
    assert_eq!(call(&db, "GET", "/chats/abc", Some(ADMIN), None).0, 404);
    assert_eq!(
        call(&db, "PATCH", &format!("/chats/{id}"), Some(ADMIN), None).0,
        405
    );
    assert_eq!(call(&db, "GET", "/chats/1/nope", Some(ADMIN), None).0, 404);
    let (s, b) = call(&db, "GET", "/chats", Some(t), None);
    assert_eq!((s, b["data"].clone()), (200, json!([])));
    assert!(b["meta"]["paginate"]["next_page"].is_string());
    let (s, _) = call(
        &db,
        "POST",
        &format!("/chats/{id}/members"),
        Some(ADMIN),
        Some(json!({"member_ids": [uid], "silent": true})),
    );
    assert_eq!(s, 204);
    assert_eq!(
        call(&db, "GET", &format!("/chats/{id}"), Some(t), None).0,
        200
    );
    let (s, b) = call(
        &db,
        "DELETE",
        &format!("/chats/{id}/members/1"),
        Some(ADMIN),
        None,
    );
    assert_eq!(
        (s, b["errors"][0]["code"].clone()),
        (403, json!("cannot_kick_owner"))
    );
    let (s, b) = call(&db, "GET", "/search/chats?query=secret", Some(ADMIN), None);
    assert_eq!((s, b["meta"]["total"].clone()), (200, json!(1)));
    assert_eq!(call(&db, "GET", "/search/chats", Some(t), None).0, 403);
    for (m, path) in [
        ("PUT", format!("/chats/{id}/archive")),
        ("PUT", format!("/chats/{id}/unarchive")),
        ("DELETE", format!("/chats/{id}/leave")),
    ] {
        assert_eq!(call(&db, m, &path, Some(ADMIN), None).0, 204, "{m} {path}");
    }
}

#[test]
fn create_response_has_the_meta_the_sdks_require() {
    // pachca-sdk's `CreateChatResponse` has a required `meta.not_found_member_ids`.
    let db = test_db();
    let u = user(&db, "m", "user");
    let (s, b) = call(
        &db,
        "POST",
        "/chats",
        Some(ADMIN),
        Some(json!({"chat": {"name": "With meta", "member_ids": [u]}})),
    );
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["meta"], json!({"not_found_member_ids": []}));
    assert_eq!(b["data"]["member_ids"], json!([1, u]));
}

#[test]
fn personal_chat_created_concurrently_is_found_not_duplicated() {
    let dir = std::env::temp_dir().join(format!("chats-personal-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("db.sqlite");
    let _ = std::fs::remove_file(&path);
    let db = NativeDb::open(&path).unwrap();
    crate::platform::migrate::migrate(&db).unwrap();
    let a = user(&db, "a", "user");
    let b = user(&db, "b", "user");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let db = NativeDb::open(&path).unwrap();
                chats::find_or_create_personal_chat(&db, a, b, false).unwrap()
            })
        })
        .collect();
    let ids: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let n = db
        .query_row("SELECT COUNT(*) FROM chats WHERE personal = 1", &[])
        .unwrap()
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(n, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
