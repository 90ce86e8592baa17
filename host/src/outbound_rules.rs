//! Where outbound requests may go, validated once at load: the
//! `allowed_outbound_hosts` grammar of a component (schemes, hosts,
//! subdomain wildcards, CIDRs, ports and port ranges, `self`), and the
//! runtime config's `block_networks`. Plain data and parsers, with no
//! runtime in them, so that [`crate::manifest`] and
//! [`crate::runtime_config`] build without wasmtime (and are fuzzed so);
//! [`crate::outbound`] and [`crate::outbound_client`] enforce them.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::template::Template;

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemeSpec {
    Any,
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostSpec {
    Any,
    /// `*.example.com`: stored as `.example.com`.
    Subdomain(String),
    Literal(String),
    Cidr(IpNet),
    /// `self` or `self.alt`.
    SelfOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortSpec {
    Any,
    /// `a..b`, `b` exclusive; a single port is `p..p+1`.
    Range(u16, u32),
}

/// One validated `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: SchemeSpec,
    host: HostSpec,
    port: PortSpec,
}

pub(crate) fn well_known_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" => 80,
        "https" => 443,
        "postgres" => 5432,
        "mysql" => 3306,
        "redis" => 6379,
        "mqtt" => 1883,
        _ => return None,
    })
}

impl AllowedHost {
    /// Parses one entry, with the same rejections as Spin.
    pub fn parse(entry: &str) -> Result<Self, String> {
        if entry == "insecure:allow-all" {
            return Err("`insecure:allow-all` is not allowed; use `*://*:*`".into());
        }
        let Some((scheme, rest)) = entry.split_once("://") else {
            if entry == "*" {
                return Err(format!("{entry:?} has no scheme; did you mean `*://*:*`?"));
            }
            return Err(format!(
                "{entry:?} has no scheme (expected `scheme://host[:port]`)"
            ));
        };
        let scheme = if scheme == "*" {
            SchemeSpec::Any
        } else if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) {
            SchemeSpec::Named(scheme.to_ascii_lowercase())
        } else {
            return Err(format!("{entry:?}: invalid scheme {scheme:?}"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host_text, port_text) = split_host_port(rest).ok_or_else(|| {
            format!("{entry:?}: paths are not allowed, only `scheme://host[:port]`")
        })?;
        let host = parse_host(host_text).map_err(|e| format!("{entry:?}: {e}"))?;
        let port = match port_text {
            Some("*") => PortSpec::Any,
            Some(text) => parse_port(text).map_err(|e| format!("{entry:?}: {e}"))?,
            None => match &scheme {
                SchemeSpec::Named(name) => {
                    let port = well_known_port(name).ok_or_else(|| {
                        format!("{entry:?}: scheme {name:?} has no default port; give one")
                    })?;
                    PortSpec::Range(port, u32::from(port) + 1)
                }
                SchemeSpec::Any => {
                    return Err(format!("{entry:?}: a port is required with scheme `*`"))
                }
            },
        };
        Ok(Self { scheme, host, port })
    }

    fn allows_scheme(&self, scheme: &str) -> bool {
        match &self.scheme {
            SchemeSpec::Any => true,
            SchemeSpec::Named(name) => name == scheme,
        }
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if !self.allows_scheme(scheme) {
            return false;
        }
        let port_ok = match self.port {
            PortSpec::Any => true,
            PortSpec::Range(a, b) => port >= a && u32::from(port) < b,
        };
        if !port_ok {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match &self.host {
            HostSpec::Any => true,
            HostSpec::Subdomain(suffix) => {
                host.parse::<IpAddr>().is_err()
                    && host.to_ascii_lowercase().ends_with(suffix.as_str())
            }
            HostSpec::Literal(name) => name.eq_ignore_ascii_case(host),
            HostSpec::Cidr(net) => host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
            HostSpec::SelfOnly => false,
        }
    }

    fn allows_self(&self) -> bool {
        matches!(self.host, HostSpec::SelfOnly | HostSpec::Any)
            && (self.allows_scheme("http") || self.allows_scheme("https"))
    }
}

fn split_host_port(rest: &str) -> Option<(&str, Option<&str>)> {
    if let Some(inner) = rest.strip_prefix('[') {
        let end = inner.find(']')?;
        let host = &rest[..end + 2];
        let after = &inner[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    if host.contains('/') {
        // Only a CIDR may contain a `/`.
        if host.parse::<IpNet>().is_err() {
            return None;
        }
    }
    if port.is_some_and(|p| p.contains('/')) {
        return None;
    }
    Some((host, port))
}

fn parse_host(text: &str) -> Result<HostSpec, String> {
    if text.is_empty() {
        return Err("missing host".into());
    }
    if text.contains(['{', '}', ',']) {
        return Err("host lists are not allowed".into());
    }
    if text == "*" {
        return Ok(HostSpec::Any);
    }
    if text == "self" || text == "self.alt" {
        return Ok(HostSpec::SelfOnly);
    }
    if let Some(suffix) = text.strip_prefix("*.") {
        if suffix.is_empty() || suffix.contains('*') {
            return Err(format!("invalid wildcard host {text:?}"));
        }
        return Ok(HostSpec::Subdomain(format!(
            ".{}",
            suffix.to_ascii_lowercase()
        )));
    }
    if text.contains('*') {
        return Err(format!(
            "wildcards are only allowed as a leading `*.` in {text:?}"
        ));
    }
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(HostSpec::Cidr(net));
    }
    Ok(HostSpec::Literal(
        text.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
    ))
}

fn parse_port(text: &str) -> Result<PortSpec, String> {
    if text.contains(',') {
        return Err("port lists are not allowed".into());
    }
    if let Some((a, b)) = text.split_once("..") {
        let a: u16 = a.parse().map_err(|_| format!("invalid port {a:?}"))?;
        let b: u16 = b.parse().map_err(|_| format!("invalid port {b:?}"))?;
        if b <= a {
            return Err(format!("empty port range {text:?}"));
        }
        return Ok(PortSpec::Range(a, u32::from(b)));
    }
    let port: u16 = text.parse().map_err(|_| format!("invalid port {text:?}"))?;
    Ok(PortSpec::Range(port, u32::from(port) + 1))
}

/// The entries of one component, templates resolved.
#[derive(Debug, Clone, Default)]
pub struct AllowedHostsConfig {
    entries: Vec<AllowedHost>,
}

impl AllowedHostsConfig {
    /// Validates entries at manifest load; templated entries are checked
    /// after substituting defaults where every referenced variable has one.
    /// `declared(name)` is `None` for an undeclared application variable,
    /// else `Some` of its default.
    pub fn validate<'v>(
        entries: &[String],
        declared: impl Fn(&str) -> Option<Option<&'v str>>,
    ) -> Result<(), String> {
        for entry in entries {
            let template = Template::parse(entry)?;
            for name in template.references() {
                if declared(name).is_none() {
                    return Err(format!(
                        "allowed_outbound_hosts entry {entry:?} refers to unknown variable {name:?}"
                    ));
                }
            }
            let rendered: Result<String, ()> =
                template.render(|name| declared(name).flatten().map(str::to_string).ok_or(()));
            if let Ok(text) = rendered {
                AllowedHost::parse(&text)?;
            }
        }
        Ok(())
    }

    /// Resolves templates with `resolve` and parses every entry.
    pub fn resolve(
        entries: &[String],
        mut resolve: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<Self, String> {
        let mut parsed = Vec::new();
        for entry in entries {
            let text = Template::parse(entry)?.render(&mut resolve)?;
            parsed.push(AllowedHost::parse(&text)?);
        }
        Ok(Self { entries: parsed })
    }

    /// Whether a request with this scheme, host and port may be sent.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.entries.iter().any(|e| e.allows(scheme, host, port))
    }

    /// Whether relative ("self") requests may be sent.
    pub fn allows_self(&self) -> bool {
        self.entries.iter().any(AllowedHost::allows_self)
    }
}

/// Networks outbound requests may not reach (Spin's `block_networks`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedNetworks {
    /// Explicit CIDRs.
    pub nets: Vec<IpNet>,
    /// Whether `"private"` was listed.
    pub private: bool,
}

impl BlockedNetworks {
    /// Parses `block_networks` entries: CIDRs, single addresses, `"private"`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut out = Self::default();
        for e in entries {
            if e == "private" {
                out.private = true;
            } else if let Ok(net) = e.parse::<IpNet>() {
                out.nets.push(net);
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                out.nets.push(IpNet::from(ip));
            } else {
                return Err(format!(
                    "block_networks entry {e:?} is not a CIDR, an address or \"private\""
                ));
            }
        }
        Ok(out)
    }

