//! Authentication and authorization: none, wrong, right, tokens, anonymous on and off.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::json;

use crate::{DELETE, GET, POST, PUT, json};

async fn basic_and_anonymous(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let repos = s.at("/service/rest/v1/repositorySettings");

    // No credentials on an admin endpoint: 401 with a Basic challenge.
    let r = c.get(&repos).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    // Wrong password, unknown user, garbage header: 401.
    assert_eq!(
        c.get(&repos)
            .basic_auth("admin", Some("wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&repos)
            .basic_auth("nobody", Some("x"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&repos)
            .header("authorization", "Basic !!!")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&repos)
            .header("authorization", "Digest x")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Right password.
    assert_eq!(
        s.admin(GET, "/service/rest/v1/repositorySettings")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The generated password is in the data directory, as Nexus does it.
    let file = std::fs::read_to_string(s.data_dir().join("admin.password")).unwrap();
    assert_eq!(file, s.admin_password);
    assert!(file.len() >= 20);

    s.create_raw_hosted("files", "ALLOW").await;
    assert_eq!(
        s.admin(PUT, "/repository/files/a.txt")
            .body("hello")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let file_url = s.at("/repository/files/a.txt");

    // Anonymous access is off by default: reads need credentials.
    let anon = json(
        s.admin(GET, "/service/rest/v1/security/anonymous")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anon["enabled"], false);
    assert_eq!(c.get(&file_url).send().await.unwrap().status(), 401);
    let visible = json(
        c.get(s.at("/service/rest/v1/repositories"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(visible, json!([]));

    // Turned on: anonymous may browse and read, not write or administer.
    let r = s
        .admin(PUT, "/service/rest/v1/security/anonymous")
        .json(
            &json!({"enabled": true, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(&file_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello");
    let visible = json(
        c.get(s.at("/service/rest/v1/repositories"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(visible[0]["name"], "files");
    assert_eq!(
        c.put(s.at("/repository/files/b.txt"))
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(c.delete(&file_url).send().await.unwrap().status(), 401);
    assert_eq!(c.get(&repos).send().await.unwrap().status(), 401);
    assert_eq!(
        c.put(s.at("/service/rest/v1/security/anonymous"))
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Wrong credentials are refused even where anonymous would be allowed.
    assert_eq!(
        c.get(&file_url)
            .basic_auth("admin", Some("wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // And off again.
    s.admin(PUT, "/service/rest/v1/security/anonymous")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(c.get(&file_url).send().await.unwrap().status(), 401);
}

async fn tokens(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    // Anonymous cannot make tokens.
    let r = c
        .post(s.at("/service/rest/v1/security/tokens"))
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .admin(POST, "/service/rest/v1/security/tokens")
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let t = json(r).await;
    let token = t["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("arca_"));
    let id = t["id"].as_i64().unwrap();

    let repos = s.at("/service/rest/v1/repositorySettings");
    // As a Basic password (any user name, as docker/mvn/pip send one) and as a Bearer token.
    assert_eq!(
        c.get(&repos)
            .basic_auth("admin", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&repos)
            .basic_auth("ci-bot", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&repos)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&repos)
            .bearer_auth(format!("{token}x"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Listed without the secret.
    let list = json(
        s.admin(GET, "/service/rest/v1/security/tokens")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list[0]["name"], "ci");
    assert!(list[0].get("token").is_none());
    assert!(list[0]["lastUsed"].is_i64());
    // Stored hashed: the plain token is nowhere in the database file.
    if b == Backend::Sqlite {
        let db = std::fs::read(s.data_dir().join("arca.db")).unwrap();
        let wal = std::fs::read(s.data_dir().join("arca.db-wal")).unwrap_or_default();
        for bytes in [db, wal] {
            assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
        }
    }
    // Revoked: refused at once (the login cache is dropped too).
    assert_eq!(
        s.admin(DELETE, &format!("/service/rest/v1/security/tokens/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.get(&repos)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&repos)
            .basic_auth("admin", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        s.admin(DELETE, &format!("/service/rest/v1/security/tokens/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // An expired token is refused.
    let r = s
        .admin(POST, "/service/rest/v1/security/tokens")
        .json(&json!({"name": "old", "expiresInDays": 0}))
        .send()
        .await
        .unwrap();
    let old = json(r).await["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        c.get(&repos)
            .bearer_auth(&old)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

async fn change_password(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let url = s.at("/service/rest/v1/security/users/admin/change-password");
    let file = s.data_dir().join("admin.password");
    assert!(file.exists());
    // Anonymous: 401; empty and short passwords: 400; unknown user: 404.
    assert_eq!(
        c.put(&url)
            .body("new-password-1")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        s.admin(PUT, "/service/rest/v1/security/users/admin/change-password")
            .body("")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(PUT, "/service/rest/v1/security/users/admin/change-password")
            .body("short")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.admin(PUT, "/service/rest/v1/security/users/ghost/change-password")
            .body("long-enough-1")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Changed: the old password stops working at once (cached logins dropped), the new one
    // works, and the generated password file is gone.
    assert_eq!(
        s.admin(PUT, "/service/rest/v1/security/users/admin/change-password")
            .body("new-password-1")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let repos = s.at("/service/rest/v1/repositorySettings");
    assert_eq!(
        c.get(&repos)
            .basic_auth("admin", Some(&s.admin_password))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&repos)
            .basic_auth("admin", Some("new-password-1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        !file.exists(),
        "admin.password removed after the first change"
    );
    let check = json(
        c.get(s.at("/service/rest/v1/status/check"))
            .basic_auth("admin", Some("new-password-1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(check["Default Admin Credentials"]["healthy"], true);
}

/// Registry bearer tokens (JWTs) that were not signed by this server as it signs them are
/// refused: a changed payload, another key, an expired or wrong-audience token, `alg: none`,
/// and HS512 under the right key.
async fn forged_jwts(b: Backend) {
    use base64::Engine as _;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let s = TestServer::start(b).await;
    let c = s.client();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let v2 = |token: String| {
        let c = c.clone();
        let url = s.at("/v2/_catalog");
        async move {
            c.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let issued = json(
        c.get(s.at("/v2/token?service=arca"))
            .basic_auth("admin", Some(&s.admin_password))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(v2(issued.clone()).await, 200, "the genuine token works");

    let db = arca_core::meta::Db::connect(&match b {
        Backend::Sqlite => format!("sqlite://{}", s.data_dir().join("arca.db").display()),
        Backend::Postgres => s.database_url().to_owned(),
    })
    .await
    .unwrap();
    let secret = db.get_setting("jwt_secret").await.unwrap().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = |exp: i64, aud: &str| json!({"iss": "arca", "sub": "admin", "aud": aud, "iat": now, "exp": exp, "access": []});
    let sign = |alg: Algorithm, key: &[u8], claims: serde_json::Value| {
        jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(key)).unwrap()
    };
    // The control: a token made here with the server's own key and settings is accepted, so
    // each refusal below is for the one thing changed.
    let good = sign(
        Algorithm::HS256,
        secret.as_bytes(),
        claims(now + 300, "arca"),
    );
    assert_eq!(v2(good.clone()).await, 200);

    let parts: Vec<&str> = issued.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["exp"] = json!(now + 86_400 * 365);
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    let cases = [
        ("changed payload", tampered),
        (
            "another key",
            sign(Algorithm::HS256, b"not-the-key", claims(now + 300, "arca")),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                secret.as_bytes(),
                claims(now - 600, "arca"),
            ),
        ),
        (
            "another audience",
            sign(Algorithm::HS256, secret.as_bytes(), claims(now + 300, "ui")),
        ),
        (
            "HS512",
            sign(
                Algorithm::HS512,
                secret.as_bytes(),
                claims(now + 300, "arca"),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims(now + 300, "arca"))
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in cases {
        assert_eq!(v2(token).await, 401, "{what}");
    }
}

/// Browser sessions: the sign-in form sets an HttpOnly, SameSite=Strict cookie; the session
/// authenticates pages and REST calls, state-changing ones only with its CSRF token; a wrong
/// password, a forged or expired cookie and a disabled user get no session.
async fn browser_sessions(b: Backend) {
    let s = TestServer::start(b).await;
    let c = arca_testkit::reqwest::Client::builder()
        .redirect(arca_testkit::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |user: &'static str, pass: String| ui_login(&c, &s, user, pass, "/ui/admin");
    // A sign-in posted without the form's own cookie (as from another site) is refused.
    let r = c
        .post(s.at("/ui/login"))
        .form(&[
            ("username", "admin"),
            ("password", s.admin_password.as_str()),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        !r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("arca_session="))
    );
    let r = login("admin", "wrong".into()).await;
    assert_eq!(r.status(), 401);
    assert!(session_cookie(&r).is_none());
    let r = login("admin", s.admin_password.clone()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/admin");
    let set = session_cookie(&r).unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    // An open redirect is not followed: only local paths.
    let r = ui_login(&c, &s, "admin", s.admin_password.clone(), "//evil.example/").await;
    assert_eq!(r.headers()["location"], "/");

    let page = c
        .get(s.at("/ui/admin/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(csrf.len(), 32);
    // REST with the cookie: reads need nothing more, changes need the token.
    let r = c
        .get(s.at("/service/rest/v1/security/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json!({"name": "from-ui", "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"}});
    let create = |token: Option<&str>| {
        let mut r = c
            .post(s.at("/service/rest/v1/repositories/raw/hosted"))
            .header("cookie", &cookie)
            .json(&body);
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    assert_eq!(create(None).await.unwrap().status(), 403);
    assert_eq!(
        create(Some("0".repeat(32).as_str()))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(create(Some(&csrf)).await.unwrap().status(), 201);
    // A forged cookie (payload changed) is no session: the page asks to sign in.
    let token = cookie.split_once('=').unwrap().1;
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("arca_session={}.{}x.{}", parts[0], parts[1], parts[2]);
    let r = c
        .get(s.at("/ui/admin/users"))
        .header("cookie", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/ui/login")
    );
    // A disabled user's session stops at once.
    let u = json!({"userId": "carol", "firstName": "C", "lastName": "D", "emailAddress": "c@example.org",
                   "password": "carol-pass-123", "status": "active", "roles": ["nx-admin"]});
    assert_eq!(
        s.admin(POST, "/service/rest/v1/security/users")
            .json(&u)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = login("carol", "carol-pass-123".into()).await;
    let carol = session_cookie(&r)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = c
        .get(s.at("/ui/admin/users"))
        .header("cookie", &carol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut off = u.clone();
    off["status"] = json!("disabled");
    off["source"] = json!("default");
    assert_eq!(
        s.admin(PUT, "/service/rest/v1/security/users/carol")
            .json(&off)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let r = c
        .get(s.at("/service/rest/v1/security/users"))
        .header("cookie", &carol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Sign-out needs the token too, and clears the cookie.
    let r = c
        .post(s.at("/ui/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(s.at("/ui/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(session_cookie(&r).unwrap().contains("Max-Age=0"));
    // The signed-out session is over on the server too: a copy of the cookie gets nothing.
    let r = c
        .get(s.at("/service/rest/v1/security/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A password change ends the user's sessions as well.
    let r = login("admin", s.admin_password.clone()).await;
    let again = session_cookie(&r)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let users = || {
        c.get(s.at("/service/rest/v1/security/users"))
            .header("cookie", &again)
            .send()
    };
    assert_eq!(users().await.unwrap().status(), 200);
    let r = s
        .admin(PUT, "/service/rest/v1/security/users/admin/change-password")
        .header("content-type", "text/plain")
        .body("a-brand-new-password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(users().await.unwrap().status(), 401);
}

/// Signs in through the form as a browser does: the page's cookie and token, then the post.
async fn ui_login(
    c: &arca_testkit::reqwest::Client,
    s: &TestServer,
    user: &str,
    pass: String,
    next: &str,
) -> arca_testkit::reqwest::Response {
    let page = c.get(s.at("/ui/login")).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("arca_login="))
        .expect("the form sets its cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    c.post(s.at("/ui/login"))
        .header("cookie", cookie)
        .form(&[
            ("username", user),
            ("password", pass.as_str()),
            ("next", next),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// The `arca_session` cookie a response sets, if any.
fn session_cookie(r: &arca_testkit::reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("arca_session="))
}

both_backends!(
    browser_sessions,
    basic_and_anonymous,
    tokens,
    change_password,
    format_scoped_repository_admin,
    forged_jwts,
    credentials_are_checked_once,
    tokens_cannot_mint_tokens_or_change_passwords,
    security_headers
);

/// A client bound to a loopback address of its own, as another machine would be.
fn client_from(ip: &str) -> arca_testkit::reqwest::Client {
    arca_testkit::reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .redirect(arca_testkit::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn create_user(s: &TestServer, id: &str, password: &str, roles: &[&str]) {
    let u = json!({"userId": id, "firstName": "F", "lastName": "L", "emailAddress": format!("{id}@example.org"),
                   "password": password, "status": "active", "roles": roles});
    let r = s
        .admin(POST, "/service/rest/v1/security/users")
        .json(&u)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// The login counters of `/metrics`: passwords checked and logins throttled.
async fn login_counters(s: &TestServer) -> (u64, u64) {
    let text = s
        .admin(GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    (
        get("arca_password_checks_total"),
        get("arca_logins_throttled_total"),
    )
}

/// Wrong passwords from one address throttle that address (429, unchecked), not the user: the
/// owner signs in from another address at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_throttle_the_address_not_the_user() {
    let s = TestServer::start(Backend::Sqlite).await;
    create_user(&s, "victim", "victim-pass-1", &["nx-admin"]).await;
    let url = s.at("/service/rest/v1/repositorySettings");
    let attacker = client_from("127.0.0.1");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = attacker
            .get(&url)
            .basic_auth("victim", Some("wrong"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..5].iter().all(|c| *c == 401), "{statuses:?}");
    assert!(statuses[5..].iter().all(|c| *c == 429), "{statuses:?}");
    // Throttled attempts cost no password check.
    let (checked, throttled) = login_counters(&s).await;
    assert!(throttled >= 15, "{throttled}");
    let r = attacker
        .get(&url)
        .basic_auth("victim", Some("victim-pass-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the attacker's address stays throttled");
    assert!(r.headers().contains_key("retry-after"));
    // The owner, elsewhere: in at once.
    let owner = client_from("127.0.0.2");
    assert_eq!(
        owner
            .get(&url)
            .basic_auth("victim", Some("victim-pass-1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (checked_after, _) = login_counters(&s).await;
    // Only the owner's login and the metrics reader's (cached admin: none) were checked.
    assert!(checked_after - checked <= 2, "{checked} -> {checked_after}");
    // Many users from one address spend the address's budget: even new names wait.
    let spray = client_from("127.0.0.3");
    let mut last = 0;
    for i in 0..40 {
        last = spray
            .get(&url)
            .basic_auth(format!("user{i}"), Some("guess"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}

/// Many clients sending the same new credentials at once cost one password check; a security
/// change makes them re-check the database, not re-hash; unknown users cost a check too (the
/// same work as a known one, so timing does not tell which users exist).
async fn credentials_are_checked_once(b: Backend) {
    let s = TestServer::start(b).await;
    create_user(&s, "ci", "ci-password-1", &["nx-admin"]).await;
    let url = s.at("/service/rest/v1/repositorySettings");
    let (before, _) = login_counters(&s).await;
    let c = s.client();
    let all = (0..32).map(|_| c.get(&url).basic_auth("ci", Some("ci-password-1")).send());
    for r in futures_util::future::join_all(all).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let (after, _) = login_counters(&s).await;
    assert_eq!(
        after - before,
        1,
        "one argon2 check for 32 concurrent requests"
    );
    // A role change elsewhere invalidates caches: still no new hash for an unchanged password.
    let role = json!({"id": "r1", "name": "r1", "description": "", "privileges": [], "roles": []});
    let r = s
        .admin(POST, "/service/rest/v1/security/roles")
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for _ in 0..3 {
        let r = c
            .get(&url)
            .basic_auth("ci", Some("ci-password-1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (after2, _) = login_counters(&s).await;
    assert_eq!(after2, after, "revalidated without hashing");
    // A changed password is checked again: the old one fails, the new one passes.
    let r = s
        .admin(PUT, "/service/rest/v1/security/users/ci/change-password")
        .header("content-type", "text/plain")
        .body("ci-password-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let status = |pw: &'static str| {
        let c = c.clone();
        let url = url.clone();
        async move {
            c.get(&url)
                .basic_auth("ci", Some(pw))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("ci-password-1").await, 401);
    assert_eq!(status("ci-password-2").await, 200);
    // An unknown user is refused after a check of the same cost.
    let (b1, _) = login_counters(&s).await;
    let r = c
        .get(&url)
        .basic_auth("nobody-here", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (b2, _) = login_counters(&s).await;
    assert_eq!(b2 - b1, 1, "the decoy check ran");
}

/// API tokens cannot mint tokens (which would survive their revocation) nor change passwords.
async fn tokens_cannot_mint_tokens_or_change_passwords(b: Backend) {
    let s = TestServer::start(b).await;
    let r = s
        .admin(POST, "/service/rest/v1/security/tokens")
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = json(r).await["token"].as_str().unwrap().to_owned();
    let c = s.client();
    let r = c
        .post(s.at("/service/rest/v1/security/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "child"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(s.at("/service/rest/v1/security/tokens"))
        .basic_auth("admin", Some(&token))
        .json(&json!({"name": "child"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .put(s.at("/service/rest/v1/security/users/admin/change-password"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("taken-over-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The password is unchanged, and the token still reads.
    assert_eq!(
        s.admin(GET, "/service/rest/v1/security/tokens")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .get(s.at("/service/rest/v1/security/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await.as_array().unwrap().len(), 1, "no child token");
}

/// Every response carries `nosniff`; repository content is sandboxed; UI pages have a strict
/// policy and refuse framing.
async fn security_headers(b: Backend) {
    let s = TestServer::start(b).await;
    s.create_raw_hosted("files", "ALLOW").await;
    let page = b"<html><script>fetch('/service/rest/v1/security/users')</script></html>";
    let r = s
        .admin(PUT, "/repository/files/doc/index.html")
        .body(page.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for path in [
        "/repository/files/doc/index.html",
        "/repository/files/doc/",
        "/v2/",
    ] {
        let r = s.admin(GET, path).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("sandbox") && csp.contains("default-src 'none'"),
            "{path}: {csp}"
        );
    }
    for path in ["/", "/ui/login", "/service/rest/v1/status", "/static/ui.js"] {
        let r = s.client().get(s.at(path)).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
    }
}

/// A role with `nx-repository-admin-maven2-*-*` administers Maven repositories and nothing else.
async fn format_scoped_repository_admin(b: Backend) {
    use arca_core::meta::{Db, Role, User};
    let s = TestServer::start(b).await;
    s.create_raw_hosted("raw-one", "ALLOW").await;
    let db = Db::connect(&match b {
        Backend::Sqlite => format!("sqlite://{}", s.data_dir().join("arca.db").display()),
        Backend::Postgres => s.database_url().to_owned(),
    })
    .await
    .unwrap();
    db.put_role(&Role {
        id: "maven-admin".into(),
        name: "maven-admin".into(),
        description: "".into(),
        source: "default".into(),
        read_only: false,
        privileges: vec!["nx-repository-admin-maven2-*-*".into()],
        roles: vec![],
    })
    .await
    .unwrap();
    db.create_user(&User {
        user_id: "mvn".into(),
        first_name: "M".into(),
        last_name: "Admin".into(),
        email: "m@example.org".into(),
        password_hash: arca_core::security::hash_password("mvn-password-1").unwrap(),
        status: "active".into(),
        source: "default".into(),
        roles: vec!["maven-admin".into()],
        not_before_ms: 0,
    })
    .await
    .unwrap();
    db.close().await;
    let c = s.client();
    let api = |p: &str| s.at(&format!("/service/rest/v1/repositories/{p}"));
    let maven = json!({"name": "mvn-one", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
                       "maven": {"versionPolicy": "MIXED", "layoutPolicy": "STRICT"}});
    let raw = json!({"name": "raw-two", "online": true, "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"}});
    let as_mvn = |r: arca_testkit::reqwest::RequestBuilder| {
        r.basic_auth("mvn", Some("mvn-password-1")).send()
    };
    assert_eq!(
        as_mvn(c.post(api("maven/hosted")).json(&maven))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        as_mvn(c.get(api("maven/hosted/mvn-one")))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        as_mvn(c.post(api("raw/hosted")).json(&raw))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        as_mvn(c.get(api("raw/hosted/raw-one")))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        as_mvn(c.delete(api("raw-one"))).await.unwrap().status(),
        403
    );
    assert_eq!(
        as_mvn(c.delete(api("mvn-one"))).await.unwrap().status(),
        204
    );
    // Anonymous is asked to authenticate.
    assert_eq!(
        c.post(api("maven/hosted"))
            .json(&maven)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}
