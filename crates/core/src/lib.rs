//! Arca's core: everything that is not specific to one repository format.

pub mod auth;
pub mod blob;
pub mod browse;
pub mod cleanup;
pub mod cluster;
pub mod csel;
pub mod error;
pub mod format;
pub mod freeze;
pub mod group;
#[cfg(feature = "harness")]
pub mod harness;
pub mod http;
pub mod jwt;
pub mod locks;
pub mod meta;
pub mod metrics;
pub mod model;
pub mod password;
pub mod privilege;
pub mod proxy;
pub mod repo_cache;
pub mod schedule;
pub mod security;
pub mod session;
pub mod settings_form;
pub mod state;
pub mod storage;
pub mod task_types;
pub mod tasks;
pub mod throttle;
pub mod visibility;

pub use format::{Format, FormatRegistry, RepoContext};
pub use state::{Arca, CoreSettings};
