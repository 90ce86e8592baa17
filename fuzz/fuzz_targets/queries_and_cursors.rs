//! Query strings, cursors, limits, date-times and header values as clients
//! send them: every parser answers `Ok` or an `ApiError`, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::platform::http::Query;
use shared::platform::pagination::{self, Cursor};
use shared::platform::time::Timestamp;
use shared::{analytics, audit, broadcasts, chats, messages, users};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let q = Query::parse(&text);
    let _ = chats::parse_list_params(&q, 50);
    let _ = chats::parse_search_params(&q);
    let _ = messages::parse_list_params(&q, 50);
    let _ = messages::search::parse_params(&q);
    let _ = messages::threads::parse_list_params(&q, 50);
    let _ = users::parse_search_params(&q, 50, 50);
    let _ = audit::AuditFilter::parse(&q);
    let _ = pagination::parse_cursor(q.get("cursor"));
    let _ = pagination::parse_limit(q.get("limit"), 50, 50);
    let _ = Cursor::decode(&text);
    let _ = Timestamp::parse(&text);
    let _ = broadcasts::analytics::RecipientFilter::parse(Some(&text));
    let _ = broadcasts::parse_idempotency_key(Some(&text));
    let _ = users::custom_properties::parse_entity_type(Some(&text));
    let _ = chats::member_input::parse_role_filter(Some(&text));
    // Analytics: periods in a zone, buckets, filters, orders, the support
    // report's question, zone names and working hours.
    if let Ok(tz) = analytics::zone::parse("Europe/Moscow") {
        if let Ok(p) = analytics::period::Period::parse(&q, &tz) {
            if let Ok(b) = analytics::period::Bucket::parse(&q) {
                let _ = p.widened(b).buckets(b);
            }
        }
    }
    let _ = analytics::chats::ChatFilter::parse(&q);
    let _ = analytics::chats::Order::parse(&q, "messages");
    let _ = analytics::chats::parse_top(&q);
    let _ = analytics::support::SupportQuery::parse(&q);
    let _ = analytics::zone::parse(&text);
    let _ = analytics::zone::WorkingHours::parse(&text, &q.list("working_days"));
});
