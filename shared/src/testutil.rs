//! Fixtures for the native unit tests.

use crate::auth::scopes::{self, Role};
use crate::auth::{Credential, Principal};
use crate::platform::db::{Db, DbError, NativeDb, Opened, Rider, Row, Rows, Setup, Value};
use serde_json::Value as Json;
use std::cell::RefCell;

/// Admin token configured in tests.
pub const ADMIN: &str = "admin-secret";

/// Fresh migrated in-memory database.
pub fn test_db() -> NativeDb {
    let db = NativeDb::open_in_memory().expect("open");
    crate::platform::migrate::migrate(&db).expect("migrate");
    db
}

/// The owner acting through the admin token.
pub fn owner_principal() -> Principal {
    Principal {
        user_id: 1,
        role: Role::Owner,
        bot: false,
        scopes: scopes::all(),
        credential: Credential::AdminToken,
    }
}

/// A personal access token of `user` with every scope their role allows,
/// issued by the owner.
pub fn personal_token(db: &dyn Db, user: i64) -> String {
    crate::auth::access_tokens::issue(
        db,
        &owner_principal(),
        crate::auth::access_tokens::IssueRequest {
            user_id: Some(user),
            name: None,
            scopes: None,
        },
    )
    .expect("token")
    .token
}

/// Every item of a list method, in pages: `list` answers one page (data and
/// meta) for a cursor (`None`: the first page). Follows `next_page` to the
/// last page, then `prev_page` from it back to the first; returns the items
/// seen forward and those seen walking back, each in list order.
pub fn walk_pages(
    mut list: impl FnMut(Option<&crate::platform::pagination::Cursor>) -> (Vec<Json>, Json),
) -> (Vec<Json>, Vec<Json>) {
    let cursor = |meta: &Json, which: &str| {
        let encoded = meta["paginate"][which].as_str().expect("a cursor");
        crate::platform::pagination::Cursor::decode(encoded).expect("a valid cursor")
    };
    let (mut page, mut meta) = list(None);
    let mut forward = page.clone();
    while meta["paginate"]["has_next"].as_bool().expect("has_next") {
        (page, meta) = list(Some(&cursor(&meta, "next_page")));
        forward.extend(page.clone());
    }
    let mut back = page;
    while meta["paginate"]["has_prev"].as_bool().expect("has_prev") {
        let earlier;
        (earlier, meta) = list(Some(&cursor(&meta, "prev_page")));
        back.splice(0..0, earlier);
    }
    (forward, back)
}

/// A regular user (`bot` for a bot account) acting with every scope, as
/// the domain functions see a caller.
pub fn user_principal(user_id: i64, bot: bool) -> Principal {
    Principal {
        user_id,
        role: Role::User,
        bot,
        scopes: scopes::all(),
        credential: Credential::AdminToken,
    }
}

/// Creates a user with the given e-mail and role, returning its id.
pub fn create_user(db: &dyn Db, email: &str, role: &str) -> i64 {
    let body = serde_json::json!({"user": {"email": email, "role": role, "first_name": "Test"}});
    let input = crate::users::parse_input(&body, true).expect("valid input");
    let user = crate::users::create(
        db,
        &owner_principal(),
        input,
        &crate::chats::membership_sync::ChatMembershipSync,
    )
    .expect("create");
    user["id"].as_i64().expect("id")
}

/// A bot account (`{secret}@bots.example`) with its settings row, signed
/// with `secret` and sending to `url` when given; returns its id.
pub fn create_bot(db: &dyn Db, secret: &str, url: Option<&str>) -> i64 {
    let id = create_user(db, &format!("{secret}@bots.example"), "user");
    db.execute(
        "INSERT INTO bots (user_id, creator_id, signing_secret, outgoing_url, created_at, updated_at) \
         VALUES (?, 1, ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        &[id.into(), secret.to_owned().into(), url.map(str::to_owned).into()],
    )
    .expect("bot");
    id
}

/// Creates a group chat `name` owned by the owner with `members`; its id.
pub fn create_chat(db: &dyn Db, name: &str, members: &[i64]) -> i64 {
    let input = crate::chats::ChatInput {
        name: name.into(),
        member_ids: members.to_vec(),
        ..Default::default()
    };
    crate::chats::create(db, &owner_principal(), &input).expect("chat")["id"]
        .as_i64()
        .expect("chat id")
}

/// A connection that records every statement run through it, to count what
/// a request costs in SQL.
pub struct RecordingDb<'a> {
    inner: &'a dyn Db,
    statements: RefCell<Vec<String>>,
    opened: Opened,
}

impl<'a> RecordingDb<'a> {
    /// Records the statements run on `inner` (whose [`Setup`] it shares
    /// until [`RecordingDb::read_setup`] reads one of its own).
    pub fn new(inner: &'a dyn Db) -> Self {
        Self {
            inner,
            statements: RefCell::default(),
            opened: Opened::default(),
        }
    }

    /// Reads the connection's [`Setup`] through this wrapper, as opening a
    /// connection does, so its statements are counted.
    pub fn read_setup(&self) -> Result<(), DbError> {
        self.read_setup_with(&[])
    }

    /// [`RecordingDb::read_setup`] with [`Rider`]s, as the Spin adapter
    /// opens a request's connection.
    pub fn read_setup_with(&self, riders: &[Rider]) -> Result<(), DbError> {
        self.opened.read(self, riders)
    }

    /// The statements run so far, in order.
    pub fn statements(&self) -> Vec<String> {
        self.statements.borrow().clone()
    }

    /// Forgets the statements recorded so far.
    pub fn clear(&self) {
        self.statements.borrow_mut().clear();
    }
}

impl Db for RecordingDb<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.statements.borrow_mut().push(sql.to_owned());
        self.inner.execute(sql, params)
    }

    fn last_insert_rowid(&self) -> i64 {
        self.inner.last_insert_rowid()
    }

    fn changes(&self) -> u64 {
        self.inner.changes()
    }

    fn setup(&self) -> Option<&Setup> {
        self.opened.setup().or_else(|| self.inner.setup())
    }

    fn prefetched(&self, key: &str) -> Option<Row> {
        self.opened.prefetched(key)
    }
}

/// The `(key, code)` of every item of an error's `ApiError` body, to assert
/// a body rule's failures in order.
pub fn error_items(e: &crate::platform::error::Error) -> Vec<(String, String)> {
    e.body()["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["key"].as_str().unwrap_or_default().to_owned(),
                i["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
