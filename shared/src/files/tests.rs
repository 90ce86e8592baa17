//! Native unit tests of the files area: the signed upload form, the
//! multipart parser, storage in chunks, who may download, and the
//! `Content-Disposition` of a Cyrillic name.

use serde_json::{json, Value as Json};

use super::*;
use crate::testutil::*;

fn principal(user_id: i64) -> Principal {
    user_principal(user_id, false)
}

/// A `multipart/form-data` body of text `fields` and, last, a file part
/// (`field`, file name, content type, bytes): its content type and bytes.
fn multipart(fields: &[(&str, &str)], file: (&str, &str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "----e2eBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    let (field, filename, content_type, data) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The signed fields of an upload form (`UploadParams` less `key` and
/// `direct_url`), which the SDK sends back.
const FORM_FIELDS: [&str; 7] = [
    "Content-Disposition",
    "acl",
    "policy",
    "x-amz-credential",
    "x-amz-algorithm",
    "x-amz-date",
    "x-amz-signature",
];

/// The form of `params` with `key` and a file, as the SDK sends it.
fn form(params: &Json, key: &str, filename: &str, data: &[u8]) -> (String, Vec<u8>) {
    let mut fields: Vec<(&str, &str)> = FORM_FIELDS
        .iter()
        .map(|name| (*name, params[*name].as_str().unwrap_or_default()))
        .collect();
    fields.push(("key", key));
    multipart(&fields, ("file", filename, "application/pdf", data))
}

#[test]
fn a_signed_form_uploads_a_file_that_its_uploader_and_readers_download() {
    let db = test_db();
    let ann = principal(create_user(&db, "ann@example.com", "user"));
    let params = upload_params(&db, &ann, "https://chat.test", MAX_FILE_BYTES).expect("params");
    for field in FORM_FIELDS.iter().chain(&["key", "direct_url"]) {
        assert!(params[field].is_string(), "{field} in {params}");
    }
    assert_eq!(
        params["direct_url"],
        "https://chat.test/api/shared/v1/direct_url"
    );
    let key = params["key"].as_str().expect("key").to_owned();
    assert!(
        key.starts_with(&format!("attaches/files/{}/", ann.user_id))
            && key.ends_with("/${filename}")
    );

    // Bytes across several chunks, with every byte value.
    let data: Vec<u8> = (0..600_000u32).map(|i| (i % 256) as u8).collect();
    let (ct, body) = form(&params, &key, "Отчёт за квартал.pdf", &data);
    let stored = upload(&db, &ct, &body).expect("uploaded");
    assert_eq!(stored, key.replace("${filename}", "Отчёт за квартал.pdf"));
    let chunks = db
        .query_row(
            "SELECT COUNT(*) FROM file_chunks WHERE file_key = ?",
            &[stored.clone().into()],
        )
        .expect("count")
        .expect("row");
    assert_eq!(chunks.i64(0).expect("n"), 3);
    let got = download(&db, &ann, &stored).expect("the uploader downloads");
    assert_eq!(
        (got.data == data, got.content_type.as_str()),
        (true, "application/pdf")
    );
    assert_eq!(got.name, "Отчёт за квартал.pdf");

    // Someone else sees it only once it is attached to a message they read.
    let bob = principal(create_user(&db, "bob@example.com", "user"));
    assert_eq!(
        download(&db, &bob, &stored).expect_err("not yet").status(),
        404
    );
    let chat = create_chat(&db, "Отчёты", &[ann.user_id, bob.user_id]);
    let message = crate::messages::input::parse_create(&json!({"message": {
        "entity_id": chat, "content": "Отчёт",
        "files": [{"key": stored, "name": "Отчёт за квартал.pdf", "file_type": "file", "size": data.len()}]}}), false)
    .expect("message");
    crate::messages::create(&db, &ann, &message, "").expect("posted");
    assert_eq!(
        download(&db, &bob, &stored)
            .expect("a reader downloads")
            .data,
        data
    );
    let eve = principal(create_user(&db, "eve@example.com", "user"));
    assert_eq!(
        download(&db, &eve, &stored)
            .expect_err("not a reader")
            .status(),
        404
    );
}

#[test]
fn forged_expired_and_stretched_forms_are_refused() {
    let db = test_db();
    let ann = principal(create_user(&db, "ann@example.com", "user"));
    let params = upload_params(&db, &ann, "", MAX_FILE_BYTES).expect("params");
    let key = params["key"].as_str().expect("key").to_owned();

    let mut forged = params.clone();
    forged["x-amz-signature"] = json!("0".repeat(64));
    let (ct, body) = form(&forged, &key, "a.txt", b"x");
    let e = upload(&db, &ct, &body).expect_err("forged");
    assert_eq!(
        (e.status(), e.body()["errors"][0]["key"].as_str()),
        (403, Some("x-amz-signature"))
    );

    // The policy said "this prefix": another user's folder is refused.
    let (ct, body) = form(&params, "attaches/files/1/other/${filename}", "a.txt", b"x");
    assert_eq!(
        upload(&db, &ct, &body)
            .expect_err("another prefix")
            .status(),
        403
    );

    // An hour and a second later the form is dead.
    let (ct, body) = form(&params, &key, "a.txt", b"x");
    let later = Timestamp(time::now().0 + (FORM_TTL_S + 1) * 1000);
    let e = upload_at(&db, &ct, &body, later).expect_err("expired");
    assert_eq!(
        (e.status(), e.body()["errors"][0]["key"].as_str()),
        (403, Some("policy"))
    );

    assert_eq!(
        upload(&db, "application/json", b"{}")
            .expect_err("not multipart")
            .status(),
        400
    );
    assert_eq!(
        upload(&db, &ct, b"garbage")
            .expect_err("no boundary in body")
            .status(),
        400
    );
}

#[test]
fn a_cyrillic_name_is_exact_in_content_disposition() {
    assert_eq!(
        content_disposition("Логотип для сайта.png"),
        "attachment; filename=\"_______ ___ _____.png\"; \
         filename*=UTF-8''%D0%9B%D0%BE%D0%B3%D0%BE%D1%82%D0%B8%D0%BF%20%D0%B4%D0%BB%D1%8F%20%D1%81%D0%B0%D0%B9%D1%82%D0%B0.png"
    );
    assert_eq!(
        content_disposition("a\"b.txt"),
        "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
    );
}

fn image_form(filename: &str, data: &[u8]) -> (String, Vec<u8>) {
    multipart(&[], ("image", filename, "image/png", data))
}

#[test]
fn an_avatar_is_an_image_served_at_the_users_image_url_until_removed() {
    let db = test_db();
    let ann = create_user(&db, "ann@example.com", "user");
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain(0..200u8)
        .collect();
    let (ct, body) = image_form("me.png", &png);
    let data = set_avatar(&db, ann, &ct, &body, "https://chat.test").expect("avatar");
    let url = data["image_url"].as_str().expect("image_url").to_owned();
    assert!(url.starts_with(&format!("https://chat.test/avatars/{ann}/")) && url.ends_with(".png"));
    let user = crate::users::get(&db, ann).expect("user");
    assert_eq!(user["image_url"], url.as_str());
    let key = url.trim_start_matches("https://chat.test/");
    let served = avatar(&db, key).expect("served");
    assert_eq!(
        (served.data == png, served.content_type.as_str()),
        (true, "image/png")
    );

    // A new one replaces it; the old address stops serving.
    let jpeg: Vec<u8> = b"\xff\xd8\xff\xe0".iter().copied().chain(0..50u8).collect();
    let (ct, body) = image_form("me.jpg", &jpeg);
    let second = set_avatar(&db, ann, &ct, &body, "").expect("replaced");
    assert!(second["image_url"].as_str().expect("url").ends_with(".jpg"));
    assert_eq!(avatar(&db, key).expect_err("old one gone").status(), 404);

    let (ct, body) = image_form("virus.exe", b"MZ\x90\x00 not an image");
    let e = set_avatar(&db, ann, &ct, &body, "").expect_err("not an image");
    assert_eq!(
        (e.status(), e.body()["errors"][0]["key"].as_str()),
        (422, Some("image"))
    );
    let (ct, body) = image_form(
        "huge.png",
        &[b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0; MAX_AVATAR_BYTES]].concat(),
    );
    assert_eq!(
        set_avatar(&db, ann, &ct, &body, "")
            .expect_err("too big")
            .status(),
        422
    );

    delete_avatar(&db, ann).expect("removed");
    assert!(crate::users::get(&db, ann).expect("user")["image_url"].is_null());
    let key = second["image_url"]
        .as_str()
        .expect("url")
        .trim_start_matches('/');
    assert_eq!(avatar(&db, key).expect_err("removed").status(), 404);
}

/// A 3×2 PNG: its signature and header chunk (the size is read from them).
fn png_3x2() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&3u32.to_be_bytes());
    png.extend_from_slice(&2u32.to_be_bytes());
    png.extend_from_slice(b"\x08\x06\x00\x00\x00\x00\x00\x00\x00");
    png
}

