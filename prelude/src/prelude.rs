//! Everything a cell uses without a `use` line. The kernel puts
//! `use multitask::prelude::*;` and `use multitask::{print, println, eprint, eprintln};`
//! in every cell. The macros are not in this module on purpose: a glob import
//! of a macro that std's prelude also has is ambiguous (error E0659), while a
//! named import shadows std's; left out here, a glob import alone still compiles.

/// The method evcxr calls on a cell's final value first, for every `Debug`
/// value, so such a cell is built once instead of twice (hidden from
/// completion: a learner never names it).
#[doc(hidden)]
pub use crate::display::ShowFinalValue;
pub use crate::{
    asyncio, check, clear_output, ctime, display, getpid, getppid, input, mp, pool, queue, randint,
    random, sleep, threading, Error, KeyboardInterrupt,
};
/// The derives for a learner's own message types; with no `serde` dependency
/// in the cell, add `#[serde(crate = "multitask::serde")]` under the derive.
pub use serde::{Deserialize, Serialize};
