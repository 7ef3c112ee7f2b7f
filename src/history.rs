//! The inputs of this kernel session, for `history_request`
//! (<https://jupyter-client.readthedocs.io/en/latest/messaging.html#history>).

use jupyter_protocol::{HistoryEntry, HistoryRequest};

/// The session number the kernel reports; one kernel process is one session.
const SESSION: usize = 1;

/// One execution: its line number, input, and the text of its result.
#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    input: String,
    output: String,
}

/// Every input run with `store_history`, in order.
#[derive(Debug, Default)]
pub struct History {
    entries: Vec<Entry>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Records the input run as execution `line`.
    pub fn record(&mut self, line: usize, input: &str) {
        self.entries.push(Entry {
            line,
            input: input.to_owned(),
            output: String::new(),
        });
    }

    /// Records the text of the result of the last recorded execution.
    pub fn record_output(&mut self, output: &str) {
        if let Some(last) = self.entries.last_mut() {
            last.output = output.to_owned();
        }
    }

    /// The entries a request asks for, oldest first.
    pub fn answer(&self, request: &HistoryRequest) -> Vec<HistoryEntry> {
        let (selected, with_output): (Vec<&Entry>, bool) = match request {
            HistoryRequest::Tail { n, output, .. } => {
                (last(self.entries.iter().collect(), *n), *output)
            }
            HistoryRequest::Range {
                session,
                start,
                stop,
                output,
                ..
            } => {
                // Session 0 (or absent) is the current one; earlier sessions
                // are not kept.
                let entries =
                    if session.is_some_and(|session| session != 0 && session as usize != SESSION) {
                        Vec::new()
                    } else {
                        self.entries
                            .iter()
                            .filter(|entry| {
                                (entry.line as i64) >= i64::from(*start)
                                    && (*stop <= 0 || (entry.line as i64) < i64::from(*stop))
                            })
                            .collect()
                    };
                (entries, *output)
            }
            HistoryRequest::Search {
                pattern,
                unique,
                n,
                output,
                ..
            } => {
                let mut matching: Vec<&Entry> = self
                    .entries
                    .iter()
                    .filter(|entry| glob_match(pattern, &entry.input))
                    .collect();
                if *unique {
                    // Keep the latest run of each distinct input.
                    let mut seen = std::collections::HashSet::new();
                    matching.reverse();
                    matching.retain(|entry| seen.insert(entry.input.as_str()));
                    matching.reverse();
                }
                (last(matching, *n), *output)
            }
        };
        selected
            .into_iter()
            .map(|entry| {
                if with_output {
                    HistoryEntry::InputOutput(
                        SESSION,
                        entry.line,
                        (entry.input.clone(), entry.output.clone()),
                    )
                } else {
                    HistoryEntry::Input(SESSION, entry.line, entry.input.clone())
                }
            })
            .collect()
    }
}

/// The last `n` items (all of them when `n` is not positive).
fn last<T>(mut items: Vec<T>, n: i32) -> Vec<T> {
    if n > 0 && items.len() > n as usize {
        items.drain(..items.len() - n as usize);
    }
    items
}

/// One element of a glob pattern.
#[derive(Debug, PartialEq, Eq)]
enum GlobToken {
    /// `*`: any run of characters, none included.
    AnyRun,
    /// `?`: any one character.
    AnyOne,
    /// `[...]`: one character of a set (ranges `a-z`; `^` first negates).
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// Anything else stands for itself.
    Literal(char),
}

/// Splits a pattern as SQLite's GLOB reads it (IPython searches history
/// with `GLOB`).
fn glob_tokens(pattern: &str) -> Vec<GlobToken> {
    let characters: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let token = match characters[index] {
            '*' => GlobToken::AnyRun,
            '?' => GlobToken::AnyOne,
            '[' => match glob_set(&characters[index + 1..]) {
                Some((token, used)) => {
                    index += used;
                    token
                }
                // SQLite matches nothing against an unclosed set.
                None => GlobToken::Set {
                    negated: false,
                    ranges: Vec::new(),
                },
            },
            other => GlobToken::Literal(other),
        };
        tokens.push(token);
        index += 1;
    }
    tokens
}

/// Reads a set after its `[`; returns it and how many characters it used,
/// its `]` included. A `]` right after `[` or `[^` belongs to the set.
fn glob_set(rest: &[char]) -> Option<(GlobToken, usize)> {
    let negated = rest.first() == Some(&'^');
    let mut index = usize::from(negated);
    let mut ranges = Vec::new();
    let mut first = true;
    while index < rest.len() {
        let character = rest[index];
        if character == ']' && !first {
            return Some((GlobToken::Set { negated, ranges }, index + 1));
        }
        first = false;
        if rest.get(index + 1) == Some(&'-') && rest.get(index + 2).is_some_and(|end| *end != ']') {
            ranges.push((character, rest[index + 2]));
            index += 3;
        } else {
            ranges.push((character, character));
            index += 1;
        }
    }
    None
}

