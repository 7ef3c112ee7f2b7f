//! MIME bundles from (type, content) pairs: the shape both the prelude's
//! display events and evcxr's cell values arrive in.

use jupyter_protocol::Media;

/// Builds a MIME bundle from (type, content) pairs.
pub fn from_pairs(pairs: Vec<(String, String)>) -> Media {
    let bundle: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(mime, content)| (mime, serde_json::Value::String(content)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(bundle)).unwrap_or_default()
}
