//! The one HTML escaping of the project: the report's HTML and SVG and the web's pages and
//! diagrams all write text through `Escaped`, so a name or a message from an exercise file or
//! a journal cannot open a tag or leave an attribute.

use std::fmt;

/// Text made safe for HTML or SVG, as element text or as a quoted attribute value: `&`, `<`,
/// `>`, `"` and `'` are written as entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn every_character_that_opens_markup_or_ends_an_attribute_is_an_entity() {
        assert_eq!(
            Escaped(r#"<a href='x'>"R&D" ü</a>"#).to_string(),
            "&lt;a href=&#39;x&#39;&gt;&quot;R&amp;D&quot; ü&lt;/a&gt;"
        );
        assert_eq!(Escaped("plain").to_string(), "plain");
        assert_eq!(Escaped("").to_string(), "");
    }
}
