//! Whether a cell's code is complete, for `is_complete_request` (consoles
//! use it to decide whether Enter runs the code or opens a new line).
//!
//! A light scanner, not a parser: it follows strings (plain, byte and raw),
//! character literals versus lifetimes, line and nested block comments, and
//! bracket nesting. Code is incomplete while a string, a comment or a bracket
//! is open; invalid when a bracket closes what it did not open.

/// The answer to "can this code run as it is?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completeness {
    /// Every string, comment and bracket is closed.
    Complete,
    /// More lines are needed; the next line should start with `indent`.
    Incomplete {
        /// Whitespace for the next line: four spaces per open bracket.
        indent: String,
    },
    /// A closing bracket does not match, so no continuation can fix it.
    Invalid,
}

/// Scans `code` and says whether it is complete.
pub fn completeness(code: &str) -> Completeness {
    let characters: Vec<char> = code.chars().collect();
    let mut open_brackets: Vec<char> = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let next = characters.get(index + 1).copied();
        match character {
            '/' if next == Some('/') => {
                while index < characters.len() && characters[index] != '\n' {
                    index += 1;
                }
            }
            '/' if next == Some('*') => match skip_block_comment(&characters, index) {
                Some(end) => index = end,
                None => return incomplete(&open_brackets),
            },
            '"' => match skip_string(&characters, index + 1) {
                Some(end) => index = end,
                None => return incomplete(&open_brackets),
            },
            'r' | 'b' if starts_raw_string(&characters, index) => {
                match skip_raw_string(&characters, index) {
                    Some(end) => index = end,
                    None => return incomplete(&open_brackets),
                }
            }
            '\'' => index = skip_char_or_lifetime(&characters, index),
            '(' | '[' | '{' => open_brackets.push(character),
            ')' | ']' | '}' => {
                let expected = match character {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open_brackets.pop() != Some(expected) {
                    return Completeness::Invalid;
                }
            }
            _ if is_identifier_char(character) => {
                // Skip the identifier whole, so the `r` or `b` inside a name
                // (`bar"`, `fr#`) is never taken for a string prefix.
                while index + 1 < characters.len() && is_identifier_char(characters[index + 1]) {
                    index += 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    if open_brackets.is_empty() {
        Completeness::Complete
    } else {
        incomplete(&open_brackets)
    }
}

fn incomplete(open_brackets: &[char]) -> Completeness {
    Completeness::Incomplete {
        indent: "    ".repeat(open_brackets.len()),
    }
}

fn is_identifier_char(character: char) -> bool {
    character.is_alphanumeric() || character == '_'
}

/// Index of the closing `"` of a string whose body starts at `start`.
fn skip_string(characters: &[char], start: usize) -> Option<usize> {
    let mut index = start;
    while index < characters.len() {
        match characters[index] {
            '\\' => index += 2,
            '"' => return Some(index),
            _ => index += 1,
        }
    }
    None
}

/// Index of the `/` that ends the (possibly nested) block comment at `start`.
fn skip_block_comment(characters: &[char], start: usize) -> Option<usize> {
    let mut depth = 0;
    let mut index = start;
    while index + 1 < characters.len() {
        match (characters[index], characters[index + 1]) {
            ('/', '*') => {
                depth += 1;
                index += 2;
            }
            ('*', '/') => {
                depth -= 1;
                index += 2;
                if depth == 0 {
                    return Some(index - 1);
                }
            }
            _ => index += 1,
        }
    }
    None
}

/// Whether a raw string (`r"`, `r#"`, `br"`, `br#"`) or byte string (`b"`) starts at `index`.
fn starts_raw_string(characters: &[char], index: usize) -> bool {
    let mut cursor = index;
    if characters[cursor] == 'b' {
        cursor += 1;
        if characters.get(cursor) == Some(&'"') {
            return true;
        }
    }
    if characters.get(cursor) != Some(&'r') {
        return false;
    }
    cursor += 1;
    while characters.get(cursor) == Some(&'#') {
        cursor += 1;
    }
    characters.get(cursor) == Some(&'"')
}

/// Index of the last character of the raw or byte string starting at `index`.
fn skip_raw_string(characters: &[char], index: usize) -> Option<usize> {
    let mut cursor = index;
    if characters[cursor] == 'b' {
        cursor += 1;
        if characters[cursor] == '"' {
            return skip_string(characters, cursor + 1);
        }
    }
    cursor += 1; // the `r`
    let mut hashes = 0;
    while characters[cursor] == '#' {
        hashes += 1;
        cursor += 1;
    }
    cursor += 1; // the opening quote
    while cursor < characters.len() {
        if characters[cursor] == '"'
            && (1..=hashes).all(|offset| characters.get(cursor + offset) == Some(&'#'))
        {
            return Some(cursor + hashes);
        }
        cursor += 1;
    }
    None
}

/// Skips a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime
/// (`'a`), returning the index of its last character.
fn skip_char_or_lifetime(characters: &[char], index: usize) -> usize {
    match characters.get(index + 1) {
        Some('\\') => {
            let mut cursor = index + 2;
            while cursor < characters.len() && characters[cursor] != '\'' {
                cursor += 1;
            }
            cursor
        }
        Some(_) if characters.get(index + 2) == Some(&'\'') => index + 2,
        _ => index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(code: &str, expected: Completeness) {
        assert_eq!(completeness(code), expected, "code: {code:?}");
    }

    fn open(depth: usize) -> Completeness {
        Completeness::Incomplete {
            indent: "    ".repeat(depth),
        }
    }

    #[test]
    fn complete_code() {
        check("let x = 1;", Completeness::Complete);
        check("fn f() { println!(\"}\"); }", Completeness::Complete);
        check("let c = '{'; let s = r#\"{\"#;", Completeness::Complete);
        check(
            "fn f<'a>(x: &'a str) -> &'a str { x }",
            Completeness::Complete,
        );
        check("// {\nlet x = 1;", Completeness::Complete);
        check("/* { /* } */ */ let x = 1;", Completeness::Complete);
        check("let b = b\"{\"; let e = '\\'';", Completeness::Complete);
        check("let bar = \"(\";", Completeness::Complete);
    }

    #[test]
    fn incomplete_code() {
        check("fn f() {", open(1));
        check("fn f() {\n    let v = vec![", open(2));
        check("let s = \"unterminated", open(0));
        check("let s = r#\"still \" open", open(0));
        check("/* comment", open(0));
        check("mp::Process::new(move || {", open(2));
    }

    #[test]
    fn invalid_code() {
        check("fn f() }", Completeness::Invalid);
        check("let v = (1, 2];", Completeness::Invalid);
    }
}
