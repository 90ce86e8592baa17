//! Message templates of incoming webhooks (`guides/incoming-webhooks.md`):
//! the JSON an external service posts is rendered with the bot's `template`
//! in its `template_engine`, Liquid (the `liquid` crate, with its standard
//! filters: strings, numbers, arrays and `date`) or Mustache
//! ([`super::mustache`]: variables, sections, inverted sections, dotted
//! names).
//!
//! The JSON's top-level fields are the template's variables; a body that is
//! not an object gives the template no variables. As in Shopify's Liquid,
//! a field the JSON lacks is nil (it renders empty and is false in `if`), in
//! the top-level object and in objects nested in it: services leave
//! optional fields out. liquid-rust itself is strict about unknown variables,
//! so the globals are wrapped in [`LaxObject`]; inside arrays (`for` loops)
//! a missing field is still an error. A template that does not parse, or
//! fails while rendering (an unknown filter, a bad argument), is a
//! [`TemplateError`] whose text the caller posts as the guide says.
//!
//! `date` also reads RFC 3339 timestamps (`2025-05-18T14:30:00Z`, what
//! services send), which liquid-rust's own `date` does not; see [`IsoDate`].

use std::collections::BTreeMap;

use liquid::model::{
    DisplayCow, KStringCow, Object, ObjectView, State, Value as LiquidValue, ValueView,
};
use liquid_core::FilterParameters;
use serde_json::Value as Json;

/// Arguments of `date`.
#[derive(Debug, FilterParameters)]
struct DateArgs {
    #[parameter(
        description = "The strftime format to write the date in.",
        arg_type = "str"
    )]
    format: liquid_core::Expression,
}

/// `date` as in the standard library, for RFC 3339 timestamps too: such a
/// string is first rewritten to the form liquid-rust parses
/// (`YYYY-MM-DD HH:MM:SS +HHMM`, via the `time` crate). Registered after the
/// standard filters, so it replaces theirs.
#[derive(Clone, liquid_core::ParseFilter, liquid_core::FilterReflection)]
#[filter(
    name = "date",
    description = "Converts a timestamp into another date format.",
    parameters(DateArgs),
    parsed(DateFilter)
)]
pub struct IsoDate;

#[derive(Debug, liquid_core::FromFilterParameters, liquid_core::Display_filter)]
#[name = "date"]
struct DateFilter {
    #[parameters]
    args: DateArgs,
}

/// An RFC 3339 timestamp in liquid-rust's own date-time form.
fn liquid_form(text: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    let offset = at.offset();
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    ))
}

impl liquid_core::Filter for DateFilter {
    fn evaluate(
        &self,
        input: &dyn ValueView,
        runtime: &dyn liquid_core::Runtime,
    ) -> liquid_core::Result<LiquidValue> {
        let args = self.args.evaluate(runtime)?;
        let date = input.as_scalar().and_then(|s| {
            s.to_date_time().or_else(|| {
                liquid_form(s.to_kstr().as_str())
                    .and_then(|t| liquid::model::DateTime::from_str(&t))
            })
        });
        match date {
            Some(date) if !args.format.is_empty() => date
                .format(args.format.as_str())
                .map(LiquidValue::scalar)
                .map_err(|_| {
                    liquid_core::Error::with_msg(format!(
                        "Invalid date-format string: {}",
                        args.format
                    ))
                }),
            _ => Ok(input.to_value()),
        }
    }
}

/// What a missing field reads as.
static NIL: LiquidValue = LiquidValue::Nil;

/// A view of a Liquid object where a missing key is nil, recursively for
/// nested objects (it borrows the globals; nothing is copied).
#[derive(Debug)]
struct LaxObject<'a> {
    object: &'a Object,
    children: BTreeMap<&'a str, LaxObject<'a>>,
}

impl<'a> LaxObject<'a> {
    fn new(object: &'a Object) -> Self {
        let children = object
            .iter()
            .filter_map(|(k, v)| match v {
                LiquidValue::Object(o) => Some((k.as_str(), LaxObject::new(o))),
                _ => None,
            })
            .collect();
        Self { object, children }
    }
}

