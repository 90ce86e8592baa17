//! Native unit tests of chat exports: the request's rules, the archive's
//! folders, days and fields by the guide (personal chats without content,
//! threads, reactions, deleted messages, `chats.json`), the zip, and the
//! signed link that serves it.

use serde_json::{json, Value as Json};

use crate::exports;
use crate::platform::db::Db;
use crate::testutil::*;

fn errors(body: Json) -> Vec<(String, String)> {
    error_items(&exports::parse(&body).expect_err("invalid"))
}

#[test]
fn a_request_follows_the_export_request_rules() {
    let ok = json!({"start_at": "2026-01-01", "end_at": "2026-02-14", "webhook_url": "https://hooks.example/x"});
    assert!(exports::parse(&ok).is_ok(), "45 days");
    let found =
        errors(json!({"start_at": "2026-01-01", "end_at": "2026-02-15", "webhook_url": "ftp://x"}));
    assert!(
        found.contains(&("end_at".into(), "invalid_date_range".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("webhook_url".into(), "invalid_webhook_url".into())),
        "{found:?}"
    );
    let named = json!({"start_at": "2026-01-01", "end_at": "2026-12-31", "webhook_url": "https://h.example",
                       "chat_ids": [1, 2]});
    assert!(exports::parse(&named).is_ok(), "a year for named chats");
    assert_eq!(
        errors(
            json!({"start_at": "2026-03-01", "end_at": "2026-02-01", "webhook_url": "https://h.example"})
        ),
        vec![("end_at".into(), "invalid_date_range".into())]
    );
    let blank = errors(json!({}));
    for key in ["start_at", "end_at", "webhook_url"] {
        assert!(blank.contains(&(key.into(), "blank".into())), "{blank:?}");
    }
    assert!(errors(json!({"start_at": "01.02.2026", "end_at": "2026-02-01", "webhook_url": "https://h.example"}))
        .contains(&("start_at".into(), "invalid".into())));
    assert_eq!(
        exports::parse(&json!([1]))
            .expect_err("not an object")
            .status(),
        400
    );
}

fn post(db: &dyn Db, user: i64, chat: i64, content: &str) -> i64 {
    let body = json!({"message": {"entity_id": chat, "content": content}});
    let input = crate::messages::input::parse_create(&body, false).expect("message");
    crate::messages::create(
        db,
        &user_principal(user, false),
        &input,
        "https://chat.example",
    )
    .expect("post")["id"]
        .as_i64()
        .expect("id")
}

#[test]
fn the_archive_has_a_folder_per_chat_a_file_per_day_and_the_guides_fields() {
    let db = test_db();
    let anna = create_user(&db, "anna@x.io", "user");
    db.execute(
        "UPDATE users SET first_name = 'Анна', last_name = 'Ли' WHERE id = ?",
        &[anna.into()],
    )
    .expect("name");
    let chat = create_chat(&db, "Проект Альфа", &[anna]);
    let first = post(&db, anna, chat, "Первое");
    let second = post(&db, 1, chat, "Второе");
    let gone = post(&db, anna, chat, "Удалю");
    crate::messages::delete(&db, &user_principal(anna, false), gone).expect("delete");
    crate::reactions::add(
        &db,
        &user_principal(1, false),
        first,
        &crate::reactions::ReactionInput {
            code: "👍".into(),
            name: None,
        },
    )
    .expect("react");
    let thread = crate::messages::threads::create_for_message(&db, &owner_principal(), first)
        .expect("thread");
    let thread_chat = thread["chat_id"].as_i64().expect("thread chat");
    let comment = post(&db, 1, thread_chat, "Комментарий");
    // The day before, in another file.
    db.execute(
        "UPDATE messages SET created_at = '2026-06-01T23:59:59.000Z' WHERE id = ?",
        &[second.into()],
    )
    .expect("date");
    let personal =
        crate::chats::find_or_create_personal_chat(&db, 1, anna, false).expect("personal");
    let secret = post(&db, 1, personal, "Личное");
    db.execute(
        "UPDATE messages SET created_at = '2026-06-02T10:00:00.000Z' WHERE id <> ?",
        &[second.into()],
    )
    .expect("date");
    let input = exports::parse(&json!({"start_at": "2026-06-01", "end_at": "2026-06-02",
                                       "webhook_url": "https://hooks.example/ready"}))
    .expect("valid");
    let id = exports::request(&db, &owner_principal(), &input).expect("request");
    let again = exports::request(&db, &owner_principal(), &input).expect_err("one at a time");
    assert_eq!(again.body()["errors"][0]["code"], "already_exists");

    let files = exports::files(&db, id).expect("files");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let dir = format!("Проект_Альфа_{chat}");
    let pdir = exports::folder(
        &crate::chats::load(&db, personal)
            .expect("load")
            .expect("chat")
            .name,
        personal,
    );
    let mut expected = vec![
        format!("{dir}/2026-06-01.json"),
        format!("{dir}/2026-06-02.json"),
        format!("{pdir}/2026-06-02.json"),
    ];
    expected.sort();
    expected.push("chats.json".into());
    assert_eq!(names, expected, "folders in name order, then chats.json");
    let read = |name: &str| -> Json {
        let (_, data) = files.iter().find(|(n, _)| n == name).expect("file");
        serde_json::from_slice(data).expect("json")
    };
    let day2 = read(&format!("{dir}/2026-06-02.json"));
    let ids: Vec<i64> = day2
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![first, gone, comment]);
    let m = &day2[0];
    assert_eq!(m["content"], "Первое");
    assert_eq!(m["thread_id"], thread["id"]);
    assert_eq!(m["reactions"][0]["code"], "👍");
    assert_eq!(m["reactions"][0]["user_id"], 1);
    assert_eq!(
        m["user"],
        json!({"id": anna, "role": "member", "name": "Анна", "last_name": "Ли",
                                "email": "anna@x.io", "tags": []})
    );
    assert_eq!(m["chat"]["id"], chat);
    assert_eq!(m["chat"]["personal"], false);
    assert_eq!(m["chat"]["owner"]["id"], 1);
    assert_eq!(m["thread"], Json::Null);
    assert_eq!(day2[1]["content"], "", "a deleted message has no content");
    assert!(day2[1]["deleted_at"].is_string());
    assert_eq!(day2[2]["thread"]["id"], thread["id"]);
    assert_eq!(day2[2]["thread"]["message_id"], first);
    assert_eq!(
        day2[2]["thread"]["message_chat_id"],
        json!(chat.to_string())
    );
    let private = read(&format!("{pdir}/2026-06-02.json"));
    assert_eq!(private[0]["id"], secret);
    assert_eq!(private[0]["content"], "", "personal chats without content");
    let chats = read("chats.json");
    let listed: Vec<i64> = chats
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, vec![chat, personal]);
    assert_eq!(chats[0]["members"].as_array().map(Vec::len), Some(2));

    // Built, stored, and served through a signed link only.
    exports::build(&db, id, None, false).expect("build");
    let link =
        exports::download_link(&db, &owner_principal(), id, "https://chat.example").expect("link");
    let url = url_parts(&link);
    let got = crate::files::download_signed(&db, &url.0, &url.1, &url.2).expect("download");
    assert_eq!(got.content_type, "application/zip");
    let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(got.data)).expect("zip");
    assert_eq!(archive.len(), 4);
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("chats.json").expect("entry"),
        &mut text,
    )
    .expect("read");
    assert_eq!(serde_json::from_str::<Json>(&text).expect("json"), chats);
    let forged = crate::files::download_signed(&db, &url.0, &url.1, "00").expect_err("forged");
    assert_eq!(forged.status(), 404);
    let expired = crate::files::download_signed(&db, &url.0, "1000", &url.2).expect_err("expired");
    assert_eq!(expired.status(), 404);
    let other = create_user(&db, "o@x.io", "admin");
    assert_eq!(
        exports::download_link(&db, &user_principal(other, false), id, "https://c.example")
            .expect_err("not theirs")
            .status(),
        404
    );
}

/// `(key, expires, signature)` of a signed link.
fn url_parts(link: &str) -> (String, String, String) {
    let (path, query) = link
        .trim_start_matches("https://chat.example/")
        .split_once('?')
        .expect("query");
    let q = crate::platform::http::Query::parse(query);
    let key = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .expect("utf-8")
        .into_owned();
    (
        key,
        q.get("expires").expect("expires").to_owned(),
        q.get("signature").expect("signature").to_owned(),
    )
}
