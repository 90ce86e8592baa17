//! `multipart/form-data` bodies of uploads and avatars (the parser written
//! by hand in `shared::files`): the first line is the `Content-Type`, the
//! rest the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    let _ = shared::files::parse_multipart(&content_type, body);
    let _ = shared::files::parse_multipart("multipart/form-data; boundary=fuzz", data);
});
