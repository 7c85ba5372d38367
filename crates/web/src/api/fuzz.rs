//! Property-based fuzzing of the REST API's JSON bodies: every request type deserialised from
//! arbitrary bytes, from structured JSON over the API's own field names (mutated valid bodies),
//! and from deeply nested documents, plus the core checks that run on them. A test module
//! (the types are crate-private); `scripts/fuzz.sh` runs it long.

#[path = "../../../testkit/fuzz_check.rs"]
mod fuzz_check;

use arca_core::{cleanup::Criteria, proxy::ProxySettings};
use fuzz_check::check;
use proptest::{collection::vec, prelude::*};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    blobstores::{FileBlobStoreApiCreateRequest, FileBlobStoreApiUpdateRequest},
    cleanup::{CleanupExecutionRequestXO, CleanupPolicyXO},
    privileges::{
        ApiPrivilegeApplicationRequest, ApiPrivilegeRepositoryAdminRequest,
        ApiPrivilegeRepositoryContentSelectorRequest, ApiPrivilegeRepositoryViewRequest,
        ApiPrivilegeWildcardRequest, ContentSelectorApiCreateRequest,
        ContentSelectorApiUpdateRequest,
    },
    security::{AnonymousAccessSettingsXO, ApiTokenRequest},
    users::{ApiCreateUser, RoleXORequest},
};

/// The field names of the API's request bodies, so generated objects hit real fields.
const KEYS: &[&str] = &[
    "name",
    "path",
    "softQuota",
    "type",
    "limit",
    "description",
    "domain",
    "actions",
    "format",
    "repository",
    "contentSelector",
    "pattern",
    "expression",
    "enabled",
    "userId",
    "realmName",
    "expiresInDays",
    "firstName",
    "lastName",
    "emailAddress",
    "password",
    "status",
    "roles",
    "privileges",
    "id",
    "notes",
    "criteriaLastBlobUpdated",
    "criteriaLastDownloaded",
    "criteriaReleaseType",
    "criteriaAssetRegex",
    "policy",
    "dryRun",
    "online",
    "storage",
    "blobStoreName",
    "proxy",
    "remoteUrl",
    "contentMaxAge",
    "metadataMaxAge",
    "lastBlobUpdated",
    "releaseType",
    "assetRegex",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("READ".to_owned()),
            Just("spaceUsedQuota".to_owned()),
            Just("RELEASES".to_owned()),
            Just("https://h/x".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Deserialises `bytes` as every request type, as `web::Json` does.
fn every_request(bytes: &[u8]) {
    fn one<T: DeserializeOwned>(b: &[u8]) {
        let _ = serde_json::from_slice::<T>(b);
    }
    one::<FileBlobStoreApiCreateRequest>(bytes);
    one::<FileBlobStoreApiUpdateRequest>(bytes);
    one::<CleanupPolicyXO>(bytes);
    one::<CleanupExecutionRequestXO>(bytes);
    one::<ApiPrivilegeApplicationRequest>(bytes);
    one::<ApiPrivilegeRepositoryViewRequest>(bytes);
    one::<ApiPrivilegeRepositoryAdminRequest>(bytes);
    one::<ApiPrivilegeRepositoryContentSelectorRequest>(bytes);
    one::<ApiPrivilegeWildcardRequest>(bytes);
    one::<ContentSelectorApiCreateRequest>(bytes);
    one::<ContentSelectorApiUpdateRequest>(bytes);
    one::<AnonymousAccessSettingsXO>(bytes);
    one::<ApiTokenRequest>(bytes);
    one::<ApiCreateUser>(bytes);
    one::<RoleXORequest>(bytes);
    // Repository bodies are taken as a `Value` and walked (repositories.rs).
    one::<Value>(bytes);
}

#[test]
fn request_bodies_never_panic() {
    let mutated = (json(), vec((any::<u16>(), any::<u8>()), 0..4)).prop_map(|(v, edits)| {
        let mut b = v.to_string().into_bytes();
        for (at, x) in edits {
            let i = at as usize % (b.len() + 1);
            b.insert(i, x);
        }
        b
    });
    check(
        "rest_json_bodies",
        prop_oneof![
            json().prop_map(|v| v.to_string().into_bytes()),
            mutated,
            any::<Vec<u8>>(),
        ],
        |bytes| {
            every_request(&bytes);
            Ok(())
        },
    );
}

#[test]
fn deeply_nested_bodies_are_errors_not_crashes() {
    // serde_json stops at 128 levels with an error (which the server's JsonConfig answers
    // with a 400); nothing here may recurse further, nor drop a deeper value.
    let opener = prop_oneof![Just("["), Just("{\"name\":"), Just("{\"softQuota\":")];
    check(
        "rest_json_nesting",
        (opener, 100usize..5_000, any::<bool>()),
        |(open, n, closed)| {
            let mut s = open.repeat(n);
            if closed {
                s.push('1');
                s.push_str(&(if open == "[" { "]" } else { "}" }).repeat(n));
            }
            every_request(s.as_bytes());
            if n > 128 {
                prop_assert!(serde_json::from_str::<Value>(&s).is_err());
            }
            Ok(())
        },
    );
}

#[test]
fn settings_read_from_bodies_never_panic() {
    // What repository and cleanup bodies turn into in core.
    check("rest_settings", json(), |v| {
        if let Ok(c) = serde_json::from_value::<Criteria>(v.clone()) {
            let _ = c.validate();
        }
        let _ = ProxySettings::from_attrs(&v);
        let wrapped = serde_json::json!({ "proxy": v });
        let _ = ProxySettings::from_attrs(&wrapped);
        Ok(())
    });
}
