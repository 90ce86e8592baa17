//! Mustache templates over JSON, for incoming webhooks whose bot chose the
//! `mustache` engine (`guides/incoming-webhooks.md`: "simple substitution
//! without logic").
//!
//! Written here rather than taken from a crate: `mustache` 0.9, the crate
//! that renders serde values, aborts the component (`bug!`, a panic) when a
//! variable names a boolean, a list or an object, which any JSON a service
//! posts can do (found by `fuzz/fuzz_targets/message_content.rs`); it has
//! had no release since 2018, and `ramhorns` renders typed structs, not
//! JSON. What is supported, as the Mustache spec describes it:
//!
//! * `{{name}}` (HTML-escaped), `{{{name}}}` and `{{&name}}` (as they are);
//!   whitespace inside the tag is ignored;
//! * dotted names (`{{project.name}}`): the first part is looked up from the
//!   innermost section outwards, the rest inside it; `{{.}}` is the value of
//!   the innermost section;
//! * sections `{{#name}}...{{/name}}`: once per item of a list, once with an
//!   object or any other truthy value as the innermost context, never for
//!   `false`, `null`, a missing field or an empty list; inverted sections
//!   `{{^name}}...{{/name}}` exactly then;
//! * comments `{{! ... }}` and delimiter changes `{{=<% %>=}}`;
//! * section, comment and delimiter tags alone on their line take the line
//!   with them ("standalone" lines); partials (`{{> name}}`) render nothing,
//!   since a bot has no other templates.
//!
//! A variable renders a string as it is, a number as JSON writes it,
//! `true`/`false`, nothing for `null` or a missing field, and a list or an
//! object as its JSON text. A template that does not parse (an unclosed or
//! mismatched section, an unclosed tag, sections nested deeper than
//! [`MAX_DEPTH`]) and output longer than [`MAX_OUTPUT`] are errors, never
//! panics.

use serde_json::Value as Json;

/// Deepest nesting of sections accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest rendered text, in bytes (a section over a list inside a section
/// over a list multiplies).
pub const MAX_OUTPUT: usize = 1 << 20;

/// A parsed template.
#[derive(Debug)]
enum Node {
    Text(String),
    Variable {
        name: String,
        escape: bool,
    },
    Section {
        name: String,
        inverted: bool,
        children: Vec<Node>,
    },
}

/// Renders `template` over `data`; the error is one line of text.
pub fn render(template: &str, data: &Json) -> Result<String, String> {
    let nodes = parse(template)?;
    let mut out = String::new();
    let mut stack = vec![data];
    write_nodes(&nodes, &mut stack, &mut out)?;
    Ok(out)
}

/// An open section while parsing: its name, kind and the nodes before it.
struct Open {
    name: String,
    inverted: bool,
    outer: Vec<Node>,
}

