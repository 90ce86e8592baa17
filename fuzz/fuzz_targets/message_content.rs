//! Message text as users write it: mentions are found and rewritten, link
//! hosts read, and Mustache templates (written by whoever sets up a bot, over
//! JSON any service posts) rendered, without a panic. Liquid templates are
//! left out: liquid-core 0.26.11, the newest, still panics on some malformed
//! templates (`fuzz/known/`); the one case we can refuse before it parses, an
//! integer beyond 64 bits, is a unit test of `shared::webhooks::templates`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use shared::messages::{self, mentions};
use shared::webhooks::templates::{self, Engine};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = mentions::find_mentions(&text);
    let _ = mentions::rewrite_mentions(&text, &|id| (id % 2 == 0).then(|| format!("user{id}")));
    let _ = messages::link_host(&text);
    let event = json!({"content": text, "user_id": 1, "chat_id": 2, "tags": ["a", "b"],
                       "ok": true, "no": false, "none": null,
                       "project": {"name": "Pachca", "items": [{"k": 1}, {"k": [2, {"x": "y"}]}]}});
    let _ = templates::render(Engine::Mustache, &text, &event);
});
