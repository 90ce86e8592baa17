//! Custom property definitions (for `User` and `Task`) and users' values.
//!
//! `GET /custom_properties?entity_type=User|Task` lists definitions; our
//! extension `POST /custom_properties` and `DELETE /custom_properties/{id}`
//! let the owner/admin define them. Values are validated by `data_type`.

use crate::auth::Principal;
use crate::platform::db::{json_rows_sql, transaction, Db};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::events::{self, Event};
use crate::platform::time::{self, Timestamp};
use crate::platform::validate::{self, Fields};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// `maxLength` of a property name.
pub const NAME_MAX: usize = 32;
/// `maxLength` of a property value.
pub const VALUE_MAX: usize = 768;
/// Entity types (`SearchEntityType`).
pub const ENTITY_TYPES: &[&str] = &["User", "Task"];
/// Data types (`CustomPropertyDataType`).
pub const DATA_TYPES: &[&str] = &["string", "number", "date", "link"];

/// Validated definition request `{"custom_property": {"entity_type", "name", "data_type"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionInput {
    /// `User` or `Task`.
    pub entity_type: &'static str,
    /// Display name.
    pub name: String,
    /// Value type.
    pub data_type: &'static str,
}

/// Validates a definition request body.
pub fn parse_definition(body: &Json) -> Result<DefinitionInput> {
    let obj = validate::wrapper(body, "custom_property")?;
    let mut f = Fields::new(obj, "");
    let name = f.required_string("name", Some(NAME_MAX));
    let entity_type = f.enumeration("entity_type", ENTITY_TYPES);
    if !f.present("entity_type") {
        f.fail("entity_type", ErrorCode::Blank, None, "can't be blank");
    }
    let data_type = f.enumeration("data_type", DATA_TYPES);
    if !f.present("data_type") {
        f.fail("data_type", ErrorCode::Blank, None, "can't be blank");
    }
    f.finish()?;
    match (entity_type, name, data_type) {
        (Some(entity_type), Some(name), Some(data_type)) => Ok(DefinitionInput {
            entity_type,
            name,
            data_type,
        }),
        _ => Err(Error::invalid(
            "custom_property",
            ErrorCode::Blank,
            None,
            "can't be blank",
        )),
    }
}

/// Parses the required `entity_type` query parameter (400 otherwise).
pub fn parse_entity_type(raw: Option<&str>) -> Result<&'static str> {
    match raw {
        None | Some("") => Err(Error::bad_request(
            "entity_type",
            ErrorCode::Required,
            None,
            "Parameter 'entity_type' is required",
        )),
        Some(s) => ENTITY_TYPES
            .iter()
            .find(|t| **t == s)
            .copied()
            .ok_or_else(|| {
                Error::bad_request(
                    "entity_type",
                    ErrorCode::Inclusion,
                    Some(s.to_owned()),
                    "must be User or Task",
                )
            }),
    }
}

fn render_definition(r: &crate::platform::db::Row) -> Result<Json> {
    Ok(json!({"id": r.i64(0)?, "name": r.string(1)?, "data_type": r.string(2)?}))
}

/// Live definitions of an entity type, by id.
pub fn list(db: &dyn Db, entity_type: &str) -> Result<Vec<Json>> {
    db.query(
        "SELECT id, name, data_type FROM custom_property_definitions \
         WHERE entity_type = ? AND deleted_at IS NULL ORDER BY id",
        &[entity_type.into()],
    )?
    .iter()
    .map(render_definition)
    .collect()
}

fn require_manager(actor: &Principal) -> Result<()> {
    actor.require_manager(
        "custom_property",
        "Only the owner or an admin can define custom properties",
    )
}

fn def_event(db: &dyn Db, actor: &Principal, id: i64, event: &str) -> Result<()> {
    events::record(
        db,
        &Event {
            kind: events::CUSTOM_PROPERTY,
            event,
            entity_type: "CustomProperty",
            entity_id: id,
            actor: Some(actor.user_id),
            payload: json!({"custom_property_id": id}),
        },
    )?;
    Ok(())
}