fn parse(template: &str) -> Result<Vec<Node>, String> {
    let (mut open_tag, mut close_tag) = ("{{".to_owned(), "}}".to_owned());
    let mut nodes: Vec<Node> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut pos = 0;
    while let Some(found) = template[pos..].find(open_tag.as_str()) {
        let start = pos + found;
        push_text(&mut nodes, &template[pos..start]);
        let inner = start + open_tag.len();
        let sigil = template[inner..].chars().next().unwrap_or(' ');
        let closing = match sigil {
            '{' => format!("}}{close_tag}"),
            '=' => format!("={close_tag}"),
            _ => close_tag.clone(),
        };
        let body_start = if matches!(sigil, '{' | '&' | '#' | '^' | '/' | '!' | '>' | '=') {
            inner + sigil.len_utf8()
        } else {
            inner
        };
        let body_end = template[body_start..]
            .find(closing.as_str())
            .map(|i| body_start + i)
            .ok_or_else(|| format!("unclosed tag at byte {start}"))?;
        let mut end = body_end + closing.len();
        let body = template[body_start..body_end].trim();
        if matches!(sigil, '#' | '^' | '/' | '!' | '>' | '=') {
            if let Some(after_line) = standalone(template, start, end) {
                trim_line_indent(&mut nodes);
                end = after_line;
            }
        }
        match sigil {
            '{' | '&' => nodes.push(Node::Variable {
                name: body.to_owned(),
                escape: false,
            }),
            '#' | '^' => {
                if open.len() == MAX_DEPTH {
                    return Err(format!("sections nest deeper than {MAX_DEPTH}"));
                }
                open.push(Open {
                    name: body.to_owned(),
                    inverted: sigil == '^',
                    outer: std::mem::take(&mut nodes),
                });
            }
            '/' => {
                let section = open
                    .pop()
                    .ok_or_else(|| format!("{{{{/{body}}}}} closes no section"))?;
                if section.name != body {
                    return Err(format!(
                        "section {} is closed by {{{{/{body}}}}}",
                        section.name
                    ));
                }
                let children = std::mem::replace(&mut nodes, section.outer);
                nodes.push(Node::Section {
                    name: section.name,
                    inverted: section.inverted,
                    children,
                });
            }
            '=' => {
                let mut parts = body.split_whitespace();
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(o), Some(c), None) if !o.contains('=') && !c.contains('=') => {
                        open_tag = o.to_owned();
                        close_tag = c.to_owned();
                    }
                    _ => return Err(format!("invalid delimiters {body:?}")),
                }
            }
            '!' | '>' => {}
            _ => nodes.push(Node::Variable {
                name: body.to_owned(),
                escape: true,
            }),
        }
        pos = end;
    }
    push_text(&mut nodes, &template[pos..]);
    match open.pop() {
        Some(section) => Err(format!("section {} is not closed", section.name)),
        None => Ok(nodes),
    }
}

fn push_text(nodes: &mut Vec<Node>, text: &str) {
    if !text.is_empty() {
        nodes.push(Node::Text(text.to_owned()));
    }
}

/// Where the line after a tag spanning `start..end` continues, when the
/// tag is alone on its line (only spaces and tabs around it): past the
/// line's end, so the tag's line leaves no trace.
fn standalone(template: &str, start: usize, end: usize) -> Option<usize> {
    let blank = |s: &str| s.chars().all(|c| c == ' ' || c == '\t');
    let line_start = template[..start].rfind('\n').map_or(0, |i| i + 1);
    if !blank(&template[line_start..start]) {
        return None;
    }
    let rest = &template[end..];
    let line_end = rest.find('\n');
    let before_newline = &rest[..line_end.unwrap_or(rest.len())];
    if !blank(before_newline.strip_suffix('\r').unwrap_or(before_newline)) {
        return None;
    }
    Some(end + line_end.map_or(rest.len(), |i| i + 1))
}

/// Drops the spaces before a standalone tag on its line (the end of the
/// text just pushed; `standalone` made sure they are only spaces).
fn trim_line_indent(nodes: &mut Vec<Node>) {
    if let Some(Node::Text(text)) = nodes.last_mut() {
        let keep = text.rfind('\n').map_or(0, |i| i + 1);
        text.truncate(keep);
        if text.is_empty() {
            nodes.pop();
        }
    }
}

/// The value `name` names from the innermost context outwards.
fn lookup<'a>(stack: &[&'a Json], name: &str) -> Option<&'a Json> {
    if name == "." {
        return stack.last().copied();
    }
    let mut parts = name.split('.');
    let first = parts.next()?;
    let mut value = stack.iter().rev().find_map(|ctx| ctx.get(first))?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

fn truthy(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) | Some(Json::Bool(false)) => false,
        Some(Json::Array(items)) => !items.is_empty(),
        Some(_) => true,
    }
}

