//! Who a broadcast reaches: a union of users, group tags, departments and
//! roles (or everyone), minus exclusions of the same kinds, resolved by one
//! SQL statement and frozen into `broadcast_recipients`.
//!
//! Never recipients: bots, suspended and deleted users, and the sender (a
//! message to oneself is not a broadcast). Invited users who have not yet
//! accepted are employees and do receive it.

use crate::platform::db::{Db, Value};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::validate::{show, Fields};
use serde_json::{json, Map, Value as Json};

/// Values of `roles` (the spec's `UserRole`; `admin` includes the owner).
pub const ROLES: &[&str] = &["admin", "user", "multi_guest", "guest"];

/// Most entries in one list of an audience.
pub const LIST_MAX: usize = 10_000;

/// One side of an audience: the users it names, in any of the ways.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Every eligible user (inclusion only).
    pub everyone: bool,
    /// Users by id.
    pub user_ids: Vec<i64>,
    /// Users holding any of these group tags.
    pub group_tag_ids: Vec<i64>,
    /// Users whose `department` is one of these (exact text).
    pub departments: Vec<String>,
    /// Users with one of these roles ([`ROLES`]).
    pub roles: Vec<String>,
}

impl Selection {
    /// Whether it names nobody.
    pub fn is_empty(&self) -> bool {
        !self.everyone
            && self.user_ids.is_empty()
            && self.group_tag_ids.is_empty()
            && self.departments.is_empty()
            && self.roles.is_empty()
    }

    /// As rendered (`everyone` only on the inclusion side).
    pub fn to_json(&self, inclusion: bool) -> Json {
        let mut v = json!({
            "user_ids": self.user_ids,
            "group_tag_ids": self.group_tag_ids,
            "departments": self.departments,
            "roles": self.roles,
        });
        if inclusion {
            v["everyone"] = json!(self.everyone);
        }
        v
    }

    /// Reads a stored selection back ([`Selection::to_json`]).
    pub fn from_json(v: &Json) -> Selection {
        let ids = |k: &str| -> Vec<i64> {
            v[k].as_array()
                .map(|a| a.iter().filter_map(Json::as_i64).collect())
                .unwrap_or_default()
        };
        let texts = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Selection {
            everyone: v["everyone"].as_bool().unwrap_or(false),
            user_ids: ids("user_ids"),
            group_tag_ids: ids("group_tag_ids"),
            departments: texts("departments"),
            roles: texts("roles"),
        }
    }

    /// The SQL condition on `u` (a `users` row) that this selection names,
    /// with its parameters; `None` when it names nobody.
    fn condition(&self) -> Option<(String, Vec<Value>)> {
        if self.everyone {
            return Some(("1 = 1".into(), Vec::new()));
        }
        let mut parts = Vec::new();
        let mut params = Vec::new();
        if !self.user_ids.is_empty() {
            parts.push("u.id IN (SELECT value FROM json_each(?))");
            params.push(Value::id_array(&self.user_ids));
        }
        if !self.group_tag_ids.is_empty() {
            parts.push(
                "u.id IN (SELECT user_id FROM group_tag_users \
                 WHERE group_tag_id IN (SELECT value FROM json_each(?)))",
            );
            params.push(Value::id_array(&self.group_tag_ids));
        }
        if !self.departments.is_empty() {
            parts.push("u.department IN (SELECT value FROM json_each(?))");
            params.push(Value::Text(json!(self.departments).to_string()));
        }
        if !self.roles.is_empty() {
            let mut stored = self.roles.clone();
            if stored.iter().any(|r| r == "admin") {
                stored.push("owner".into());
            }
            parts.push("u.role IN (SELECT value FROM json_each(?))");
            params.push(Value::Text(json!(stored).to_string()));
        }
        (!parts.is_empty()).then(|| (format!("({})", parts.join(" OR ")), params))
    }
}

/// A broadcast's audience: whom it includes and whom it excludes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Audience {
    /// The union of these receives it...
    pub include: Selection,
    /// ...unless named here.
    pub exclude: Selection,
}

impl Audience {
    /// `{"audience": {...}, "exclude": {...}}` as rendered and stored.
    pub fn to_json(&self) -> Json {
        json!({"audience": self.include.to_json(true), "exclude": self.exclude.to_json(false)})
    }

    /// Reads a stored audience back.
    pub fn from_json(v: &Json) -> Audience {
        Audience {
            include: Selection::from_json(&v["audience"]),
            exclude: Selection::from_json(&v["exclude"]),
        }
    }

    /// `SELECT u.id FROM users u WHERE ...`: the eligible users it names
    /// (see the module doc), with its parameters.
    fn select(&self, sender: i64) -> (String, Vec<Value>) {
        let mut sql = String::from(
            "SELECT u.id FROM users u WHERE u.bot = 0 AND u.suspended = 0 \
             AND u.deleted_at IS NULL AND u.id <> ?",
        );
        let mut params = vec![Value::from(sender)];
        match self.include.condition() {
            Some((cond, p)) => {
                sql.push_str(" AND ");
                sql.push_str(&cond);
                params.extend(p);
            }
            None => sql.push_str(" AND 1 = 0"),
        }
        if let Some((cond, p)) = self.exclude.condition() {
            sql.push_str(" AND NOT ");
            sql.push_str(&cond);
            params.extend(p);
        }
        (sql, params)
    }