impl ValueView for LaxObject<'_> {
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        self.object.render()
    }
    fn source(&self) -> DisplayCow<'_> {
        self.object.source()
    }
    fn type_name(&self) -> &'static str {
        self.object.type_name()
    }
    fn query_state(&self, state: State) -> bool {
        self.object.query_state(state)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        self.object.to_kstr()
    }
    fn to_value(&self) -> LiquidValue {
        self.object.to_value()
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for LaxObject<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        ObjectView::size(self.object)
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        ObjectView::keys(self.object)
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        ObjectView::values(self.object)
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        ObjectView::iter(self.object)
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        if let Some(child) = self.children.get(index) {
            return Some(child);
        }
        Some(ObjectView::get(self.object, index).unwrap_or(&NIL))
    }
}

/// Why a template could not be rendered, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Refuses an integer literal in a Liquid tag that does not fit 64 bits:
/// liquid-core 0.26 panics on one (`expect` in its literal parser, found by
/// `fuzz/fuzz_targets/message_content.rs`), which would abort the component
/// on every call of the webhook. Digits anywhere between `{{`/`{%` and the
/// tag's end are read as a literal, so a long number inside a quoted string
/// there is refused too; a float (`1e999`) is not a problem.
fn integers_fit(template: &str) -> Result<(), TemplateError> {
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        let open = &rest[at..];
        let closing = match open.as_bytes().get(1) {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                rest = &open[1..];
                continue;
            }
        };
        let end = open.find(closing).unwrap_or(open.len());
        let tag = &open[..end];
        let bytes = tag.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = if i > 0 && bytes[i - 1] == b'-' {
                i - 1
            } else {
                i
            };
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if tag[start..i].parse::<i64>().is_err() {
                return Err(TemplateError(format!(
                    "the number {} does not fit 64 bits",
                    &tag[start..i]
                )));
            }
        }
        rest = &open[end.max(1)..];
    }
    Ok(())
}

/// The template languages a bot may choose (`BotTemplateEngine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Shopify's Liquid.
    Liquid,
    /// Logic-less Mustache.
    Mustache,
}

impl Engine {
    /// The engine named by `template_engine` (`liquid` when unknown).
    pub fn named(name: &str) -> Engine {
        if name.eq_ignore_ascii_case("mustache") {
            Engine::Mustache
        } else {
            Engine::Liquid
        }
    }
}

/// The first line of an error's text, without the engine's decorations.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
        .trim_start_matches("liquid: ")
        .to_owned()
}

