//! HTTP route patterns and the route table, with Spin's matching rules.
//!
//! Spin (through `routefinder`) trims every leading and trailing `/` from the
//! request path, compares segment by segment, and ranks routes so that at the
//! first differing segment an exact segment beats a `:param`, which beats a
//! trailing wildcard; at equal prefixes the shorter route wins. Identical
//! routes: the last one declared wins.

use std::cmp::Ordering;

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
    Wildcard,
}

impl Segment {
    fn rank(&self) -> u8 {
        match self {
            Segment::Exact(_) => 0,
            Segment::Param(_) => 1,
            Segment::Wildcard => 2,
        }
    }
}

/// A parsed route such as `/api/users/:id/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    raw: String,
    based: String,
    segments: Vec<Segment>,
}

impl RoutePattern {
    /// Parses a route as written in the manifest.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut based = if raw.starts_with('/') {
            raw.to_string()
        } else {
            format!("/{raw}")
        };
        if based.ends_with('/') {
            based.pop();
        }
        let trimmed = based.trim_matches('/');
        let mut segments = Vec::new();
        if !trimmed.is_empty() {
            let parts: Vec<&str> = trimmed.split('/').collect();
            let count = parts.len();
            for (i, part) in parts.into_iter().enumerate() {
                let segment = if part == "..." || part == "*" {
                    if i + 1 != count {
                        return Err("a wildcard may only be the last segment".into());
                    }
                    Segment::Wildcard
                } else if let Some(name) = part.strip_prefix(':') {
                    if name.is_empty() {
                        return Err("`:` must be followed by a parameter name".into());
                    }
                    Segment::Param(name.to_string())
                } else if part.starts_with('*') {
                    return Err("named wildcards (`*name`) are not supported".into());
                } else {
                    Segment::Exact(part.to_string())
                };
                segments.push(segment);
            }
        }
        Ok(Self {
            raw: raw.to_string(),
            based,
            segments,
        })
    }

    /// The route exactly as written in the manifest.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The route with a leading `/` and without a trailing `/`, as Spin's
    /// `spin-matched-route` header shows it.
    pub fn based(&self) -> &str {
        &self.based
    }

    /// The raw route without a trailing `/...`, as in `spin-component-route`.
    pub fn component_route(&self) -> &str {
        let raw = self.raw.as_str();
        raw.strip_suffix("/...")
            .or_else(|| raw.strip_suffix("..."))
            .unwrap_or(raw)
    }

    fn has_wildcard(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::Wildcard))
    }

    /// Matches a raw request path (no query string, not percent-decoded).
    pub fn matches(&self, path: &str) -> Option<RouteMatch> {
        let trimmed = path.trim_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let fixed = if self.has_wildcard() {
            self.segments.len() - 1
        } else {
            self.segments.len()
        };
        if parts.len() < fixed || (!self.has_wildcard() && parts.len() != fixed) {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Exact(text) if text == part => {}
                Segment::Exact(_) => return None,
                Segment::Param(name) => {
                    if part.is_empty() {
                        return None;
                    }
                    params.push((name.clone(), (*part).to_string()));
                }
                Segment::Wildcard => break,
            }
        }
        let path_info = if self.has_wildcard() {
            trailing_path(path, &parts[..fixed])
        } else {
            String::new()
        };
        Some(RouteMatch { params, path_info })
    }

    fn priority(&self, other: &Self) -> Ordering {
        for (a, b) in self.segments.iter().zip(&other.segments) {
            match a.rank().cmp(&b.rank()) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        self.segments.len().cmp(&other.segments.len())
    }
}

/// The part of `path` after the fixed segments of a wildcard route.
fn trailing_path(path: &str, fixed: &[&str]) -> String {
    if fixed.is_empty() {
        return path.to_string();
    }
    let mut rest = path.trim_start_matches('/');
    for (i, part) in fixed.iter().enumerate() {
        rest = rest.get(part.len()..).unwrap_or("");
        if i + 1 < fixed.len() {
            rest = rest.strip_prefix('/').unwrap_or(rest);
        }
    }
    rest.to_string()
}

/// What a successful match captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// `:name` parameters and their values, in route order.
    pub params: Vec<(String, String)>,
    /// The wildcard's part of the path (`spin-path-info`), or empty.
    pub path_info: String,
}

/// A set of routes, each leading to a value `T` (the trigger).
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<(RoutePattern, T)>,
}

impl<T> Router<T> {
    /// Builds the table. For identical routes the last one wins; the losers'
    /// raw routes are returned so the caller can log them as Spin does.
    pub fn build(entries: Vec<(RoutePattern, T)>) -> (Self, Vec<String>) {
        let mut routes: Vec<(RoutePattern, T)> = Vec::new();
        let mut duplicates = Vec::new();
        for (pattern, value) in entries {
            if let Some(pos) = routes.iter().position(|(p, _)| p.based == pattern.based) {
                duplicates.push(routes[pos].0.raw.clone());
                routes.remove(pos);
            }
            routes.push((pattern, value));
        }
        routes.sort_by(|(a, _), (b, _)| a.priority(b));
        (Self { routes }, duplicates)
    }