#[test]
fn an_uploaded_image_gives_its_width_and_height_to_the_messages_it_is_attached_to() {
    let db = test_db();
    let ann = principal(create_user(&db, "ann@example.com", "user"));
    let params = upload_params(&db, &ann, "https://chat.test", MAX_FILE_BYTES).expect("params");
    let key = params["key"].as_str().expect("key").to_owned();
    let (ct, body) = form(&params, &key, "схема.png", &png_3x2());
    let stored = upload(&db, &ct, &body).expect("uploaded");
    let chat = create_chat(&db, "Схемы", &[ann.user_id]);
    let post = |files: Json| {
        let m = crate::messages::input::parse_create(
            &json!({"message": {"entity_id": chat, "content": "Схема", "files": files}}),
            false,
        )
        .expect("message");
        crate::messages::create(&db, &ann, &m, "").expect("posted")
    };
    // The client sends no size: the stored image's is used.
    let m = post(json!([{"key": stored, "name": "схема.png", "file_type": "image", "size": 40}]));
    assert_eq!(
        (
            m["files"][0]["width"].clone(),
            m["files"][0]["height"].clone()
        ),
        (json!(3), json!(2))
    );
    // A size the client sends is kept as sent.
    let m = post(
        json!([{"key": stored, "name": "схема.png", "file_type": "image", "size": 40,
                         "width": 300, "height": 200}]),
    );
    assert_eq!(m["files"][0]["width"], 300);
    // A file that is not an image has none.
    let (ct, body) = form(&params, &key, "notes.txt", b"just text");
    let text = upload(&db, &ct, &body).expect("uploaded");
    let m = post(json!([{"key": text, "name": "notes.txt", "file_type": "file", "size": 9}]));
    assert_eq!(m["files"][0]["width"], Json::Null);
}

#[test]
fn the_operators_size_limit_is_signed_into_the_form() {
    let db = test_db();
    let ann = principal(create_user(&db, "ann@example.com", "user"));
    let params = upload_params(&db, &ann, "https://chat.test", 16).expect("params");
    let key = params["key"].as_str().expect("key").to_owned();
    let (ct, body) = form(&params, &key, "big.pdf", &[7u8; 17]);
    let e = upload(&db, &ct, &body).expect_err("over the limit");
    assert_eq!(
        (e.status(), e.body()["errors"][0]["code"].clone()),
        (400, json!("too_long"))
    );
    let (ct, body) = form(&params, &key, "small.pdf", &[7u8; 16]);
    upload(&db, &ct, &body).expect("at the limit");
}
