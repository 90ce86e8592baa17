//! File uploads and downloads (`api/file-uploads.md`), so that the official
//! SDK's `files.get_upload_params` and `files.upload_file` work unchanged.
//!
//! 1. `POST /uploads` answers an upload form in S3's shape, pointing at our
//!    own `POST /direct_url`: a key `attaches/files/{user}/{uuid}/${filename}`
//!    and a base64 JSON `policy` (expiry in [`FORM_TTL_S`], the key's prefix,
//!    the size limit [`MAX_FILE_BYTES`]) signed with a secret of this server
//!    (`x-amz-signature` = hex HMAC-SHA256 of the policy; the secret is made
//!    on first use and kept in the database).
//! 2. `POST /direct_url` takes the `multipart/form-data` form with no token:
//!    the signature must match (403 otherwise: a forged or altered form),
//!    the policy must not have expired (403), the key must keep the
//!    policy's prefix (403, a condition of the signed policy, as S3 answers
//!    it) and the file must be there and fit the limit (400: the statuses
//!    the spec and `api/file-uploads.md` document for it). The file is
//!    stored under the key with `${filename}` replaced by the uploaded
//!    file's name, in chunks of [`CHUNK_BYTES`] in one transaction; 204.
//! 3. The key is attached to a message as the guide shows; the message's
//!    file `url` (`{origin}/{key}`) serves it: `GET /attaches/...` with a
//!    token (`files:read`), to the uploader and to whoever reads a message
//!    the file is attached to (404 to anyone else), with its
//!    `Content-Type`, `Content-Length` and a `Content-Disposition` whose
//!    `filename*` carries a Cyrillic name exactly (RFC 6266 / 5987).
//!
//! The multipart parser is written here: the body is already whole in
//! memory (a component receives it so, up to the host's body limit, 10 MiB
//! by default), the form is flat and one level deep, and the crates that
//! parse multipart (`multer`, `multipart`) are built for streaming servers
//! and tokio or old `hyper`; this one is under 80 lines and fuzzable.

pub mod routes;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;

use crate::auth::Principal;
use crate::platform::db::{transaction, Db, Value};
use crate::platform::error::{Error, ErrorCode, FieldError, Result};
use crate::platform::random;
use crate::platform::time::{self, Timestamp};

/// How long an upload form is good for.
pub const FORM_TTL_S: i64 = 3_600;
/// The largest file accepted unless the `max_file_bytes` variable says
/// otherwise (the form's signed policy carries the limit).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Bytes per stored chunk.
const CHUNK_BYTES: usize = 256 * 1024;
/// The key's placeholder for the file's name.
const FILENAME: &str = "${filename}";

/// The server's upload secret, made on first use.
fn secret(db: &dyn Db) -> Result<String> {
    if let Some(r) = db.query_row("SELECT secret FROM upload_secrets WHERE id = 1", &[])? {
        return Ok(r.string(0)?);
    }
    let fresh = hex::encode(random::bytes::<32>()?);
    db.execute(
        "INSERT INTO upload_secrets (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
        &[fresh.into()],
    )?;
    Ok(db
        .query_row("SELECT secret FROM upload_secrets WHERE id = 1", &[])?
        .ok_or_else(|| Error::Internal("upload secret missing".into()))?
        .string(0)?)
}

