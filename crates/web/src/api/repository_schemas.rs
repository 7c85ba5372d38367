//! OpenAPI schemas of the per-format repository bodies, in Nexus's names. Documentation only:
//! the handlers read bodies as JSON (core settings checked by `parse_spec`, the rest by the
//! format) and echo the stored blocks back, so a block not listed here is kept and echoed too.

#![allow(dead_code)]

use utoipa::ToSchema;

/// The `{format}` segment of the typed repository endpoints.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RepositoryFormat {
    Maven,
    Pypi,
    Docker,
    Yum,
    Raw,
}

/// A repository's type, and the `{kind}` segment of the typed repository endpoints.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RepositoryType {
    Hosted,
    Proxy,
    Group,
}

impl From<arca_core::model::RepoKind> for RepositoryType {
    fn from(k: arca_core::model::RepoKind) -> Self {
        use arca_core::model::RepoKind;
        match k {
            RepoKind::Hosted => Self::Hosted,
            RepoKind::Proxy => Self::Proxy,
            RepoKind::Group => Self::Group,
        }
    }
}

#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum WritePolicy {
    Allow,
    AllowOnce,
    Deny,
}

/// Storage of a proxy or group repository.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StorageAttributes {
    /// An existing blob store; cannot be changed later.
    blob_store_name: String,
    /// Check that content matches its type; true when left out.
    #[schema(nullable = false)]
    strict_content_type_validation: Option<bool>,
}