fn write_nodes(nodes: &[Node], stack: &mut Vec<&Json>, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Variable { name, escape } => {
                let text = match lookup(stack, name) {
                    None | Some(Json::Null) => String::new(),
                    Some(Json::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                if *escape {
                    escape_html(&text, out);
                } else {
                    out.push_str(&text);
                }
            }
            Node::Section {
                name,
                inverted,
                children,
            } => {
                let value = lookup(stack, name);
                if *inverted {
                    if !truthy(value) {
                        write_nodes(children, stack, out)?;
                    }
                } else if let (true, Some(value)) = (truthy(value), value) {
                    let items = match value {
                        Json::Array(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    for item in items {
                        stack.push(item);
                        let written = write_nodes(children, stack, out);
                        stack.pop();
                        written?;
                    }
                }
            }
        }
        if out.len() > MAX_OUTPUT {
            return Err(format!("the text is longer than {MAX_OUTPUT} bytes"));
        }
    }
    Ok(())
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(template: &str, data: Json) -> String {
        render(template, &data).expect("renders")
    }

    #[test]
    fn variables_of_every_json_type_render_and_never_panic() {
        let data = json!({"s": "<b>&", "n": 15000, "f": 1.5, "t": true, "no": false,
                          "list": [1, "a"], "obj": {"k": "v"}, "nil": null});
        assert_eq!(
            r("{{s}}|{{{s}}}|{{& s}}", data.clone()),
            "&lt;b&gt;&amp;|<b>&|<b>&"
        );
        assert_eq!(
            r("{{n}} {{f}} {{t}} {{no}}", data.clone()),
            "15000 1.5 true false"
        );
        assert_eq!(
            r("{{list}}|{{{obj}}}|{{nil}}|{{missing}}", data.clone()),
            "[1,&quot;a&quot;]|{\"k\":\"v\"}||"
        );
        // The fuzzer's case: the implicit iterator over the whole object.
        assert_eq!(r("{{{.}}}", json!({"a": 1})), "{\"a\":1}");
        assert_eq!(r("{{#list}}[{{.}}]{{/list}}", data), "[1][a]");
    }

    #[test]
    fn sections_iterate_lists_enter_objects_and_test_truth() {
        let data = json!({"items": [{"k": "x"}, {"k": "y"}], "project": {"name": "Pachca"},
                          "on": true, "off": false, "empty": [], "name": "outer"});
        assert_eq!(r("{{#items}}{{k}},{{/items}}", data.clone()), "x,y,");
        assert_eq!(
            r(
                "{{#project}}{{name}}{{/project}} {{project.name}}",
                data.clone()
            ),
            "Pachca Pachca"
        );
        assert_eq!(
            r(
                "{{#on}}{{name}}{{/on}}{{#off}}no{{/off}}{{#empty}}no{{/empty}}",
                data.clone()
            ),
            "outer"
        );
        assert_eq!(
            r(
                "{{^off}}a{{/off}}{{^empty}}b{{/empty}}{{^missing}}c{{/missing}}{{^on}}d{{/on}}",
                data.clone()
            ),
            "abc"
        );
        // A dotted name found at its first part does not fall back outwards.
        assert_eq!(
            r("{{#project}}{{project.missing}}|{{name}}{{/project}}", data),
            "|Pachca"
        );
    }

    #[test]
    fn standalone_lines_comments_and_delimiters() {
        let data = json!({"items": ["a", "b"], "x": 1});
        assert_eq!(
            r(
                "List:\n  {{#items}}\n- {{.}}\n  {{/items}}\nend",
                data.clone()
            ),
            "List:\n- a\n- b\nend"
        );
        assert_eq!(r("a {{! note }}b\n{{! alone }}\nc", data.clone()), "a b\nc");
        assert_eq!(
            r("{{=<% %>=}}<% x %> {{x}} <%={{ }}=%>{{x}}", data.clone()),
            "1 {{x}} 1"
        );
        assert_eq!(r("[{{> partial}}]", data), "[]");
    }

    #[test]
    fn broken_templates_are_errors_in_one_line() {
        for template in [
            "{{#a}}open",
            "{{/a}}",
            "{{#a}}{{/b}}",
            "{{ x",
            "{{{x}}",
            "{{= a =}}",
        ] {
            let e = render(template, &json!({})).expect_err(template);
            assert!(!e.is_empty() && !e.contains('\n'), "{template}: {e}");
        }
        let deep = "{{#a}}".repeat(MAX_DEPTH + 1);
        assert!(render(&deep, &json!({})).is_err());
        let wide = json!({"l": (0..200).collect::<Vec<_>>()});
        let e =
            render("{{#l}}{{#l}}{{#l}}xxxxxxxxxx{{/l}}{{/l}}{{/l}}", &wide).expect_err("too long");
        assert!(e.contains("longer"), "{e}");
    }
}