fn sign(secret: &str, policy: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(policy.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// `yyyymmddThhmmssZ` of a time (S3's `x-amz-date`).
fn amz_date(t: Timestamp) -> String {
    let iso = t.to_string(); // 2026-12-03T10:00:00.000Z
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    format!("{}T{}Z", &digits[..8], &digits[8..14])
}

/// The `POST /uploads` answer (`UploadParams`), valid for [`FORM_TTL_S`].
pub fn upload_params(db: &dyn Db, p: &Principal, origin: &str, max_bytes: usize) -> Result<Json> {
    let now = time::now();
    let uuid = random::uuid()?;
    let prefix = format!("attaches/files/{}/{uuid}/", p.user_id);
    let date = amz_date(now);
    let credential = format!("{}_server/{}/local/s3/aws4_request", p.user_id, &date[..8]);
    let policy = json!({
        "expiration": Timestamp(now.0 + FORM_TTL_S * 1000).to_string(),
        "conditions": [
            {"acl": "private"},
            ["starts-with", "$key", prefix],
            {"Content-Disposition": "attachment"},
            {"x-amz-credential": credential},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-date": date},
            ["content-length-range", 0, max_bytes],
        ],
    });
    let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    Ok(json!({
        "Content-Disposition": "attachment",
        "acl": "private",
        "policy": policy,
        "x-amz-credential": credential,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-date": date,
        "x-amz-signature": sign(&secret(db)?, &policy),
        "key": format!("{prefix}{FILENAME}"),
        "direct_url": format!("{origin}/api/shared/v1/direct_url"),
    }))
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The field's name.
    pub name: String,
    /// The uploaded file's name, for a file part.
    pub filename: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// A header parameter (`name="..."`) of a `Content-Disposition` line.
fn parameter(line: &str, key: &str) -> Option<String> {
    let needle = format!("{key}=\"");
    let at = line
        .match_indices(&needle)
        .find(|(i, _)| *i == 0 || line.as_bytes()[i - 1] == b' ' || line.as_bytes()[i - 1] == b';')?
        .0;
    let rest = &line[at + needle.len()..];
    rest.find('"').map(|end| rest[..end].replace("%22", "\""))
}

fn bad(message: &str) -> Error {
    Error::bad_request("file", ErrorCode::Invalid, None, message)
}

/// Parses a `multipart/form-data` body with the boundary of `content_type`.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && content_type.trim_start().starts_with("multipart/form-data"))
        .ok_or_else(|| bad("The body must be multipart/form-data with a boundary"))?;
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |haystack: &[u8], from: usize, needle: &[u8]| -> Option<usize> {
        haystack
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let mut at =
        find(body, 0, &delimiter).ok_or_else(|| bad("No multipart boundary in the body"))?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        let head_start = at + 2; // the CRLF after the boundary
        let head_end =
            find(body, head_start, b"\r\n\r\n").ok_or_else(|| bad("A part has no headers"))?;
        let head = std::str::from_utf8(&body[head_start..head_end])
            .map_err(|_| bad("A part's headers are not UTF-8"))?;
        let mut delimiter_line = b"\r\n".to_vec();
        delimiter_line.extend_from_slice(&delimiter);
        let end =
            find(body, head_end + 4, &delimiter_line).ok_or_else(|| bad("A part does not end"))?;
        let (mut name, mut filename, mut content_type) = (None, None, None);
        for line in head.split("\r\n") {
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            if key.eq_ignore_ascii_case("content-disposition") {
                name = parameter(value, "name");
                filename = parameter(value, "filename");
            } else if key.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
        parts.push(Part {
            name: name.ok_or_else(|| bad("A part has no name"))?,
            filename,
            content_type,
            data: body[head_end + 4..end].to_vec(),
        });
        at = end + 2;
    }
}

fn field<'a>(parts: &'a [Part], name: &str) -> Option<&'a str> {
    parts
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name) && p.filename.is_none())
        .and_then(|p| std::str::from_utf8(&p.data).ok())
}

fn refused(key: &str, message: &str) -> Error {
    Error::forbidden(key, ErrorCode::Forbidden, message)
}

/// `POST /direct_url`: checks the signed form and stores the file.
pub fn upload(db: &dyn Db, content_type: &str, body: &[u8]) -> Result<String> {
    upload_at(db, content_type, body, time::now())
}

