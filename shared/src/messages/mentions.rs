//! Mentions in message text: `@nickname` and `<@id>` forms, found and
//! rewritten.

fn is_nick_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// One mention found in message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    /// `<@123>`.
    Id(i64),
    /// `@nickname` (without the `@`, trailing dots trimmed).
    Nickname(String),
}

/// Every mention in `content`, in order: `<@user_id>` and `@nickname` (an
/// `@` at the start or after a character that cannot be part of a
/// nickname, so e-mail addresses are not mentions).
pub fn find_mentions(content: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = content.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c == '<' && content[pos..].starts_with("<@") {
            let digits: String = content[pos + 2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() && content[pos + 2 + digits.len()..].starts_with('>') {
                if let Ok(id) = digits.parse() {
                    out.push(Mention::Id(id));
                }
                i += 3 + digits.len();
                continue;
            }
        }
        if c == '@' {
            let prev_ok = i == 0 || !(is_nick_char(chars[i - 1].1) || chars[i - 1].1 == '<');
            let nick: String = content[pos + 1..]
                .chars()
                .take_while(|c| is_nick_char(*c))
                .collect();
            let nick = nick.trim_end_matches(['.', '-']).to_owned();
            if prev_ok && !nick.is_empty() {
                i += 1 + nick.chars().count();
                out.push(Mention::Nickname(nick));
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Replaces every `<@user_id>` whose user `nickname_of` knows by
/// `@nickname`; unknown ids are left as written.
pub fn rewrite_mentions(content: &str, nickname_of: &dyn Fn(i64) -> Option<String>) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let closes = !digits.is_empty() && after[digits.len()..].starts_with('>');
        match (closes, digits.parse::<i64>().ok().and_then(nickname_of)) {
            (true, Some(nick)) => {
                out.push('@');
                out.push_str(&nick);
                rest = &after[digits.len() + 1..];
            }
            _ => {
                out.push_str("<@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