    /// How many users it names now.
    pub fn count(&self, db: &dyn Db, sender: i64) -> Result<i64> {
        let (select, params) = self.select(sender);
        Ok(db
            .query_row(&format!("SELECT count(*) FROM ({select}) a"), &params)?
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0))
    }

    /// Freezes it: one `broadcast_recipients` row per user it names now.
    /// Returns how many. Call inside the broadcast's transaction.
    pub fn freeze(&self, db: &dyn Db, broadcast_id: i64, sender: i64) -> Result<i64> {
        let (select, mut params) = self.select(sender);
        params.insert(0, broadcast_id.into());
        db.execute(
            &format!(
                "INSERT INTO broadcast_recipients (broadcast_id, user_id) SELECT ?, a.id FROM ({select}) a"
            ),
            &params,
        )?;
        Ok(db
            .query_row(
                "SELECT count(*) FROM broadcast_recipients WHERE broadcast_id = ?",
                &[broadcast_id.into()],
            )?
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(0))
    }

    /// 422 `not_found` on `audience.user_ids` (and the other id lists) for
    /// ids that name no user or tag, all of them listed in the payload
    /// (`{"ids": [...]}`), as a client fixing its list needs.
    pub fn check_ids(&self, db: &dyn Db) -> Result<()> {
        let mut errors = Vec::new();
        for (side, s) in [("audience", &self.include), ("exclude", &self.exclude)] {
            let users = missing(
                db,
                "SELECT value FROM json_each(?) j WHERE NOT EXISTS \
                 (SELECT 1 FROM users u WHERE u.id = j.value AND u.deleted_at IS NULL)",
                &s.user_ids,
            )?;
            if let Some(e) = not_found(&format!("{side}.user_ids"), &users, "Users not found") {
                errors.push(e);
            }
            let tags = missing(
                db,
                "SELECT value FROM json_each(?) j WHERE NOT EXISTS \
                 (SELECT 1 FROM group_tags g WHERE g.id = j.value)",
                &s.group_tag_ids,
            )?;
            if let Some(e) = not_found(
                &format!("{side}.group_tag_ids"),
                &tags,
                "Group tags not found",
            ) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Unprocessable(errors))
        }
    }
}

fn missing(db: &dyn Db, sql: &str, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    db.query(sql, &[Value::id_array(ids)])?
        .iter()
        .map(|r| r.i64(0).map_err(Error::from))
        .collect()
}

fn not_found(key: &str, ids: &[i64], message: &str) -> Option<FieldError> {
    let first = ids.first()?;
    Some(
        FieldError::new(key, ErrorCode::NotFound, Some(first.to_string()), message)
            .with_payload(json!({ "ids": ids })),
    )
}

/// Reads one side (`audience` or `exclude`) of a broadcast body into `f`.
pub fn parse_selection(
    f: &mut Fields<'_>,
    obj: &Map<String, Json>,
    key: &str,
    inclusion: bool,
) -> Selection {
    let sub = match obj.get(key) {
        None | Some(Json::Null) => return Selection::default(),
        Some(Json::Object(m)) => m,
        Some(other) => {
            f.fail(key, ErrorCode::Invalid, show(other), "must be an object");
            return Selection::default();
        }
    };
    let mut g = Fields::new(sub, &f.key(key));
    let everyone = if inclusion {
        g.bool("everyone").unwrap_or(false)
    } else {
        if g.present("everyone") {
            g.fail(
                "everyone",
                ErrorCode::NotApplicable,
                None,
                "everyone can only be included",
            );
        }
        false
    };
    let ids = |g: &mut Fields<'_>, k: &str| -> Vec<i64> {
        let list = g.int_array(k).unwrap_or_default();
        if list.len() > LIST_MAX {
            g.fail(
                k,
                ErrorCode::TooLong,
                None,
                &format!("at most {LIST_MAX} entries"),
            );
        }
        if let Some(bad) = list.iter().find(|id| **id <= 0) {
            g.fail(
                k,
                ErrorCode::Invalid,
                Some(bad.to_string()),
                "ids are positive integers",
            );
        }
        let mut list = list;
        list.sort_unstable();
        list.dedup();
        list
    };
    let user_ids = ids(&mut g, "user_ids");
    let group_tag_ids = ids(&mut g, "group_tag_ids");
    let departments = g.string_array("departments", Some(255)).unwrap_or_default();
    let roles = g.string_array("roles", None).unwrap_or_default();
    for (i, r) in roles.iter().enumerate() {
        if !ROLES.contains(&r.as_str()) {
            g.fail(
                &format!("roles.{i}"),
                ErrorCode::Inclusion,
                Some(r.clone()),
                "must be one of admin, user, multi_guest, guest",
            );
        }
    }
    for e in g.into_errors() {
        f.push(e);
    }
    Selection {
        everyone,
        user_ids,
        group_tag_ids,
        departments,
        roles,
    }
}
