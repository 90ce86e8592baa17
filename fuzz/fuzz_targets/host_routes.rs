//! The host's route patterns (`spin.toml`'s `route`) and their matching of
//! request paths, compiled from the host's own module: a pattern is parsed
//! or refused with a message, and any path is matched or not, without a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../host/src/routing.rs"]
#[allow(dead_code)]
mod routing;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, path) = text.split_once('\n').unwrap_or((&text, "/"));
    let Ok(route) = routing::RoutePattern::parse(pattern) else {
        return;
    };
    let _ = route.matches(path);
    let (router, _) = routing::Router::build(vec![
        (route, 0),
        (
            routing::RoutePattern::parse("/...").expect("a valid pattern"),
            1,
        ),
    ]);
    let _ = router.route(path);
});
