//! Router and thin handlers of the files area: `POST /uploads` and
//! `POST /direct_url` under the API prefix, and downloads at the files'
//! own paths (`/attaches/...`, the `url` of a message's file).

use crate::auth::context::Ctx;
use crate::files;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;
use crate::platform::params::id_param;

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    match (segs, c.req.method.as_str()) {
        (["uploads"], "POST") => {
            let p = c.auth(Some("uploads:write"))?;
            // The spec's 201 body is a bare `UploadParams`.
            Ok(Response::json(
                201,
                &files::upload_params(
                    c.db,
                    &p,
                    &c.req.origin(),
                    c.cfg
                        .positive("max_file_bytes")
                        .and_then(|n| usize::try_from(n).ok())
                        .unwrap_or(files::MAX_FILE_BYTES),
                )?,
            ))
        }
        (["direct_url"], "POST") => {
            // No token: the signed form is the authorization.
            let content_type = c.req.header("content-type").unwrap_or_default();
            files::upload(c.db, content_type, &c.req.body)?;
            Ok(Response::no_content())
        }
        (["uploads"] | ["direct_url"], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

/// `PUT`/`DELETE /profile/avatar` and `/users/{user_id}/avatar` (the
/// users component hands them here: they store files).
pub fn avatar_route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    let target = |c: &Ctx<'_>| -> Result<i64> {
        match segs {
            ["profile", "avatar"] => Ok(c.auth(Some("profile_avatar:write"))?.user_id),
            ["users", id, "avatar"] => {
                let p = c.auth(Some("user_avatar:write"))?;
                p.require_manager("user_id", "Only the owner or an admin sets others' avatars")?;
                let id = id_param(id, "user_id")?;
                crate::users::load(c.db, id, "user_id")?;
                Ok(id)
            }
            _ => Err(Error::RouteNotFound),
        }
    };
    match c.req.method.as_str() {
        // The spec says PUT; the official SDK sends POST.
        "PUT" | "POST" => {
            let user = target(c)?;
            let content_type = c.req.header("content-type").unwrap_or_default();
            let data = files::set_avatar(c.db, user, content_type, &c.req.body, &c.req.origin())?;
            Ok(Response::data(200, data))
        }
        "DELETE" => {
            files::delete_avatar(c.db, target(c)?)?;
            Ok(Response::no_content())
        }
        _ => Err(Error::MethodNotAllowed),
    }
}

fn send(file: files::Download) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("content-type".into(), file.content_type),
            ("content-length".into(), file.data.len().to_string()),
            (
                "content-disposition".into(),
                files::content_disposition(&file.name),
            ),
        ],
        body: file.data,
    }
}

/// The key a file path names (percent-decoded, without the leading `/`).
fn key_of(c: &Ctx<'_>) -> Result<String> {
    percent_encoding::percent_decode_str(c.req.path.trim_start_matches('/'))
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| Error::RouteNotFound)
}

/// `GET /attaches/...`: a stored file with its type, length and name, with
/// a token, or through a signed link ([`files::signed_link`]).
pub fn download(c: &Ctx<'_>) -> Result<Response> {
    if c.req.method != "GET" {
        return Err(Error::MethodNotAllowed);
    }
    let q = c.req.query();
    if let (Some(expires), Some(signature)) = (q.get("expires"), q.get("signature")) {
        return Ok(send(files::download_signed(
            c.db,
            &key_of(c)?,
            expires,
            signature,
        )?));
    }
    let p = c.auth(Some("files:read"))?;
    Ok(send(files::download(c.db, &p, &key_of(c)?)?))
}

/// `GET /avatars/...`: an avatar, without a token.
pub fn avatar(c: &Ctx<'_>) -> Result<Response> {
    if c.req.method != "GET" {
        return Err(Error::MethodNotAllowed);
    }
    Ok(send(files::avatar(c.db, &key_of(c)?)?))
}
