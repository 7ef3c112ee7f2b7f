//! Rich output shown at once (IPython's `display`): each call prints one
//! [`Event`] line on stdout, which the kernel turns into `display_data`.

use crate::host::Event;
use crate::output::{write_text, Stream};

/// Shows HTML in the notebook now (IPython's `display(HTML(...))`).
pub fn html(html: &str) {
    show("text/html", html);
}

/// Shows an SVG image in the notebook now (IPython's `display(SVG(...))`).
pub fn svg(svg: &str) {
    show("image/svg+xml", svg);
}

/// Shows Markdown in the notebook now (IPython's `display(Markdown(...))`).
pub fn markdown(markdown: &str) {
    show("text/markdown", markdown);
}

fn show(mime: &str, content: &str) {
    send_event(&Event::Display {
        data: vec![
            (mime.to_string(), content.to_string()),
            ("text/plain".to_string(), content.to_string()),
        ],
        display_id: None,
        update: false,
    });
}

/// Prints `event` as the one stdout line the kernel reads.
pub(crate) fn send_event(event: &Event) {
    write_text(Stream::Stdout, &format!("{}\n", event.to_line()));
}
