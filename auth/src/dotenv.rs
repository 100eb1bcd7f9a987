//! `.env` files: the parser only. `ask` loads the `.env` beside the program at start and sets each
//! variable that the real environment does not already have (the caller's job: this module does
//! no I/O). A malformed line is reported with its line number and skipped, never fatal.
//!
//! Syntax (the common subset of python-dotenv / docker / shell):
//! - blank lines and lines starting with `#` are skipped;
//! - `KEY=VALUE`, optional `export ` prefix, spaces around `=` allowed; KEY is
//!   `[A-Za-z_][A-Za-z0-9_.]*`;
//! - unquoted values run to the end of the line (an `=` inside stays), trimmed; ` #…` after
//!   whitespace is a comment;
//! - `'single'` quotes: literal text; `"double"` quotes: escapes `\n \r \t \" \\ \$`; both may
//!   span several lines; after the closing quote only whitespace or a `#` comment may follow;
//! - `KEY=` is the empty string. A key given twice: the last value wins.

/// `(KEY, VALUE)` pairs and `(line number, message)` problems.
pub type Parsed = (Vec<(String, String)>, Vec<(usize, String)>);

/// Parses `.env` text into `(KEY, VALUE)` pairs in first-appearance order, and the problems found
/// as `(line number starting at 1, message)`.
pub fn parse(text: &str) -> Parsed {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut errors = Vec::new();
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, raw)) = body.split_once('=') else {
            errors.push((
                line_no,
                format!("expected KEY=VALUE, got {:?}", truncate(line)),
            ));
            continue;
        };
        let key = key.trim_end();
        if !valid_key(key) {
            errors.push((
                line_no,
                format!("invalid variable name {:?}", truncate(key)),
            ));
            continue;
        }
        let raw = raw.trim_start();
        let value = match raw.chars().next() {
            Some(q @ ('"' | '\'')) => {
                // Gather the quoted text, possibly over several lines.
                let mut text = raw[1..].to_owned();
                let mut consumed_to = i;
                let parsed = loop {
                    if let Some((value, rest)) = close_quote(&text, q) {
                        break Some((value, rest));
                    }
                    if consumed_to >= lines.len() {
                        break None;
                    }
                    text.push('\n');
                    text.push_str(lines[consumed_to]);
                    consumed_to += 1;
                };
                match parsed {
                    None => {
                        errors.push((line_no, format!("unterminated {q} quote for {key}")));
                        // Skip only this line: the following lines may be fine.
                        continue;
                    }
                    Some((value, rest)) => {
                        i = consumed_to;
                        let rest = rest.trim();
                        if !rest.is_empty() && !rest.starts_with('#') {
                            errors.push((
                                line_no,
                                format!("unexpected text after the closing quote of {key}"),
                            ));
                            continue;
                        }
                        value
                    }
                }
            }
            _ => strip_comment(raw).trim_end().to_owned(),
        };
        match vars.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => vars.push((key.to_owned(), value)),
        }
    }
    (vars, errors)
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Unquoted value: a `#` preceded by whitespace starts a comment.
fn strip_comment(raw: &str) -> &str {
    let b = raw.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && i > 0 && (b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return &raw[..i];
        }
    }
    raw
}

/// `text` follows an opening quote `q`: the unescaped value and what follows the closing quote,
/// or `None` when there is no closing quote.
fn close_quote(text: &str, q: char) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Some((out, &text[i + 1..]));
        }
        if c == '\\' && q == '"' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 't')) => out.push('\t'),
                Some((_, e @ ('"' | '\\' | '$' | '\''))) => out.push(e),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
            continue;
        }
        out.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(vars: &'a [(String, String)], k: &str) -> Option<&'a str> {
        vars.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn conformance_file() {
        let text = "# Settings for local development.\nASKT_GREETING=hello from dotenv\nASKT_MODE=from-dotenv\n\nASKT_QUOTED=\"a quoted value\"\nASKT_EMPTY=\nASKT_DB_URL=postgres://app:pw@localhost/app?sslmode=disable\nexport ASKT_EXPORTED=yes\nthis line is not an assignment\nASKT_AFTER_BAD_LINE=still loaded\n";
        let (vars, errors) = parse(text);
        assert_eq!(get(&vars, "ASKT_GREETING"), Some("hello from dotenv"));
        assert_eq!(get(&vars, "ASKT_MODE"), Some("from-dotenv"));
        assert_eq!(get(&vars, "ASKT_QUOTED"), Some("a quoted value"));
        assert_eq!(get(&vars, "ASKT_EMPTY"), Some(""));
        assert_eq!(
            get(&vars, "ASKT_DB_URL"),
            Some("postgres://app:pw@localhost/app?sslmode=disable")
        );
        assert_eq!(get(&vars, "ASKT_EXPORTED"), Some("yes"));
        assert_eq!(get(&vars, "ASKT_AFTER_BAD_LINE"), Some("still loaded"));
        assert_eq!(vars.len(), 7);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 9);
        assert!(errors[0].1.contains("KEY=VALUE"));
    }

    #[test]
    fn quotes_escapes_and_comments() {
        let text = "A='single $HOME \\n'\nB=\"tab\\there \\\"q\\\" back\\\\slash\"  # note\nC=value # comment\nD=a#b\nE = spaced \r\nexport=1\nexportF=2\n  export   G=3\nH=\"line1\nline2\"\nI=\"x\" trailing\n";
        let (vars, errors) = parse(text);
        assert_eq!(get(&vars, "A"), Some("single $HOME \\n"));
        assert_eq!(get(&vars, "B"), Some("tab\there \"q\" back\\slash"));
        assert_eq!(get(&vars, "C"), Some("value"));
        assert_eq!(get(&vars, "D"), Some("a#b"));
        assert_eq!(get(&vars, "E"), Some("spaced"));
        assert_eq!(get(&vars, "export"), Some("1"));
        assert_eq!(get(&vars, "exportF"), Some("2"));
        assert_eq!(get(&vars, "G"), Some("3"));
        assert_eq!(get(&vars, "H"), Some("line1\nline2"));
        assert_eq!(get(&vars, "I"), None);
        assert_eq!(
            errors,
            vec![(
                11,
                "unexpected text after the closing quote of I".to_owned()
            )]
        );
    }

    #[test]
    fn malformed_lines_reported_and_skipped() {
        let text = "1BAD=x\nGOOD=1\nBAD KEY=2\nQ=\"open\nLATER=ok\n=novalue\nDUP=a\nDUP=b\n";
        let (vars, errors) = parse(text);
        let lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![1, 3, 4, 6]);
        assert!(errors[2].1.contains("unterminated"));
        assert_eq!(get(&vars, "GOOD"), Some("1"));
        assert_eq!(get(&vars, "LATER"), Some("ok"));
        assert_eq!(get(&vars, "DUP"), Some("b"));
        assert_eq!(get(&vars, "Q"), None);
    }

    #[test]
    fn empty_and_crlf() {
        assert_eq!(parse(""), (vec![], vec![]));
        let (vars, errors) = parse("A=1\r\nB=\"2\"\r\n");
        assert!(errors.is_empty());
        assert_eq!(
            vars,
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
    }
}
