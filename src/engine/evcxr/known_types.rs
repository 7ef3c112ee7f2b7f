//! Variable types remembered from earlier sessions, so that Kernel →
//! Restart & Run All reaches no analyzer turn.
//!
//! evcxr asks rust-analyzer for the type of each variable a cell's
//! top-level `let` defines, and the first such question costs the
//! analyzer's turn to the real standard library (seconds, see
//! `analyzer_std.rs`). The same cell after the same cells defines variables
//! of the same types, so the session remembers, in its work slot, the types
//! evcxr kept for a cell's variables, keyed by a SHA-256 of the cell, of
//! every cell the session ran before it (its code and whether it
//! succeeded), of the prelude and of the standard library's sources. A cell
//! met again under the same key while the analyzer still sees the stub gets
//! those types written into its `let`s (`let x/*known:*/: i32/*:known*/ = 1;`):
//! evcxr takes a written type as it is. The cell cache looks such a cell up
//! under its own key, then as the learner wrote it ([`as_written`]), so the
//! build stored for the cell as written is found; a build with types written
//! in is stored under its own key only (a panic's column is off in it).
//!
//! **Invariant:** a type is written in only where the learner wrote none,
//! into a `let` binding one name that no other top-level `let` of the cell
//! binds, and only a type evcxr itself gave that name after the same
//! cells; a cell whose build with types written in fails is run again as
//! the learner wrote it, after the turn.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use ra_ap_syntax::ast::{self, HasName};
use ra_ap_syntax::AstNode;
use sha2::{Digest, Sha256};

use super::analyzer_std::{top_level_lets, CELL_PREFIX};

/// Opens a type the session wrote into a cell.
const OPEN: &str = "/*known:*/";

/// Closes it.
const CLOSE: &str = "/*:known*/";

/// The directory in the work slot that holds the remembered types.
const DIR: &str = "known-types";

/// The most cells' types a slot keeps; past it the oldest quarter goes.
const LIMIT: usize = 4096;

/// The remembered types of one work slot, and where the session is.
pub(super) struct KnownTypes {
    dir: PathBuf,
    /// The digest of everything the next cell's types depend on but itself.
    chain: [u8; 32],
    /// How many cells' types to keep ([`LIMIT`]).
    limit: usize,
}

impl KnownTypes {
    /// The types remembered in `work_dir`, for a session that starts from
    /// `origin` (what is the same for all its cells: the prelude's and the
    /// standard library's directories, both named by their contents).
    pub(super) fn new(work_dir: &std::path::Path, origin: &[&std::ffi::OsStr]) -> KnownTypes {
        let mut hasher = Sha256::new();
        hasher.update(b"known types 1");
        for part in origin {
            field(&mut hasher, part.as_encoded_bytes());
        }
        KnownTypes {
            dir: work_dir.join(DIR),
            chain: hasher.finalize().into(),
            limit: LIMIT,
        }
    }

    /// `code` with the types remembered for it written into its `let`s, if
    /// every `let` that needs one has it.
    pub(super) fn annotate(&self, code: &str) -> Option<String> {
        write_types(code, &self.recall(code)?)
    }

