//! Every request-body parser over arbitrary JSON: each must answer `Ok` or
//! an `ApiError`, never panic. The value is given as it is and under each
//! wrapper key the parsers expect (`{"message": ...}`), so that the fuzzer
//! reaches the fields inside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use shared::{analytics, auth, broadcasts, chats, exports, messages, reactions, tasks, users, webhooks};

const WRAPPERS: &[&str] = &[
    "user",
    "status",
    "group_tag",
    "custom_property",
    "access_token",
    "chat",
    "task",
    "message",
    "webhook",
    "broadcast",
    "view",
    "link_previews",
    "code",
    "member_ids",
    "group_tag_ids",
    "role",
    "message_id",
    "data",
    "settings",
];

fn every_parser(v: &Value) {
    let _ = users::parse_input(v, true);
    let _ = users::parse_input(v, false);
    let _ = users::statuses::parse_input(v);
    let _ = users::group_tags::parse_input(v);
    let _ = users::custom_properties::parse_definition(v);
    let _ = auth::access_tokens::parse_issue(v);
    let _ = chats::parse_create(v);
    let _ = chats::parse_update(v);
    let _ = chats::member_input::parse_add(v);
    let _ = chats::member_input::parse_tags(v);
    let _ = chats::member_input::parse_role(v);
    let _ = tasks::parse(v, true);
    let _ = tasks::parse(v, false);
    let _ = exports::parse(v);
    let _ = reactions::parse(v);
    let _ = analytics::parse_settings(v);
    for bot in [false, true] {
        let _ = messages::input::parse_create(v, bot);
        let _ = messages::input::parse_update(v, bot);
        let _ = broadcasts::parse(v, bot);
    }
    let _ = messages::read_state::parse_mark(v);
    let _ = messages::parse_link_previews(v);
    let _ = messages::buttons::parse_click(v);
    let _ = webhooks::views::parse_open(v);
    if let Ok(obj) = webhooks::settings::webhook_object(v) {
        let _ = webhooks::settings::parse(&obj, true);
        let _ = webhooks::settings::parse(&obj, false);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = shared::platform::validate::parse_json(data) else {
        return;
    };
    every_parser(&v);
    for key in WRAPPERS {
        every_parser(&json!({ *key: v.clone() }));
    }
});