/// Storage of a hosted repository.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostedStorageAttributes {
    /// An existing blob store; cannot be changed later.
    blob_store_name: String,
    /// Check that content matches its type; true when left out.
    #[schema(nullable = false)]
    strict_content_type_validation: Option<bool>,
    /// `ALLOW` when left out (any case is accepted; answers are upper case).
    #[schema(nullable = false)]
    write_policy: Option<WritePolicy>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupAttributes {
    /// Repositories of the same format, in search order.
    member_names: Vec<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupDeployAttributes {
    /// Repositories of the same format, in search order.
    member_names: Vec<String>,
    /// The member that takes pushes to the group; one of `memberNames`.
    #[schema(nullable = false)]
    writable_member: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProxyAttributes {
    /// An `http://` or `https://` URL.
    #[schema(format = "uri")]
    remote_url: String,
    /// Minutes cached artifacts stay fresh; -1 (the default) for ever.
    #[schema(nullable = false)]
    content_max_age: Option<i64>,
    /// Minutes cached metadata stays fresh; 1440 by default.
    #[schema(nullable = false)]
    metadata_max_age: Option<i64>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NegativeCacheAttributes {
    /// Remember paths the remote does not have; true by default.
    #[schema(nullable = false)]
    enabled: Option<bool>,
    /// Minutes; 1440 by default.
    #[schema(nullable = false)]
    time_to_live: Option<i64>,
}

#[derive(ToSchema)]
pub(crate) struct HttpClientConnectionAttributes {
    /// Seconds, 1 to 3600; 60 by default.
    #[schema(nullable = false, minimum = 1, maximum = 3600)]
    timeout: Option<i32>,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HttpClientAuthenticationType {
    Username,
}

/// Credentials for the remote (sent only to URLs under `remoteUrl`).
#[derive(ToSchema)]
pub(crate) struct HttpClientConnectionAuthenticationAttributes {
    #[serde(rename = "type")]
    kind: HttpClientAuthenticationType,
    username: String,
    /// Never echoed.
    #[schema(write_only)]
    password: String,
}

#[derive(ToSchema)]
pub(crate) struct HttpClientAttributes {
    /// Refuse to contact the remote; false by default.
    #[schema(nullable = false)]
    blocked: Option<bool>,
    #[schema(nullable = false)]
    connection: Option<HttpClientConnectionAttributes>,
    #[schema(nullable = false)]
    authentication: Option<HttpClientConnectionAuthenticationAttributes>,
}

#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ContentDisposition {
    Inline,
    Attachment,
}

#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum VersionPolicy {
    Release,
    Snapshot,
    Mixed,
}

#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum LayoutPolicy {
    Strict,
    Permissive,
}

/// Required for hosted and proxy repositories (policies in any case).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MavenAttributes {
    version_policy: VersionPolicy,
    layout_policy: LayoutPolicy,
    #[schema(nullable = false)]
    content_disposition: Option<ContentDisposition>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawAttributes {
    #[schema(nullable = false)]
    content_disposition: Option<ContentDisposition>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DockerAttributes {
    /// Arca takes Basic credentials and bearer tokens alike; reported as true.
    #[schema(nullable = false)]
    force_basic_auth: Option<bool>,
    /// Only the V2 API is served: true is refused.
    #[schema(nullable = false)]
    v1_enabled: Option<bool>,
    /// A connector port of its own (unprefixed image names); `httpsPort` is refused.
    #[schema(nullable = false, minimum = 1, maximum = 65535)]
    http_port: Option<i32>,
}

#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum DockerIndexType {
    Hub,
    Registry,
    Custom,
}

/// Where a docker proxy finds images; Arca reads the remote URL as a V2 registry whatever the
/// index type, and caches no foreign layers.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DockerProxyAttributes {
    index_type: DockerIndexType,
    #[schema(nullable = false)]
    index_url: Option<String>,
    #[schema(nullable = false)]
    cache_foreign_layers: Option<bool>,
    #[schema(nullable = false)]
    foreign_layer_url_whitelist: Option<Vec<String>>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PyPiProxyAttributes {
    /// The remote's index path; `simple` by default.
    #[schema(nullable = false)]
    index_path: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum YumDeployPolicy {
    Strict,
    Permissive,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct YumAttributes {
    /// How many directory levels below the root hold `repodata/`; 0 to 5.
    #[schema(nullable = false, minimum = 0, maximum = 5)]
    repodata_depth: Option<i32>,
    #[schema(nullable = false)]
    deploy_policy: Option<YumDeployPolicy>,
}

/// The key that signs `repomd.xml`. Never echoed.
#[derive(ToSchema)]
pub(crate) struct YumSigningRepositoriesAttributes {
    /// An ASCII-armoured PGP private key.
    #[schema(write_only)]
    keypair: String,
    #[schema(write_only, nullable = false)]
    passphrase: Option<String>,
}

/// A request body: `name` and `online` and the blocks given.
macro_rules! request {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $name {
            /// Letters, digits, `-`, `_` and `.`, not starting with `_` or `.`.
            name: String,
            /// True when left out.
            #[schema(nullable = false)]
            online: Option<bool>,
            $($(#[$fm])* $field: $ty,)*
        }
    };
}

/// A repository as its typed `GET` answers: the request's blocks (secrets left out) and where
/// it is. `format` and `type` carry patterns so that exactly one schema of
/// `AbstractApiRepository` matches a repository.
macro_rules! response {
    ($(#[$m:meta])* $name:ident ($format:tt, $kind:tt) { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub(crate) struct $name {
            name: String,
            /// The format id: `maven2`, `pypi`, `docker`, `yum` or `raw`.
            #[schema(pattern = $format)]
            format: String,
            /// `hosted`, `proxy` or `group`.
            #[serde(rename = "type")]
            #[schema(pattern = $kind)]
            kind: String,
            url: String,
            online: bool,
            $($(#[$fm])* $field: $ty,)*
        }
    };
}

request!(MavenHostedRepositoryApiRequest {
    storage: HostedStorageAttributes,
    maven: MavenAttributes,
});
request!(MavenProxyRepositoryApiRequest {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    maven: MavenAttributes,
});
request!(MavenGroupRepositoryApiRequest {
    storage: StorageAttributes,
    group: GroupAttributes,
    #[schema(nullable = false)]
    maven: Option<MavenAttributes>,
});
request!(PypiHostedRepositoryApiRequest {
    storage: HostedStorageAttributes,
});
request!(PypiProxyRepositoryApiRequest {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    #[schema(nullable = false)]
    pypi: Option<PyPiProxyAttributes>,
});
request!(PypiGroupRepositoryApiRequest {
    storage: StorageAttributes,
    group: GroupAttributes,
});
request!(DockerHostedRepositoryApiRequest {
    storage: HostedStorageAttributes,
    #[schema(nullable = false)]
    docker: Option<DockerAttributes>,
});
request!(DockerProxyRepositoryApiRequest {
    #[schema(nullable = false)]
    docker_proxy: Option<DockerProxyAttributes>,
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    #[schema(nullable = false)]
    docker: Option<DockerAttributes>,
});
request!(DockerGroupRepositoryApiRequest {
    storage: StorageAttributes,
    group: GroupDeployAttributes,
    #[schema(nullable = false)]
    docker: Option<DockerAttributes>,
});
request!(YumHostedRepositoryApiRequest {
    storage: HostedStorageAttributes,
    #[schema(nullable = false)]
    yum: Option<YumAttributes>,
    #[schema(nullable = false)]
    yum_signing: Option<YumSigningRepositoriesAttributes>,
});
request!(YumProxyRepositoryApiRequest {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    #[schema(nullable = false)]
    yum_signing: Option<YumSigningRepositoriesAttributes>,
});
request!(YumGroupRepositoryApiRequest {
    storage: StorageAttributes,
    group: GroupAttributes,
    #[schema(nullable = false)]
    yum_signing: Option<YumSigningRepositoriesAttributes>,
});
request!(RawHostedRepositoryApiRequest {
    storage: HostedStorageAttributes,
    #[schema(nullable = false)]
    raw: Option<RawAttributes>,
});
request!(RawProxyRepositoryApiRequest {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    #[schema(nullable = false)]
    raw: Option<RawAttributes>,
});
request!(RawGroupRepositoryApiRequest {
    storage: StorageAttributes,
    group: GroupAttributes,
    #[schema(nullable = false)]
    raw: Option<RawAttributes>,
});

response!(MavenHostedApiRepository ("^maven2$", "^hosted$") {
    storage: HostedStorageAttributes,
    maven: MavenAttributes,
});
response!(MavenProxyApiRepository ("^maven2$", "^proxy$") {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    maven: MavenAttributes,
});
response!(
    /// A maven or pypi group.
    SimpleApiGroupRepository ("^(maven2|pypi)$", "^group$") {
        storage: StorageAttributes,
        group: GroupAttributes,
    }
);
response!(
    /// A pypi hosted repository.
    SimpleApiHostedRepository ("^pypi$", "^hosted$") {
        storage: HostedStorageAttributes,
    }
);
response!(PyPiProxyApiRepository ("^pypi$", "^proxy$") {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    pypi: PyPiProxyAttributes,
});
response!(DockerHostedApiRepository ("^docker$", "^hosted$") {
    storage: HostedStorageAttributes,
    docker: DockerAttributes,
});
response!(DockerProxyApiRepository ("^docker$", "^proxy$") {
    docker_proxy: DockerProxyAttributes,
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    docker: DockerAttributes,
});
response!(DockerGroupApiRepository ("^docker$", "^group$") {
    storage: StorageAttributes,
    group: GroupDeployAttributes,
    docker: DockerAttributes,
});
response!(YumHostedApiRepository ("^yum$", "^hosted$") {
    storage: HostedStorageAttributes,
    yum: YumAttributes,
});
response!(YumProxyApiRepository ("^yum$", "^proxy$") {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
});
response!(YumGroupApiRepository ("^yum$", "^group$") {
    storage: StorageAttributes,
    group: GroupAttributes,
});
response!(RawHostedApiRepository ("^raw$", "^hosted$") {
    storage: HostedStorageAttributes,
    raw: RawAttributes,
});
response!(RawProxyApiRepository ("^raw$", "^proxy$") {
    storage: StorageAttributes,
    proxy: ProxyAttributes,
    #[schema(nullable = false)]
    negative_cache: Option<NegativeCacheAttributes>,
    #[schema(nullable = false)]
    http_client: Option<HttpClientAttributes>,
    raw: RawAttributes,
});
response!(RawGroupApiRepository ("^raw$", "^group$") {
    storage: StorageAttributes,
    group: GroupAttributes,
    raw: RawAttributes,
});

/// A repository's full settings: the schema of its format and type.
#[derive(ToSchema)]
#[serde(untagged)]
pub(crate) enum AbstractApiRepository {
    MavenHosted(MavenHostedApiRepository),
    MavenProxy(MavenProxyApiRepository),
    Group(SimpleApiGroupRepository),
    PypiHosted(SimpleApiHostedRepository),
    PypiProxy(PyPiProxyApiRepository),
    DockerHosted(DockerHostedApiRepository),
    DockerProxy(DockerProxyApiRepository),
    DockerGroup(DockerGroupApiRepository),
    YumHosted(YumHostedApiRepository),
    YumProxy(YumProxyApiRepository),
    YumGroup(YumGroupApiRepository),
    RawHosted(RawHostedApiRepository),
    RawProxy(RawProxyApiRepository),
    RawGroup(RawGroupApiRepository),
}

/// The body for `{format}` and `{kind}`: `MavenHostedRepositoryApiRequest` for
/// `maven/hosted`, and so on.
#[derive(ToSchema)]
#[serde(untagged)]
pub(crate) enum RepositoryApiRequest {
    MavenHosted(MavenHostedRepositoryApiRequest),
    MavenProxy(MavenProxyRepositoryApiRequest),
    MavenGroup(MavenGroupRepositoryApiRequest),
    PypiHosted(PypiHostedRepositoryApiRequest),
    PypiProxy(PypiProxyRepositoryApiRequest),
    PypiGroup(PypiGroupRepositoryApiRequest),
    DockerHosted(DockerHostedRepositoryApiRequest),
    DockerProxy(DockerProxyRepositoryApiRequest),
    DockerGroup(DockerGroupRepositoryApiRequest),
    YumHosted(YumHostedRepositoryApiRequest),
    YumProxy(YumProxyRepositoryApiRequest),
    YumGroup(YumGroupRepositoryApiRequest),
    RawHosted(RawHostedRepositoryApiRequest),
    RawProxy(RawProxyRepositoryApiRequest),
    RawGroup(RawGroupRepositoryApiRequest),
}