    /// Remembers the types evcxr gave the variables `code`'s top-level
    /// `let`s define, `variables` being every variable it now keeps.
    pub(super) fn remember<'a>(
        &self,
        code: &str,
        variables: impl Iterator<Item = (&'a str, &'a str)>,
    ) {
        let Some(lets) = top_level_lets(code) else {
            return;
        };
        let names: HashSet<String> = lets
            .iter()
            .filter_map(|statement| match statement.pat() {
                Some(ast::Pat::IdentPat(pattern)) => Some(pattern.name()?.text().to_string()),
                _ => None,
            })
            .collect();
        let lines: String = variables
            .filter(|(name, _)| names.contains(*name))
            .map(|(name, type_name)| format!("{name}\t{type_name}\n"))
            .collect();
        if lines.is_empty() || std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let path = self.dir.join(self.key(code));
        let staging = path.with_extension(format!("{}.new", std::process::id()));
        if std::fs::write(&staging, lines).is_ok() && std::fs::rename(&staging, &path).is_ok() {
            self.keep_within_limit();
        }
    }

    /// Moves the session past `code`, which ran and `succeeded` or not.
    pub(super) fn ran(&mut self, code: &str, succeeded: bool) {
        let mut hasher = Sha256::new();
        hasher.update(self.chain);
        hasher.update([u8::from(succeeded)]);
        field(&mut hasher, code.as_bytes());
        self.chain = hasher.finalize().into();
    }

    /// The types remembered for `code` here, by variable name.
    fn recall(&self, code: &str) -> Option<HashMap<String, String>> {
        let text = std::fs::read_to_string(self.dir.join(self.key(code))).ok()?;
        text.lines()
            .map(|line| {
                let (name, type_name) = line.split_once('\t')?;
                Some((name.to_owned(), type_name.to_owned()))
            })
            .collect()
    }

    fn key(&self, code: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.chain);
        field(&mut hasher, code.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Removes the oldest quarter of the entries once there are more than
    /// the limit.
    fn keep_within_limit(&self) {
        let count = std::fs::read_dir(&self.dir).map_or(0, Iterator::count);
        if count <= self.limit {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<_> = entries
            .filter_map(|entry| {
                let entry = entry.ok()?;
                Some((entry.metadata().ok()?.modified().ok()?, entry.path()))
            })
            .collect();
        entries.sort();
        for (_, path) in &entries[..entries.len() / 4] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `code` with `types` (by variable name) written into its top-level
/// `let`s, if every `let` that needs one has it: a `let` binding one name
/// that no other top-level `let` of the cell binds, without a written type
/// (a written one with `_` in it makes `None`).
pub(super) fn write_types(code: &str, types: &HashMap<String, String>) -> Option<String> {
    let mut insertions = Vec::new();
    for (statement, name) in lets_to_type(code)? {
        if statement.ty().is_some() {
            continue;
        }
        let end = usize::from(statement.pat()?.syntax().text_range().end()) - CELL_PREFIX.len();
        insertions.push((end, format!("{OPEN}: {}{CLOSE}", types.get(&name)?)));
    }
    if insertions.is_empty() {
        return None;
    }
    let mut annotated = code.to_owned();
    for (at, text) in insertions.into_iter().rev() {
        annotated.insert_str(at, &text);
    }
    Some(annotated)
}

/// The top-level `let`s of `code` with the name each binds, if types can
/// be written into them: each binds one name no other binds, and a type
/// written in one has no `_`.
pub(super) fn lets_to_type(code: &str) -> Option<Vec<(ast::LetStmt, String)>> {
    let mut names = HashSet::new();
    let mut lets = Vec::new();
    for statement in top_level_lets(code)? {
        let Some(ast::Pat::IdentPat(pattern)) = statement.pat() else {
            return None;
        };
        let name = pattern.name()?.text().to_string();
        if pattern.pat().is_some() || !names.insert(name.clone()) {
            return None;
        }
        if statement
            .ty()
            .is_some_and(|written| written.syntax().text().contains_char('_'))
        {
            return None;
        }
        lets.push((statement, name));
    }
    Some(lets)
}

/// Hashes `bytes` so that no two sequences of fields hash alike.
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// `source` (a cell crate's, or a cell's) without the types the session
/// wrote in: the cell as the learner wrote it.
pub(super) fn as_written(source: &str) -> Cow<'_, str> {
    if !source.contains(OPEN) {
        return Cow::Borrowed(source);
    }
    let mut rest = source;
    let mut written = String::with_capacity(source.len());
    while let Some(start) = rest.find(OPEN) {
        let Some(length) = rest[start..].find(CLOSE) else {
            break;
        };
        written.push_str(&rest[..start]);
        rest = &rest[start + length + CLOSE.len()..];
    }
    written.push_str(rest);
    Cow::Owned(written)
}

#[cfg(test)]
mod tests;