impl GlobToken {
    /// Whether this single-character token matches `character`.
    fn matches(&self, character: char) -> bool {
        match self {
            GlobToken::AnyRun | GlobToken::AnyOne => true,
            GlobToken::Literal(literal) => *literal == character,
            GlobToken::Set { negated, ranges } => {
                ranges
                    .iter()
                    .any(|(low, high)| (*low..=*high).contains(&character))
                    != *negated
            }
        }
    }
}

/// Whether `text` matches `pattern` as a whole, as SQLite's GLOB decides:
/// `*` any run of characters, `?` any one, `[...]` one of a set; case matters.
fn glob_match(pattern: &str, text: &str) -> bool {
    let tokens = glob_tokens(pattern);
    let text: Vec<char> = text.chars().collect();
    let (mut token, mut position) = (0, 0);
    // The last `*` seen and where in the text its run ends for now.
    let mut backtrack: Option<(usize, usize)> = None;
    while position < text.len() {
        match tokens.get(token) {
            Some(GlobToken::AnyRun) => {
                backtrack = Some((token, position));
                token += 1;
            }
            Some(single) if single.matches(text[position]) => {
                token += 1;
                position += 1;
            }
            _ => match backtrack {
                // Let the last `*` take one more character, and retry.
                Some((star, run_end)) => {
                    token = star + 1;
                    position = run_end + 1;
                    backtrack = Some((star, run_end + 1));
                }
                None => return false,
            },
        }
    }
    tokens[token..]
        .iter()
        .all(|rest| *rest == GlobToken::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        let mut history = History::new();
        for (line, input) in [
            (1, "let a = 1;"),
            (2, "a + 1"),
            (3, "let a = 1;"),
            (4, "sleep(1.0);"),
        ] {
            history.record(line, input);
        }
        history.record_output("2");
        history
    }

    fn lines(entries: Vec<HistoryEntry>) -> Vec<usize> {
        entries
            .into_iter()
            .map(|entry| match entry {
                HistoryEntry::Input(_, line, _) | HistoryEntry::InputOutput(_, line, _) => line,
            })
            .collect()
    }

    #[test]
    fn tail_returns_the_last_n() {
        let request = HistoryRequest::Tail {
            n: 2,
            output: false,
            raw: true,
        };
        assert_eq!(lines(history().answer(&request)), vec![3, 4]);
    }

    #[test]
    fn range_is_half_open() {
        let request = HistoryRequest::Range {
            session: Some(0),
            start: 2,
            stop: 4,
            output: false,
            raw: true,
        };
        assert_eq!(lines(history().answer(&request)), vec![2, 3]);
    }

    #[test]
    fn search_with_unique_keeps_the_latest() {
        let search = |unique, n| HistoryRequest::Search {
            pattern: "let*".to_owned(),
            unique,
            output: false,
            raw: true,
            n,
        };
        assert_eq!(lines(history().answer(&search(false, 0))), vec![1, 3]);
        assert_eq!(lines(history().answer(&search(true, 0))), vec![3]);
        assert_eq!(lines(history().answer(&search(false, 1))), vec![3]);
    }

    #[test]
    fn output_is_paired_with_its_input_when_asked() {
        let request = HistoryRequest::Tail {
            n: 1,
            output: true,
            raw: true,
        };
        match &history().answer(&request)[..] {
            [HistoryEntry::InputOutput(_, 4, (input, output))] => {
                assert_eq!((input.as_str(), output.as_str()), ("sleep(1.0);", "2"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob_match("*sleep*", "sleep(1.0);"));
        assert!(glob_match("a?b", "axb"));
        assert!(!glob_match("a?b", "ab"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn glob_matches_like_sqlite() {
        // (pattern, text, matches), as `SELECT text GLOB pattern` answers.
        for (pattern, text, expected) in [
            ("6 *", "6 * 7", true),
            ("*\\*", "a * b", false),
            ("*[*]*", "6 * 7", true),
            ("*[*]*", "6 + 7", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("[]]", "]", true),
            ("[", "[", false),
            ("Sleep*", "sleep(1.0);", false),
            ("*1.0*", "sleep(1.0);", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
        ] {
            assert_eq!(
                glob_match(pattern, text),
                expected,
                "{pattern:?} on {text:?}"
            );
        }
    }
}