fn upload_at(db: &dyn Db, content_type: &str, body: &[u8], now: Timestamp) -> Result<String> {
    let parts = parse_multipart(content_type, body)?;
    let policy =
        field(&parts, "policy").ok_or_else(|| refused("policy", "The form has no policy"))?;
    let signature = field(&parts, "x-amz-signature").unwrap_or_default();
    let expected = sign(&secret(db)?, policy);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        signature.as_bytes(),
        expected.as_bytes(),
    )) {
        return Err(refused(
            "x-amz-signature",
            "The form's signature does not match",
        ));
    }
    let decoded: Json = base64::engine::general_purpose::STANDARD
        .decode(policy)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| refused("policy", "The policy is unreadable"))?;
    let expires = decoded["expiration"].as_str().and_then(Timestamp::parse);
    if expires.is_none_or(|e| e.0 < now.0) {
        return Err(refused("policy", "The upload form has expired"));
    }
    let conditions = decoded["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let prefix = conditions
        .iter()
        .find(|c| c[0] == "starts-with" && c[1] == "$key")
        .and_then(|c| c[2].as_str())
        .unwrap_or_default()
        .to_owned();
    let max = conditions
        .iter()
        .find(|c| c[0] == "content-length-range")
        .and_then(|c| c[2].as_u64())
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(MAX_FILE_BYTES);
    let key = field(&parts, "key").unwrap_or_default();
    if prefix.is_empty() || !key.starts_with(&prefix) {
        return Err(refused(
            "key",
            "The key must keep the prefix the form was signed for",
        ));
    }
    let file = parts
        .iter()
        .rfind(|p| p.name == "file")
        .ok_or_else(|| Error::bad_request("file", ErrorCode::Blank, None, "can't be blank"))?;
    if file.data.len() > max {
        return Err(Error::bad_request(
            "file",
            ErrorCode::TooLong,
            None,
            &format!("is too large (maximum is {max} bytes)"),
        ));
    }
    let filename = file
        .filename
        .clone()
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| Error::bad_request("file", ErrorCode::Invalid, None, "has no file name"))?;
    let stored_key = key.replace(FILENAME, &filename);
    let user_id: i64 = prefix
        .split('/')
        .nth(2)
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| refused("policy", "The policy names no uploader"))?;
    let content_type = file
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    transaction(db, |db| -> Result<()> {
        db.execute(
            "DELETE FROM files WHERE file_key = ?",
            &[stored_key.clone().into()],
        )?;
        store(
            db,
            &stored_key,
            user_id,
            &filename,
            &content_type,
            &file.data,
            now,
        )
    })?;
    Ok(stored_key)
}

/// Stores a file's row and its bytes in chunks of [`CHUNK_BYTES`], and an
/// image's width and height (inside the caller's transaction).
pub fn store(
    db: &dyn Db,
    key: &str,
    user_id: i64,
    name: &str,
    content_type: &str,
    data: &[u8],
    now: Timestamp,
) -> Result<()> {
    db.execute(
        "INSERT INTO files (file_key, user_id, name, content_type, size, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        &[
            key.into(),
            user_id.into(),
            name.into(),
            content_type.into(),
            i64::try_from(data.len()).unwrap_or(i64::MAX).into(),
            now.to_string().into(),
        ],
    )?;
    // An image's pixel size, read from its header (PNG, JPEG, GIF, WebP
    // and the other formats `imagesize` knows); nothing for other files.
    if let Ok(size) = imagesize::blob_size(data) {
        if let (Ok(w), Ok(h)) = (i64::try_from(size.width), i64::try_from(size.height)) {
            db.execute(
                "INSERT INTO file_images (file_key, width, height) VALUES (?, ?, ?) \
                 ON CONFLICT (file_key) DO UPDATE SET width = excluded.width, height = excluded.height",
                &[key.into(), w.into(), h.into()],
            )?;
        }
    }
    for (seq, chunk) in data.chunks(CHUNK_BYTES).enumerate() {
        db.execute(
            "INSERT INTO file_chunks (file_key, seq, data) VALUES (?, ?, ?)",
            &[
                key.into(),
                i64::try_from(seq).unwrap_or(i64::MAX).into(),
                Value::Blob(chunk.to_vec()),
            ],
        )?;
    }
    Ok(())
}

