//! Spin's identifier rules: kebab-case component ids, lower_snake variable
//! names, and store labels that may be either.

/// Checks a component id: words joined by `-`, each starting with an ASCII
/// letter, alphanumeric, and either all lowercase or all uppercase.
pub fn validate_kebab(id: &str) -> Result<(), String> {
    validate_words(id, '-', true)
}

/// Checks a variable name: words joined by `_`, each starting with an ASCII
/// letter, lowercase alphanumerics only.
pub fn validate_lower_snake(name: &str) -> Result<(), String> {
    validate_words(name, '_', false)
}

/// Checks a key-value store or SQLite database label: kebab or snake case.
pub fn validate_label(label: &str) -> Result<(), String> {
    if validate_kebab(label).is_ok() || validate_lower_snake(label).is_ok() {
        Ok(())
    } else {
        Err("must be kebab-case or snake_case".into())
    }
}

fn validate_words(text: &str, separator: char, allow_upper_words: bool) -> Result<(), String> {
    let style = if separator == '-' {
        "kebab-case"
    } else {
        "lower_snake_case"
    };
    if text.is_empty() {
        return Err(format!("must not be empty ({style})"));
    }
    for word in text.split(separator) {
        let first = word
            .chars()
            .next()
            .ok_or_else(|| format!("must be {style}: empty word"))?;
        if !first.is_ascii_alphabetic() {
            return Err(format!(
                "must be {style}: each word must start with a letter"
            ));
        }
        if !word.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("must be {style}: only letters and digits in words"));
        }
        let lower = word.chars().all(|c| !c.is_ascii_uppercase());
        let upper = word.chars().all(|c| !c.is_ascii_lowercase());
        if !(lower || (allow_upper_words && upper)) {
            return Err(format!("must be {style}: mixed-case word {word:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab() {
        for ok in ["web", "web-api", "WEB-api", "a1-b2"] {
            assert!(validate_kebab(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "Web", "web_api", "-web", "web-", "1web", "web--api", "wEb",
        ] {
            assert!(validate_kebab(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snake() {
        for ok in ["admin_token", "a", "x1_y2"] {
            assert!(validate_lower_snake(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Admin", "a__b", "_a", "a_", "a-b", "1a"] {
            assert!(validate_lower_snake(bad).is_err(), "{bad}");
        }
    }
}
