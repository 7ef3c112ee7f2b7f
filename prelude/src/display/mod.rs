//! Rich output shown at once (IPython's `display`): each call prints one
//! [`Event`] line on stdout, which the kernel turns into `display_data`.
//! Every display gets an id, and the [`DisplayHandle`] it returns replaces
//! it in place (`update_display_data`), from any thread or process.
//! [`progress`] shows a live progress bar (`progress_bar` counts and decides
//! when to redraw, `progress_view` draws). `final_value` shows a cell's
//! final value after one build.

mod final_value;
mod progress_bar;
mod progress_view;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::host::Event;
use crate::output::send_event;

// Machinery the kernel and evcxr call, not names for a learner: hidden
// from documentation and from rust-analyzer's completions in a cell.
#[doc(hidden)]
pub use final_value::{EvcxrShowsFinalValues, ShowFinalValue};
pub use progress_bar::{progress, Progress};

/// A display in the notebook that can be replaced in place, like the handle
/// IPython's `display(..., display_id=True)` returns.
///
/// Clone it into threads or processes: an update from any of them replaces
/// the same output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayHandle {
    display_id: String,
}

impl DisplayHandle {
    /// The id the notebook knows this display by.
    pub fn display_id(&self) -> &str {
        &self.display_id
    }

    /// Replaces the display with HTML (IPython's `handle.update(HTML(...))`).
    pub fn update_html(&self, html: &str) {
        self.send("text/html", html, true);
    }

    /// Replaces the display with an SVG image.
    pub fn update_svg(&self, svg: &str) {
        self.send("image/svg+xml", svg, true);
    }

    /// Replaces the display with Markdown.
    pub fn update_markdown(&self, markdown: &str) {
        self.send("text/markdown", markdown, true);
    }

    fn send(&self, mime: &str, content: &str, update: bool) {
        self.send_data(mime, content, content, update);
    }

    /// Shows `content` as `mime`, with `plain` for frontends that show only text.
    fn send_data(&self, mime: &str, content: &str, plain: &str, update: bool) {
        send_event(&Event::Display {
            data: vec![
                (mime.to_string(), content.to_string()),
                ("text/plain".to_string(), plain.to_string()),
            ],
            display_id: Some(self.display_id.clone()),
            update,
        });
    }

    /// Shows nothing as a cell's value: a cell that ends with
    /// `display::html(…)` has already shown it (evcxr calls this method).
    pub fn evcxr_display(&self) {}
}

/// Shows HTML in the notebook now (IPython's `display(HTML(...))`); the
/// handle replaces it later.
pub fn html(html: &str) -> DisplayHandle {
    show("text/html", html)
}

/// Shows an SVG image in the notebook now (IPython's `display(SVG(...))`).
pub fn svg(svg: &str) -> DisplayHandle {
    show("image/svg+xml", svg)
}

/// Shows Markdown in the notebook now (IPython's `display(Markdown(...))`).
pub fn markdown(markdown: &str) -> DisplayHandle {
    show("text/markdown", markdown)
}

/// Clears the cell's output (IPython's `clear_output(wait)`): at once, or
/// with `wait` when the next output arrives, so a redrawn display does not
/// flicker.
pub fn clear_output(wait: bool) {
    send_event(&Event::ClearOutput { wait });
}

fn show(mime: &str, content: &str) -> DisplayHandle {
    let handle = DisplayHandle {
        display_id: new_display_id(),
    };
    handle.send(mime, content, false);
    handle
}

/// An id no other display of this kernel has: each cell links its own copy
/// of this crate (and a child process continues its parent's counter), so
/// the process id and the time make it unique, the counter within an instant.
fn new_display_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "multitask-{}-{:x}-{}",
        std::process::id(),
        since_epoch.as_nanos(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
