//! File text inside messages, made safe to print. A module of its own
//! (no dependencies) so that every layer, `error` included, can use it.

/// Text from a file shown in a message: control characters escaped
/// (`\u{1b}`, `\n`), so that a crafted key or path cannot send terminal
/// escape sequences or break the message's single line.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(shown("plain ü"), "plain ü");
        assert_eq!(shown("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
    }
}
