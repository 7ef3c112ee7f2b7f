//! The Jupyter wire format: multipart framing and HMAC signatures.
//!
//! A message on a ZeroMQ socket is `identities…, "<IDS|MSG>", signature,
//! header, parent_header, metadata, content, buffers…`
//! (<https://jupyter-client.readthedocs.io/en/latest/messaging.html#the-wire-protocol>).
//! This module turns those frames into typed [`JupyterMessage`]s and back, and
//! checks every signature; it never touches a socket.

use std::fmt;

use hmac::{Hmac, Mac};
use jupyter_protocol::{Header, JupyterMessage, JupyterMessageContent};
use serde_json::Value;
use sha2::Sha256;

/// The frame that separates routing identities from the message.
const DELIMITER: &[u8] = b"<IDS|MSG>";

/// Why a multipart message was refused.
#[derive(Debug, PartialEq)]
pub enum WireError {
    /// No `<IDS|MSG>` delimiter, or fewer than the five frames that must follow it.
    Malformed,
    /// The signature frame does not match the HMAC of the four message frames.
    BadSignature,
    /// A frame is not the JSON its place requires.
    BadJson(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Malformed => write!(formatter, "malformed multipart message"),
            WireError::BadSignature => write!(formatter, "signature does not match"),
            WireError::BadJson(reason) => write!(formatter, "bad JSON: {reason}"),
        }
    }
}

impl std::error::Error for WireError {}

/// Signs and checks messages with the connection file's key.
///
/// An empty key disables signing, as the spec allows; `signature_scheme` must
/// be `hmac-sha256`, the only scheme Jupyter clients use.
#[derive(Clone)]
pub struct Signer {
    key: Option<Vec<u8>>,
}

impl Signer {
    /// A signer for `key` (empty: no signatures) under `scheme`.
    pub fn new(scheme: &str, key: &str) -> anyhow::Result<Signer> {
        if key.is_empty() {
            return Ok(Signer { key: None });
        }
        anyhow::ensure!(
            scheme == "hmac-sha256",
            "unsupported signature_scheme {scheme:?} (only hmac-sha256)"
        );
        Ok(Signer {
            key: Some(key.as_bytes().to_vec()),
        })
    }