    /// Whether `ip` may not be connected to.
    pub fn blocks(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.nets.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        self.private
            && match ip {
                IpAddr::V4(v4) => {
                    let [a, b, ..] = v4.octets();
                    v4.is_private()
                        || v4.is_loopback()
                        || v4.is_link_local()
                        || v4.is_unspecified()
                        || (a == 100 && (64..128).contains(&b))
                }
                IpAddr::V6(v6) => {
                    let first = v6.segments()[0];
                    v6.is_loopback()
                        || v6.is_unspecified()
                        || (first & 0xfe00) == 0xfc00
                        || (first & 0xffc0) == 0xfe80
                }
            }
    }

    /// Whether nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && !self.private
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[&str]) -> AllowedHostsConfig {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowedHostsConfig::resolve(&entries, |_| Err("no vars".into())).expect("valid")
    }

    #[test]
    fn grammar_rejections() {
        for bad in [
            "insecure:allow-all",
            "*",
            "example.com",
            "{http,https}://example.com",
            "https://example.com/path",
            "https://ex*ample.com",
            "https://{a,b}.com",
            "https://example.com:80,81",
            "foo://example.com",
            "*://example.com",
            "https://example.com:9..3",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad} accepted");
        }
        for good in [
            "https://*:*",
            "*://*:*",
            "http://localhost:3000",
            "https://example.com/",
            "*://*.example.com:443",
            "http://self",
            "tcp://10.0.0.0/8:5432",
            "http://127.0.0.1:1000..2000",
            "http://[::1]:8080",
        ] {
            assert!(AllowedHost::parse(good).is_ok(), "{good} rejected");
        }
    }

    #[test]
    fn matching() {
        let c = config(&[
            "http://localhost:3000",
            "https://*.example.com",
            "http://127.0.0.1:1000..2000",
            "tcp://10.0.0.0/8:5432",
        ]);
        assert!(c.allows("http", "localhost", 3000));
        assert!(!c.allows("http", "localhost", 80));
        assert!(!c.allows("https", "localhost", 3000));
        assert!(c.allows("https", "api.example.com", 443));
        assert!(!c.allows("https", "example.com", 443));
        assert!(c.allows("http", "127.0.0.1", 1999));
        assert!(!c.allows("http", "127.0.0.1", 2000));
        assert!(c.allows("tcp", "10.1.2.3", 5432));
        assert!(!c.allows_self());
        assert!(config(&["https://*:*"]).allows_self());
        assert!(config(&["http://self"]).allows_self());
        assert!(!config(&["http://self"]).allows("http", "self", 80));
    }
}