    /// Finds the best route for a raw request path.
    pub fn route(&self, path: &str) -> Option<(&RoutePattern, &T, RouteMatch)> {
        self.routes
            .iter()
            .find_map(|(pattern, value)| pattern.matches(path).map(|m| (pattern, value, m)))
    }

    /// All routes in priority order.
    pub fn routes(&self) -> impl Iterator<Item = (&RoutePattern, &T)> {
        self.routes.iter().map(|(p, v)| (p, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[&str]) -> Router<String> {
        let entries = routes
            .iter()
            .map(|r| (RoutePattern::parse(r).expect("valid route"), r.to_string()))
            .collect();
        Router::build(entries).0
    }

    fn winner(r: &Router<String>, path: &str) -> Option<String> {
        r.route(path).map(|(_, v, _)| v.clone())
    }

    #[test]
    fn exact_beats_param_beats_wildcard() {
        let r = router(&["/...", "/users/...", "/users/:id", "/users/me", "/one"]);
        assert_eq!(winner(&r, "/users/me").as_deref(), Some("/users/me"));
        assert_eq!(winner(&r, "/users/42").as_deref(), Some("/users/:id"));
        assert_eq!(winner(&r, "/users/42/x").as_deref(), Some("/users/..."));
        assert_eq!(winner(&r, "/users").as_deref(), Some("/users/..."));
        assert_eq!(winner(&r, "/one").as_deref(), Some("/one"));
        assert_eq!(winner(&r, "/").as_deref(), Some("/..."));
    }

    #[test]
    fn longest_wildcard_prefix_wins() {
        let r = router(&["/one/...", "/one/two/three/...", "/one/two/..."]);
        assert_eq!(
            winner(&r, "/one/two/three/four").as_deref(),
            Some("/one/two/three/...")
        );
        assert_eq!(winner(&r, "/one/two/x").as_deref(), Some("/one/two/..."));
        assert_eq!(winner(&r, "/one/x").as_deref(), Some("/one/..."));
    }

    #[test]
    fn leftmost_exact_segment_wins() {
        let r = router(&["/:y/b", "/a/:x"]);
        assert_eq!(winner(&r, "/a/b").as_deref(), Some("/a/:x"));
    }

    #[test]
    fn slashes_are_trimmed_but_params_need_a_segment() {
        let r = router(&["/foo", "/users/:id"]);
        assert_eq!(winner(&r, "/foo/").as_deref(), Some("/foo"));
        assert_eq!(winner(&r, "//foo//").as_deref(), Some("/foo"));
        assert_eq!(winner(&r, "/users/"), None);
        assert_eq!(winner(&r, "/users/1/x"), None);
        assert_eq!(winner(&r, "/Foo"), None);
    }

    #[test]
    fn root_route_matches_only_root() {
        let r = router(&["/"]);
        assert!(winner(&r, "/").is_some());
        assert!(winner(&r, "/x").is_none());
        let (pattern, _, _) = r.route("/").expect("match");
        assert_eq!(pattern.based(), "");
        assert_eq!(pattern.component_route(), "/");
    }

    #[test]
    fn path_info_follows_spin() {
        let p = RoutePattern::parse("/foo/...").expect("valid");
        let info = |path: &str| p.matches(path).map(|m| m.path_info);
        assert_eq!(info("/foo").as_deref(), Some(""));
        assert_eq!(info("/foo/").as_deref(), Some("/"));
        assert_eq!(info("/foo/bar").as_deref(), Some("/bar"));
        assert_eq!(info("/foo/bar/").as_deref(), Some("/bar/"));
        let all = RoutePattern::parse("/...").expect("valid");
        assert_eq!(
            all.matches("/a/b").map(|m| m.path_info).as_deref(),
            Some("/a/b")
        );
        assert_eq!(all.component_route(), "");
        assert_eq!(all.based(), "/...");
    }

    #[test]
    fn params_are_captured() {
        let p = RoutePattern::parse("/api/users/:id/...").expect("valid");
        let m = p.matches("/api/users/42/posts/7").expect("match");
        assert_eq!(m.params, vec![("id".to_string(), "42".to_string())]);
        assert_eq!(m.path_info, "/posts/7");
        assert_eq!(p.component_route(), "/api/users/:id");
    }

    #[test]
    fn identical_routes_last_wins() {
        let entries = vec![
            (RoutePattern::parse("/a").expect("valid"), 1),
            (RoutePattern::parse("/a/").expect("valid"), 2),
        ];
        let (r, losers) = Router::build(entries);
        assert_eq!(r.route("/a").map(|(_, v, _)| *v), Some(2));
        assert_eq!(losers, vec!["/a".to_string()]);
    }

    #[test]
    fn malformed_routes_are_rejected() {
        assert!(RoutePattern::parse("/a/:").is_err());
        assert!(RoutePattern::parse("/a/*x").is_err());
        assert!(RoutePattern::parse("/a/.../b").is_err());
    }
}
