//! Spin's `{{ variable }}` templates, used in component variables and in
//! `allowed_outbound_hosts`.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// A parsed template such as `"Bearer {{ admin_token }}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template; an unmatched `{{` or an empty name is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unmatched `{{{{` in template {text:?}"))?;
            let name = after[..end].trim();
            if name.is_empty() {
                return Err(format!("empty variable name in template {text:?}"));
            }
            parts.push(Part::Variable(name.to_string()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// The application variables this template reads.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the template, looking variables up with `resolve`.
    pub fn render<E>(
        &self,
        mut resolve: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(&resolve(name)?),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("Bearer {{ token }}!{{x}}").expect("valid");
        assert_eq!(t.references().collect::<Vec<_>>(), ["token", "x"]);
        let out: Result<String, ()> = t.render(|n| Ok(n.to_uppercase()));
        assert_eq!(out, Ok("Bearer TOKEN!X".to_string()));
    }

    #[test]
    fn rejects_unmatched_and_empty() {
        assert!(Template::parse("a {{ b").is_err());
        assert!(Template::parse("{{ }}").is_err());
        assert!(Template::parse("plain").is_ok());
    }
}
