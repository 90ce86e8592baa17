//! Fixtures for the native unit tests.

use crate::auth::scopes::{self, Role};
use crate::auth::{Credential, Principal};
use crate::platform::db::{Db, NativeDb};

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