/// A stored file's bytes, its chunks in order.
fn read(db: &dyn Db, key: &str) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    for chunk in db.query(
        "SELECT data FROM file_chunks WHERE file_key = ? ORDER BY seq",
        &[key.into()],
    )? {
        match chunk.0.first() {
            Some(Value::Blob(b)) => data.extend_from_slice(b),
            _ => return Err(Error::Internal("a file chunk is not a blob".into())),
        }
    }
    Ok(data)
}

/// How long a signed download link works.
pub const LINK_TTL_S: i64 = 600;

/// A temporary link to stored file `key` (`{origin}/{key}?expires=&signature=`):
/// it serves the file without a token until it expires ([`LINK_TTL_S`]),
/// for an answer that redirects to a download (`GET /chats/exports/{id}`).
/// The signature is the hex HMAC-SHA256 of `key` and the expiry with the
/// server's secret.
pub fn signed_link(db: &dyn Db, origin: &str, key: &str) -> Result<String> {
    let expires = time::now().unix_seconds() + LINK_TTL_S;
    let signature = sign(&secret(db)?, &format!("{key}\n{expires}"));
    let path = percent_encoding::utf8_percent_encode(key, PATH_CHARS);
    Ok(format!(
        "{origin}/{path}?expires={expires}&signature={signature}"
    ))
}

/// What a key keeps unencoded in a link's path.
const PATH_CHARS: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>');

/// `GET /{key}?expires=&signature=`: the file, when the link is one
/// [`signed_link`] made and has not expired; 404 otherwise (as for a file
/// the caller may not read).
pub fn download_signed(db: &dyn Db, key: &str, expires: &str, signature: &str) -> Result<Download> {
    let not_found = || {
        Error::NotFound(FieldError::new(
            "key",
            ErrorCode::NotFound,
            Some(key.to_owned()),
            "File not found, or the link has expired",
        ))
    };
    let until: i64 = expires.parse().map_err(|_| not_found())?;
    let expected = sign(&secret(db)?, &format!("{key}\n{expires}"));
    let valid: bool =
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), signature.as_bytes()).into();
    if !valid || until < time::now().unix_seconds() {
        return Err(not_found());
    }
    let file = db
        .query_row(
            "SELECT name, content_type FROM files WHERE file_key = ?",
            &[key.into()],
        )?
        .ok_or_else(not_found)?;
    Ok(Download {
        name: file.string(0)?,
        content_type: file.string(1)?,
        data: read(db, key)?,
    })
}

/// A stored file ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    /// Its name.
    pub name: String,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// What RFC 5987 leaves unencoded in an extended parameter (`attr-char`).
