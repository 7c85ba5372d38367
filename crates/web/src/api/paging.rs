//! Nexus's `continuationToken`: opaque to clients; here the id the next page starts after.

use base64::Engine;

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

/// The token for the page after `last`, or `None` (`null`) when this page was not full (the
/// last one).
pub fn next(last: i64, full: bool) -> Option<String> {
    full.then(|| b64().encode(last.to_string()))
}

/// A Nexus page type (`PageComponentXO`, ...): `items` and the `continuationToken` of the next
/// page, null on the last.
macro_rules! page {
    ($(#[$m:meta])* $name:ident, $item:ty) => {
        $(#[$m])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $name {
            pub items: Vec<$item>,
            /// Pass as `continuationToken` for the next page; null on the last page.
            pub continuation_token: Option<String>,
        }
    };
}
pub(crate) use page;

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let t = super::next(42, true);
        assert_eq!(super::decode(t.as_deref()).ok(), Some(42));
        assert!(super::next(42, false).is_none());
        assert_eq!(super::decode(None).ok(), Some(0));
        assert!(super::decode(Some("!")).is_err());
    }
}
