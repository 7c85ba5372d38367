//! Nexus's `continuationToken`: opaque to clients; here the id the next page starts after.

use base64::Engine;
use serde_json::Value;

use crate::ApiError;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The id a `continuationToken` stands for; 0 (the start) when there is none.
pub fn decode(token: Option<&str>) -> Result<i64, ApiError> {
    match token {
        None => Ok(0),
        Some(t) => b64()
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ApiError::invalid("PARAMETER continuationToken", "invalid continuationToken")
            }),
    }
}

/// The token for the page after `last`, or `null` when this page was not full (the last one).
pub fn next(last: i64, full: bool) -> Value {
    if full {
        Value::String(b64().encode(last.to_string()))
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let t = super::next(42, true);
        assert_eq!(super::decode(t.as_str()).ok(), Some(42));
        assert!(super::next(42, false).is_null());
        assert_eq!(super::decode(None).ok(), Some(0));
        assert!(super::decode(Some("!")).is_err());
    }
}