/// Defines a property (extension, owner/admin).
pub fn define(db: &dyn Db, actor: &Principal, input: &DefinitionInput) -> Result<Json> {
    require_manager(actor)?;
    transaction(db, |db| -> Result<Json> {
        if db
            .query_row(
                "SELECT 1 FROM custom_property_definitions WHERE entity_type = ? AND name = ? COLLATE NOCASE \
                 AND deleted_at IS NULL",
                &[input.entity_type.into(), input.name.clone().into()],
            )?
            .is_some()
        {
            return Err(Error::invalid("name", ErrorCode::Taken, Some(input.name.clone()), "has already been taken"));
        }
        db.execute(
            "INSERT INTO custom_property_definitions (entity_type, name, data_type, created_at) VALUES (?, ?, ?, ?)",
            &[
                input.entity_type.into(),
                input.name.clone().into(),
                input.data_type.into(),
                time::now().to_string().into(),
            ],
        )?;
        let id = db.last_insert_rowid();
        def_event(db, actor, id, "create")?;
        Ok(
            json!({"id": id, "name": input.name, "data_type": input.data_type, "entity_type": input.entity_type}),
        )
    })
}

/// Removes a definition (extension, owner/admin); its values disappear from users.
pub fn remove(db: &dyn Db, actor: &Principal, id: i64) -> Result<()> {
    require_manager(actor)?;
    transaction(db, |db| -> Result<()> {
        db.execute(
            "UPDATE custom_property_definitions SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
            &[time::now().to_string().into(), id.into()],
        )?;
        if db.changes() == 0 {
            return Err(Error::not_found("id", id));
        }
        db.execute(
            "DELETE FROM user_custom_property_values WHERE property_id = ?",
            &[id.into()],
        )?;
        def_event(db, actor, id, "delete")
    })
}

fn value_ok(data_type: &str, v: &str) -> bool {
    match data_type {
        "number" => v.parse::<f64>().is_ok_and(f64::is_finite),
        "date" => Timestamp::parse(v).is_some(),
        "link" => {
            let rest = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"));
            rest.is_some_and(|r| !r.is_empty() && !r.chars().any(char::is_whitespace))
        }
        _ => true,
    }
}

/// Reads the `custom_properties` field of a create or update body (users
/// and tasks alike): `[{"id", "value"}]`, an empty value clearing the
/// property; `None` when the field is absent.
pub fn parse_values(f: &mut Fields<'_>) -> Option<Vec<(i64, String)>> {
    let items = f.array("custom_properties")?;
    {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("custom_properties.{i}");
            let Some(o) = item.as_object() else {
                f.fail(
                    &key,
                    ErrorCode::Invalid,
                    validate::show(item),
                    "must be an object",
                );
                continue;
            };
            let mut cf = Fields::new(o, &f.key(&key));
            let id = if cf.present("id") {
                cf.i64("id")
            } else {
                cf.fail("id", ErrorCode::Blank, None, "can't be blank");
                None
            };
            let value = match cf.string("value", Some(VALUE_MAX)) {
                Some(v) => Some(v),
                None if !cf.present("value") => {
                    cf.fail("value", ErrorCode::Blank, None, "can't be blank");
                    None
                }
                None => None,
            };
            let failed = cf.has_errors();
            if let Err(Error::Unprocessable(errs)) = cf.finish() {
                for e in errs {
                    f.push(e);
                }
            }
            if let (false, Some(id), Some(value)) = (failed, id, value) {
                out.push((id, value));
            }
        }
        Some(out)
    }
}

/// Checks property values against the live definitions of `entity`.
/// Returns `(id, Some(value))` to store or `(id, None)` to clear (empty
/// value).
pub fn validate_values(
    db: &dyn Db,
    entity: &Entity,
    values: &[(i64, String)],
) -> Result<Vec<(i64, Option<String>)>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, (id, value)) in values.iter().enumerate() {
        let def = db.query_row(
            "SELECT data_type FROM custom_property_definitions WHERE id = ? AND entity_type = ? AND deleted_at IS NULL",
            &[(*id).into(), entity.entity_type.into()],
        )?;
        let Some(def) = def else {
            errors.push(
                FieldError::new(
                    format!("custom_properties.{i}.id"),
                    ErrorCode::NotFound,
                    Some(id.to_string()),
                    "Custom property not found",
                )
                .with_payload(json!({"id": id})),
            );
            continue;
        };
        if value.is_empty() {
            out.push((*id, None));
            continue;
        }
        let data_type = def.string(0)?;
        if !value_ok(&data_type, value) {
            errors.push(
                FieldError::new(
                    format!("custom_properties.{i}.value"),
                    ErrorCode::Invalid,
                    Some(value.clone()),
                    format!("is not a valid {data_type}"),
                )
                .with_payload(json!({"id": id})),
            );
            continue;
        }
        out.push((*id, Some(value.clone())));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Unprocessable(errors))
    }
}