/// Renders `template` with `engine` over the fields of `data`.
pub fn render(engine: Engine, template: &str, data: &Json) -> Result<String, TemplateError> {
    let fields = match data {
        Json::Object(_) => data.clone(),
        _ => Json::Object(serde_json::Map::new()),
    };
    match engine {
        Engine::Liquid => {
            integers_fit(template)?;
            let parser = liquid::ParserBuilder::with_stdlib()
                .filter(IsoDate)
                .build()
                .map_err(|e| TemplateError(one_line(&e.to_string())))?;
            let parsed = parser
                .parse(template)
                .map_err(|e| TemplateError(one_line(&e.to_string())))?;
            let globals = liquid::model::to_object(&fields)
                .map_err(|e| TemplateError(one_line(&e.to_string())))?;
            parsed
                .render(&LaxObject::new(&globals))
                .map_err(|e| TemplateError(one_line(&e.to_string())))
        }
        Engine::Mustache => super::mustache::render(template, &fields).map_err(TemplateError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> Json {
        json!({"client": "Иван Петров", "amount": 15000, "status": "оплачен",
               "project": {"name": "Pachca"}})
    }

    #[test]
    fn the_guides_order_example_renders_in_both_engines() {
        let liquid = "Заказ от {{ client }} на сумму {{ amount }} ₽ — {{ status }}\nПроект: {{ project.name }}";
        let mustache = "Заказ от {{ client }} на сумму {{ amount }} ₽ — {{ status }}\n{{#project}}Проект: {{ name }}{{/project}}";
        let expected = "Заказ от Иван Петров на сумму 15000 ₽ — оплачен\nПроект: Pachca";
        assert_eq!(render(Engine::Liquid, liquid, &order()).unwrap(), expected);
        assert_eq!(
            render(Engine::Mustache, mustache, &order()).unwrap(),
            expected
        );
        // Mustache's dotted names too.
        assert_eq!(
            render(Engine::Mustache, "{{ project.name }}", &order()).unwrap(),
            "Pachca"
        );
    }

    #[test]
    fn every_liquid_feature_the_guide_lists_works() {
        let data = json!({
            "name": "  Release Notes  ", "title": "hello world", "n": 7.6, "neg": -3,
            "tags": ["b", "a", "b", "c"], "url": "a b&c",
            "items": [{"k": "x", "ok": true}, {"k": "y", "ok": false}, {"k": "z", "ok": true}],
            "at": "2025-05-18T14:30:00Z", "level": "warn"
        });
        let cases = [
            (
                "{% if n > 5 %}big{% elsif n > 2 %}mid{% else %}small{% endif %}",
                "big",
            ),
            ("{% unless neg > 0 %}negative{% endunless %}", "negative"),
            (
                "{% case level %}{% when 'warn' %}W{% when 'err' %}E{% endcase %}",
                "W",
            ),
            (
                "{% for t in tags limit:2 offset:1 %}{{ t }}{% endfor %}",
                "ab",
            ),
            ("{% for t in tags reversed %}{{ t }}{% endfor %}", "cbab"),
            (
                "{{ title | upcase }}|{{ 'ABC' | downcase }}|{{ title | capitalize }}",
                "HELLO WORLD|abc|Hello world",
            ),
            ("{{ title | truncate: 8 }}", "hello..."),
            (
                "{{ title | replace: 'world', 'there' }}|{{ title | remove: 'o' }}",
                "hello there|hell wrld",
            ),
            ("[{{ name | strip }}]", "[Release Notes]"),
            (
                "{{ '<b>' | escape }}|{{ url | url_encode }}",
                "&lt;b&gt;|a%20b%26c",
            ),
            (
                "{{ 2 | plus: 3 }} {{ 5 | minus: 1 }} {{ 3 | times: 4 }} {{ 10 | divided_by: 3 }}",
                "5 4 12 3",
            ),
            (
                "{{ n | round }} {{ n | ceil }} {{ n | floor }} {{ neg | abs }}",
                "8 8 7 3",
            ),
            (
                "{{ tags | join: ',' }}|{{ tags | first }}|{{ tags | last }}|{{ tags | size }}",
                "b,a,b,c|b|c|4",
            ),
            (
                "{{ tags | sort | join: '' }}|{{ tags | uniq | join: '' }}",
                "abbc|bac",
            ),
            (
                "{{ items | where: 'ok', true | map: 'k' | join: ',' }}",
                "x,z",
            ),
            ("{{ at | date: '%d.%m.%Y %H:%M' }}", "18.05.2025 14:30"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                render(Engine::Liquid, template, &data).as_deref(),
                Ok(expected),
                "{template}"
            );
        }
    }

    #[test]
    fn fields_the_json_lacks_are_nil_not_errors() {
        let data = json!({"alert": {"name": "CPU"}, "tags": []});
        let template = "{{ missing }}[{{ alert.severity }}]{% if alert.url %}link{% else %}no link{% endif %} {{ alert.name }}";
        assert_eq!(
            render(Engine::Liquid, template, &data).unwrap(),
            "[]no link CPU"
        );
        assert_eq!(
            render(
                Engine::Mustache,
                "{{ missing }}[{{ alert.severity }}]",
                &data
            )
            .unwrap(),
            "[]"
        );
    }

    #[test]
    fn integers_beyond_64_bits_are_refused_not_a_panic() {
        // Found by fuzzing: liquid-core panics parsing such a literal.
        let e = render(Engine::Liquid, "{{ 44444444444444444444 }}", &order()).unwrap_err();
        assert!(e.0.contains("44444444444444444444"), "{e:?}");
        let e = render(
            Engine::Liquid,
            "{% if amount > 99999999999999999999 %}x{% endif %}",
            &order(),
        );
        assert!(e.is_err());
        assert_eq!(
            render(
                Engine::Liquid,
                "{{ -9223372036854775808 }} {{ 9223372036854775807 }} 99999999999999999999",
                &order()
            )
            .unwrap(),
            "-9223372036854775808 9223372036854775807 99999999999999999999"
        );
    }

    #[test]
    fn syntax_errors_are_reported_in_one_line() {
        let e = render(Engine::Liquid, "{% if %}", &order()).unwrap_err();
        assert!(!e.0.is_empty() && !e.0.contains('\n'), "{e:?}");
        let e = render(Engine::Mustache, "{{#project}}unclosed", &order()).unwrap_err();
        assert!(!e.0.is_empty() && !e.0.contains('\n'), "{e:?}");
    }

    #[test]
    fn a_body_that_is_not_an_object_gives_no_variables() {
        assert_eq!(
            render(Engine::Liquid, "[{{ client }}]", &json!([1, 2])).unwrap(),
            "[]"
        );
        assert_eq!(
            render(Engine::Mustache, "[{{ client }}]", &json!("text")).unwrap(),
            "[]"
        );
    }
}
