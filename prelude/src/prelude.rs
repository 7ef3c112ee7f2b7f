//! Everything a cell uses without a `use` line. The kernel puts
//! `use multitask::prelude::*;` and `use multitask::{print, println, eprint, eprintln};`
//! in every cell: the macros need the second, named import, because a glob
//! import of a macro that std's prelude also has is ambiguous (a compile error).

pub use crate::{
    clear_output, ctime, display, getpid, getppid, input, mp, pool, queue, randint, random, sleep,
    threading, Error, KeyboardInterrupt,
};
pub use crate::{eprint, eprintln, print, println};
/// The derives for a learner's own message types; with no `serde` dependency
/// in the cell, add `#[serde(crate = "multitask::serde")]` under the derive.
pub use serde::{Deserialize, Serialize};