    /// The hex signature of the four message frames.
    fn sign(&self, parts: &[&[u8]]) -> String {
        match &self.key {
            None => String::new(),
            Some(key) => {
                let mut mac = self.mac(key);
                for part in parts {
                    mac.update(part);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    /// Whether `signature` (hex) is right for the frames, compared in constant time.
    fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> bool {
        match &self.key {
            None => true,
            Some(key) => {
                let Ok(expected) = hex::decode(signature) else {
                    return false;
                };
                let mut mac = self.mac(key);
                for part in parts {
                    mac.update(part);
                }
                mac.verify_slice(&expected).is_ok()
            }
        }
    }

    fn mac(&self, key: &[u8]) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length")
    }
}

/// Parses and verifies a multipart message received on a ROUTER or SUB socket.
///
/// The returned message keeps its routing identities, so a reply built with
/// `as_child_of` goes back to the same client.
pub fn decode(frames: Vec<Vec<u8>>, signer: &Signer) -> Result<JupyterMessage, WireError> {
    let delimiter_at = frames
        .iter()
        .position(|frame| frame == DELIMITER)
        .ok_or(WireError::Malformed)?;
    let (identities, rest) = frames.split_at(delimiter_at);
    let rest = &rest[1..];
    if rest.len() < 5 {
        return Err(WireError::Malformed);
    }
    let (signature, message_frames) = (&rest[0], &rest[1..5]);
    let parts: Vec<&[u8]> = message_frames.iter().map(Vec::as_slice).collect();
    if !signer.verify(signature, &parts) {
        return Err(WireError::BadSignature);
    }
    let header: Header = parse_json(&rest[1])?;
    let parent_header = parse_parent_header(&rest[2])?;
    let metadata: Value = parse_json(&rest[3])?;
    let mut content_value: Value = parse_json(&rest[4])?;
    if header.msg_type == "history_request" {
        fill_history_defaults(&mut content_value);
    }
    let content = JupyterMessageContent::from_type_and_content(&header.msg_type, content_value)
        .map_err(|error| WireError::BadJson(format!("{} content: {error}", header.msg_type)))?;
    Ok(JupyterMessage {
        zmq_identities: identities.iter().map(|id| id.clone().into()).collect(),
        header,
        parent_header,
        metadata,
        content,
        buffers: rest[5..]
            .iter()
            .map(|buffer| buffer.clone().into())
            .collect(),
        channel: None,
    })
}

/// Serialises and signs a message into the frames to send.
///
/// The four parts are written one by one: serialising a whole
/// `JupyterMessage` would add a `channel` key that strict clients reject.
pub fn encode(message: &JupyterMessage, signer: &Signer) -> Vec<Vec<u8>> {
    let header = to_json(&message.header);
    let parent_header = match &message.parent_header {
        Some(parent) => to_json(parent),
        None => b"{}".to_vec(),
    };
    let metadata = to_json(&message.metadata);
    let content = to_json(&message.content);
    let signature = signer.sign(&[&header, &parent_header, &metadata, &content]);

    let mut frames: Vec<Vec<u8>> = message
        .zmq_identities
        .iter()
        .map(|id| id.to_vec())
        .collect();
    frames.push(DELIMITER.to_vec());
    frames.push(signature.into_bytes());
    frames.extend([header, parent_header, metadata, content]);
    frames.extend(message.buffers.iter().map(|buffer| buffer.to_vec()));
    frames
}

/// Fills the fields of a `history_request` that clients leave out.
///
/// jupyter_client sends only the fields relevant to the access type (no `n`
/// for a search without a limit, no `session` for a range), while the typed
/// request requires them all. The defaults are jupyter_client's own.
fn fill_history_defaults(content: &mut Value) {
    let Some(fields) = content.as_object_mut() else {
        return;
    };
    let defaults = [
        ("output", Value::Bool(false)),
        ("raw", Value::Bool(true)),
        ("session", Value::from(0)),
        ("start", Value::from(0)),
        ("stop", Value::from(0)),
        ("n", Value::from(0)),
        ("pattern", Value::from("*")),
        ("unique", Value::Bool(false)),
    ];
    for (name, default) in defaults {
        if fields.get(name).is_none_or(Value::is_null) {
            fields.insert(name.to_owned(), default);
        }
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(frame: &[u8]) -> Result<T, WireError> {
    serde_json::from_slice(frame).map_err(|error| WireError::BadJson(error.to_string()))
}

/// A parent header is `{}` when the message has no parent.
fn parse_parent_header(frame: &[u8]) -> Result<Option<Header>, WireError> {
    let value: Value = parse_json(frame)?;
    if value.as_object().is_some_and(|object| object.is_empty()) {
        return Ok(None);
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|error| WireError::BadJson(format!("parent_header: {error}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("protocol types always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jupyter_protocol::KernelInfoRequest;

    fn signer() -> Signer {
        Signer::new("hmac-sha256", "secret-key").unwrap()
    }

    fn sample() -> JupyterMessage {
        JupyterMessage::new(KernelInfoRequest {}, None)
            .with_zmq_identities(vec![b"client-1".to_vec().into()])
    }

    #[test]
    fn round_trip_keeps_identities_and_type() {
        let frames = encode(&sample(), &signer());
        assert_eq!(frames[0], b"client-1");
        assert_eq!(frames[1], DELIMITER);
        let decoded = decode(frames, &signer()).unwrap();
        assert_eq!(decoded.message_type(), "kernel_info_request");
        assert_eq!(decoded.zmq_identities[0].as_ref(), b"client-1");
    }

    #[test]
    fn forged_signature_is_refused() {
        let mut frames = encode(&sample(), &signer());
        frames[2] = b"00".repeat(32);
        assert_eq!(
            decode(frames, &signer()).err(),
            Some(WireError::BadSignature)
        );
    }

    #[test]
    fn tampered_content_is_refused() {
        let mut frames = encode(&sample(), &signer());
        let last = frames.len() - 1;
        frames[last] = b"{\"evil\": true}".to_vec();
        assert_eq!(
            decode(frames, &signer()).err(),
            Some(WireError::BadSignature)
        );
    }

    #[test]
    fn missing_delimiter_or_frames_is_malformed() {
        assert_eq!(
            decode(vec![b"hello".to_vec()], &signer()).err(),
            Some(WireError::Malformed)
        );
        assert_eq!(
            decode(vec![DELIMITER.to_vec(), b"sig".to_vec()], &signer()).err(),
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn bad_json_is_reported_after_a_valid_signature() {
        let unsigned = Signer::new("hmac-sha256", "").unwrap();
        let frames = vec![
            DELIMITER.to_vec(),
            Vec::new(),
            b"not json".to_vec(),
            b"{}".to_vec(),
            b"{}".to_vec(),
            b"{}".to_vec(),
        ];
        assert!(matches!(
            decode(frames, &unsigned),
            Err(WireError::BadJson(_))
        ));
    }

    #[test]
    fn a_sparse_history_request_is_completed() {
        let mut content = serde_json::json!({"hist_access_type": "search", "pattern": "6*"});
        fill_history_defaults(&mut content);
        let parsed = JupyterMessageContent::from_type_and_content("history_request", content);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn only_hmac_sha256_is_accepted() {
        assert!(Signer::new("hmac-md5", "k").is_err());
        assert!(Signer::new("hmac-md5", "").is_ok());
    }
}
