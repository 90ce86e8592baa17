//! Router and thin handlers of the files area: `POST /uploads` and
//! `POST /direct_url` under the API prefix, and downloads at the files'
//! own paths (`/attaches/...`, the `url` of a message's file).

use crate::auth::context::Ctx;
use crate::files;
use crate::platform::error::{Error, Result};
use crate::platform::http::Response;

/// Routes one request of this area (path segments after the API prefix);
/// [`crate::components`] serves it.
pub fn route(c: &Ctx<'_>, segs: &[&str]) -> Result<Response> {
    match (segs, c.req.method.as_str()) {
        (["uploads"], "POST") => {
            let p = c.auth(Some("uploads:write"))?;
            // The spec's 201 body is a bare `UploadParams`.
            Ok(Response::json(
                201,
                &files::upload_params(c.db, &p, &c.req.origin())?,
            ))
        }
        (["direct_url"], "POST") => {
            // No token: the signed form is the authorization.
            crate::platform::migrate::migrate(c.db)?;
            let content_type = c.req.header("content-type").unwrap_or_default();
            files::upload(c.db, content_type, &c.req.body)?;
            Ok(Response::no_content())
        }
        (["uploads"] | ["direct_url"], _) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    }
}

/// `GET /attaches/...`: a stored file with its type, length and name.
pub fn download(c: &Ctx<'_>) -> Result<Response> {
    if c.req.method != "GET" {
        return Err(Error::MethodNotAllowed);
    }
    let p = c.auth(Some("files:read"))?;
    let key = c.req.path.trim_start_matches('/');
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .map_err(|_| Error::RouteNotFound)?;
    let file = files::download(c.db, &p, &key)?;
    Ok(Response {
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
    })
}
