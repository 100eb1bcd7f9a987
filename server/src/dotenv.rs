//! `.env` files: `NAME=value` lines loaded at start into the program's environment view (the
//! real environment always wins). Comments (`#`) and blank lines are skipped, an `export `
//! prefix is allowed, the value runs to the end of the line (an `=` inside it stays), matching
//! surrounding quotes are removed (`"…"` also understands `\n`, `\t`, `\"`, `\\`), and an unquoted
//! value loses a trailing ` # comment`. A malformed line is reported with its number and skipped.

/// Parse `.env` text: the assignments in order, and `(line number, message)` for bad lines.
pub fn parse(text: &str) -> (Vec<(String, String)>, Vec<(usize, String)>) {
    let mut vars = Vec::new();
    let mut bad = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            bad.push((n + 1, format!("not a NAME=value assignment: {raw:?}")));
            continue;
        };
        let name = name.trim();
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        if !valid {
            bad.push((n + 1, format!("invalid variable name {name:?}")));
            continue;
        }
        let value = value.trim();
        let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            let inner = &value[1..value.len() - 1];
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('r') => out.push('\r'),
                        Some(o) => out.push(o),
                        None => out.push('\\'),
                    }
                } else {
                    out.push(c);
                }
            }
            out
        } else if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
            value[1..value.len() - 1].to_string()
        } else {
            match value.find(" #") {
                Some(i) => value[..i].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        vars.push((name.to_string(), value));
    }
    (vars, bad)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_like_python_dotenv() {
        let text = "# c\nA=hello from dotenv\n\nQ=\"a quoted value\"\nE=\nU=postgres://app:pw@localhost/app?sslmode=disable\nexport X=yes\nthis line is not an assignment\nB=still loaded\nC='single' \nD=v # comment\n";
        let (vars, bad) = super::parse(text);
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("hello from dotenv"));
        assert_eq!(get("Q"), Some("a quoted value"));
        assert_eq!(get("E"), Some(""));
        assert_eq!(get("U"), Some("postgres://app:pw@localhost/app?sslmode=disable"));
        assert_eq!(get("X"), Some("yes"));
        assert_eq!(get("B"), Some("still loaded"));
        assert_eq!(get("C"), Some("single"));
        assert_eq!(get("D"), Some("v"));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 8);
    }
}