/// An entity type with custom properties and the table of its values.
#[derive(Debug)]
pub struct Entity {
    /// `User` or `Task`, as in `custom_property_definitions`.
    pub entity_type: &'static str,
    /// The table of values.
    table: &'static str,
    /// Its column naming the entity.
    owner: &'static str,
}

/// Users' properties.
pub const USER: Entity = Entity {
    entity_type: "User",
    table: "user_custom_property_values",
    owner: "user_id",
};

/// Tasks' properties.
pub const TASK: Entity = Entity {
    entity_type: "Task",
    table: "task_custom_property_values",
    owner: "task_id",
};

/// Stores validated values of `entity` `id` (inside the caller's transaction).
pub fn store_values(
    db: &dyn Db,
    entity: &Entity,
    id: i64,
    values: &[(i64, Option<String>)],
) -> Result<()> {
    let (table, owner) = (entity.table, entity.owner);
    for (property, value) in values {
        match value {
            Some(v) => db.execute(
                &format!(
                    "INSERT INTO {table} ({owner}, property_id, value) VALUES (?, ?, ?) \
                     ON CONFLICT ({owner}, property_id) DO UPDATE SET value = excluded.value"
                ),
                &[id.into(), (*property).into(), v.clone().into()],
            )?,
            None => db.execute(
                &format!("DELETE FROM {table} WHERE {owner} = ? AND property_id = ?"),
                &[id.into(), (*property).into()],
            )?,
        };
    }
    Ok(())
}

/// The `custom_properties` of one object: every definition, in order, with
/// the object's value (`null` when unset).
fn render(defs: &[(i64, String, String)], value: impl Fn(i64) -> Option<String>) -> Vec<Json> {
    defs.iter()
        .map(|(id, name, data_type)| {
            json!({"id": id, "name": name, "data_type": data_type, "value": value(*id)})
        })
        .collect()
}

/// Two columns for a query over `{table}` (`users`, `tasks`) that reads
/// `entity`'s properties with each row: the live definitions (the same for
/// every row) and the row's values, as [`json_rows_sql`] arrays that
/// [`from_columns`] renders. The rendering query reads them with its rows
/// instead of two queries of their own.
pub fn columns_sql(entity: &Entity, table: &str) -> String {
    let defs = json_rows_sql(
        &["id", "name", "data_type"],
        &format!(
            "FROM custom_property_definitions WHERE entity_type = '{}' AND deleted_at IS NULL",
            entity.entity_type
        ),
    );
    let values = json_rows_sql(
        &["property_id", "value"],
        &format!(
            "FROM {} v WHERE v.{} = {table}.id",
            entity.table, entity.owner
        ),
    );
    format!("{defs}, {values}")
}

/// The `custom_properties` rendered from the two columns of
/// [`columns_sql`].
pub fn from_columns(defs: &str, values: &str) -> Result<Vec<Json>> {
    let parse = |text: &str| -> Result<Vec<Json>> {
        serde_json::from_str(text)
            .map_err(|e| Error::Internal(format!("custom properties column: {e}")))
    };
    let mut defs = parse(defs)?
        .iter()
        .map(|d| {
            let id = d[0].as_i64();
            let text = |i: usize| d[i].as_str().map(str::to_owned);
            match (id, text(1), text(2)) {
                (Some(id), Some(name), Some(data_type)) => Ok((id, name, data_type)),
                _ => Err(Error::Internal(format!("custom property definition {d}"))),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    defs.sort_by_key(|(id, _, _)| *id);
    let values: HashMap<i64, String> = parse(values)?
        .iter()
        .filter_map(|v| Some((v[0].as_i64()?, v[1].as_str()?.to_owned())))
        .collect();
    Ok(render(&defs, |pid| values.get(&pid).cloned()))
}
