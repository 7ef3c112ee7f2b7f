//! A cell's final value shown after one build instead of two.
//!
//! evcxr builds a cell that ends in an expression first with
//! `(value).evcxr_display();`, and when that does not compile (no such
//! method: most values) builds the cell again with the value's `Debug`
//! form sent as `text/plain`. [`ShowFinalValue`], which cells glob-import
//! from the prelude, gives every `Debug` value that method, sending what
//! the second build would send, so the first build compiles: an
//! expression cell costs one compile, as a statement does. A type's own
//! `evcxr_display` (an inherent method, like [`super::DisplayHandle`]'s)
//! still comes first, and a value without `Debug` fails as before.
//!
//! evcxr's `:fmt` and `:types` change how its second build shows a value;
//! once a cell uses them, the kernel imports [`EvcxrShowsFinalValues`]
//! too, which gives the same values a second `evcxr_display`: the first
//! build then fails (the call is ambiguous), and evcxr shows every later
//! value its own way. (Taking the trait out of scope instead would not do:
//! rustc then suggests importing it at the cell crate's first `use` line,
//! and evcxr reports an error with a help pointing into a cell's code as
//! the cell's own, without its second build.)

use std::fmt::Debug;

use crate::output::{write_text, Stream};

/// Shows a cell's final value as evcxr's default does (`{:?}` as
/// `text/plain`); evcxr calls `evcxr_display` on a cell's final value.
#[doc(hidden)]
pub trait ShowFinalValue {
    /// Sends the value's `Debug` form to the kernel as the cell's result.
    fn evcxr_display(&self);
}

impl<T: Debug + ?Sized> ShowFinalValue for T {
    fn evcxr_display(&self) {
        // The lines evcxr's own fallback prints (through the prelude's
        // `println!`, which cells import), the same way: in one write.
        let text = format!("EVCXR_BEGIN_CONTENT text/plain\n{self:?}\nEVCXR_END_CONTENT\n");
        write_text(Stream::Stdout, &text);
    }
}

/// What the kernel imports once a cell changed evcxr's display settings
/// (`:fmt`, `:types`): a second `evcxr_display` for exactly the values
/// [`ShowFinalValue`] shows, so the call is ambiguous and never compiles.
#[doc(hidden)]
pub trait EvcxrShowsFinalValues {
    /// Never called: a call is ambiguous with [`ShowFinalValue`]'s.
    fn evcxr_display(&self);
}

impl<T: Debug + ?Sized> EvcxrShowsFinalValues for T {
    fn evcxr_display(&self) {}
}