const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="…"; filename*=UTF-8''…`: the quoted name in ASCII
/// (other characters as `_`) for old clients, the exact one percent-encoded.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && c != '"' && c != '\\' && !c.is_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// `GET /{key}`: the file, to its uploader or whoever reads a message it
/// is attached to; 404 otherwise.
pub fn download(db: &dyn Db, p: &Principal, key: &str) -> Result<Download> {
    let not_found = || {
        Error::NotFound(FieldError::new(
            "key",
            ErrorCode::NotFound,
            Some(key.to_owned()),
            "File not found",
        ))
    };
    let file = db
        .query_row(
            "SELECT user_id, name, content_type FROM files WHERE file_key = ?",
            &[key.into()],
        )?
        .ok_or_else(not_found)?;
    if file.i64(0)? != p.user_id {
        let messages = db.query(
            "SELECT DISTINCT message_id FROM message_files WHERE file_key = ?",
            &[key.into()],
        )?;
        let mut readable = false;
        for m in &messages {
            if crate::messages::readable(db, p, m.i64(0)?).is_ok() {
                readable = true;
                break;
            }
        }
        if !readable {
            return Err(not_found());
        }
    }
    Ok(Download {
        name: file.string(1)?,
        content_type: file.string(2)?,
        data: read(db, key)?,
    })
}

/// The largest avatar accepted.
pub const MAX_AVATAR_BYTES: usize = 5 * 1024 * 1024;

/// The image type of `data` by its first bytes (`None`: not an image we
/// take): PNG, JPEG, GIF or WebP, as `(content type, extension)`.
fn image_type(data: &[u8]) -> Option<(&'static str, &'static str)> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if data.starts_with(b"\xff\xd8\xff") {
        Some(("image/jpeg", "jpg"))
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// `PUT /profile/avatar` and `PUT /users/{user_id}/avatar`: stores the
/// `image` part of a `multipart/form-data` body (PNG, JPEG, GIF or WebP by
/// its bytes, at most [`MAX_AVATAR_BYTES`]; 422 otherwise) as `user_id`'s
/// avatar, replacing the old one, and answers `AvatarData`. The image is
/// served at `{origin}/avatars/{user}/{random}.{ext}` without a token, as
/// an `<img>` needs it; the random part makes the address unguessable.
pub fn set_avatar(
    db: &dyn Db,
    user_id: i64,
    content_type: &str,
    body: &[u8],
    origin: &str,
) -> Result<Json> {
    // The spec answers a missing or unreadable image with 422.
    let parts = parse_multipart(content_type, body).map_err(|_| {
        Error::invalid(
            "image",
            ErrorCode::Blank,
            None,
            "can't be blank: send the image as multipart/form-data",
        )
    })?;
    let image = parts
        .iter()
        .find(|p| p.name == "image")
        .ok_or_else(|| Error::invalid("image", ErrorCode::Blank, None, "can't be blank"))?;
    if image.data.len() > MAX_AVATAR_BYTES {
        return Err(Error::invalid(
            "image",
            ErrorCode::TooLong,
            None,
            &format!("is too large (maximum is {MAX_AVATAR_BYTES} bytes)"),
        ));
    }
    let (mime, ext) = image_type(&image.data).ok_or_else(|| {
        Error::invalid(
            "image",
            ErrorCode::Invalid,
            image.filename.clone(),
            "must be a PNG, JPEG, GIF or WebP image",
        )
    })?;
    let key = format!(
        "avatars/{user_id}/{}.{ext}",
        hex::encode(random::bytes::<16>()?)
    );
    let url = format!("{origin}/{key}");
    transaction(db, |db| -> Result<()> {
        remove_avatar_files(db, user_id)?;
        let name = format!("avatar.{ext}");
        store(db, &key, user_id, &name, mime, &image.data, time::now())?;
        db.execute(
            "UPDATE users SET image_url = ? WHERE id = ?",
            &[url.clone().into(), user_id.into()],
        )?;
        Ok(())
    })?;
    Ok(json!({ "image_url": url }))
}

fn remove_avatar_files(db: &dyn Db, user_id: i64) -> Result<()> {
    db.execute(
        "DELETE FROM files WHERE file_key LIKE ? AND user_id = ?",
        &[format!("avatars/{user_id}/%").into(), user_id.into()],
    )?;
    Ok(())
}

/// `DELETE /profile/avatar` and `DELETE /users/{user_id}/avatar`.
pub fn delete_avatar(db: &dyn Db, user_id: i64) -> Result<()> {
    transaction(db, |db| -> Result<()> {
        remove_avatar_files(db, user_id)?;
        db.execute(
            "UPDATE users SET image_url = NULL WHERE id = ?",
            &[user_id.into()],
        )?;
        Ok(())
    })
}

/// `GET /avatars/...`: an avatar, to anyone who has its address.
pub fn avatar(db: &dyn Db, key: &str) -> Result<Download> {
    let file = db
        .query_row(
            "SELECT name, content_type FROM files WHERE file_key = ? AND file_key LIKE 'avatars/%'",
            &[key.into()],
        )?
        .ok_or_else(|| Error::not_found("key", 0))?;
    Ok(Download {
        name: file.string(0)?,
        content_type: file.string(1)?,
        data: read(db, key)?,
    })
}
