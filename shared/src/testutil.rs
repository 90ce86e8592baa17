//! Fixtures for the native unit tests.

use crate::auth::{Credential, Principal};
use crate::db::{Db, NativeDb};
use crate::scopes::{self, Role};

/// Admin token configured in tests.
pub const ADMIN: &str = "admin-secret";

/// Fresh migrated in-memory database.
pub fn test_db() -> NativeDb {
    let db = NativeDb::open_in_memory().expect("open");
    crate::migrate::migrate(&db).expect("migrate");
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

/// Principal for an existing user with every scope its role allows.
pub fn principal_for(db: &dyn Db, id: i64) -> Principal {
    let u = crate::users::load(db, id, "id").expect("user");
    Principal {
        user_id: id,
        role: u.role,
        bot: u.bot,
        scopes: scopes::allowed_for(u.role, u.bot),
        credential: Credential::AdminToken,
    }
}

/// Creates a user with the given e-mail and role, returning its id.
pub fn create_user(db: &dyn Db, email: &str, role: &str) -> i64 {
    let body = serde_json::json!({"user": {"email": email, "role": role, "first_name": "Test"}});
    let input = crate::users::parse_input(&body, true).expect("valid input");
    let user = crate::users::create(db, &owner_principal(), input).expect("create");
    user["id"].as_i64().expect("id")
}
