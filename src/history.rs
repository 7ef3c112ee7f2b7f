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

/// Shell-style match: `*` is any run of characters, `?` any one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            t = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&character| character == '*')
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
}
