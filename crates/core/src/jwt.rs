//! Signed JSON Web Tokens (HS256) for registry bearer tokens and browser sessions. The key is
//! one random secret kept in the settings table, so every node of a cluster signs and checks
//! alike, and a token outlives a restart.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    meta::{Db, MetaError},
    security::random_secret,
};

const SETTING_SECRET: &str = "jwt_secret";
/// `iss` of every token Arca signs.
pub const ISSUER: &str = "arca";

pub struct Jwt {
    enc: EncodingKey,
    dec: DecodingKey,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

impl Jwt {
    /// Loads the signing secret, creating it on the first start.
    pub async fn load(db: &Db) -> Result<Self, MetaError> {
        db.init_setting(SETTING_SECRET, &random_secret(48)).await?;
        let secret = db
            .get_setting(SETTING_SECRET)
            .await?
            .ok_or_else(|| MetaError::Invalid("jwt secret missing".into()))?;
        Ok(Self::from_secret(secret.as_bytes()))
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
        }
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, JwtError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.enc)
            .map_err(|e| JwtError::Sign(e.to_string()))
    }

    /// Checks signature, algorithm (HS256 only: `none` and key-confusion tricks fail), expiry,
    /// issuer and audience.
    pub fn verify<T: DeserializeOwned>(&self, token: &str, audience: &str) -> Result<T, JwtError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[audience]);
        v.set_issuer(&[ISSUER]);
        v.leeway = 5;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<T>(token, &self.dec, &v)
            .map(|d| d.claims)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize)]
    struct C {
        sub: String,
        iss: String,
        aud: String,
        exp: u64,
    }

    fn claims(exp_offset: i64, aud: &str) -> C {
        C {
            sub: "u".into(),
            iss: ISSUER.into(),
            aud: aud.into(),
            exp: (crate::model::now_ms() / 1000 + exp_offset) as u64,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let j = Jwt::from_secret(b"secret-one");
        let t = j.sign(&claims(60, "arca")).expect("sign");
        assert!(j.verify::<C>(&t, "arca").is_ok());
        // Wrong audience, expired, another key, tampered, alg none.
        assert!(j.verify::<C>(&t, "ui").is_err());
        let old = j.sign(&claims(-120, "arca")).expect("sign");
        assert!(j.verify::<C>(&old, "arca").is_err());
        assert!(Jwt::from_secret(b"other").verify::<C>(&t, "arca").is_err());
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged_payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"sub":"admin","iss":"arca","aud":"arca","exp":99999999999}"#,
        );
        parts[1] = &forged_payload;
        assert!(j.verify::<C>(&parts.join("."), "arca").is_err());
        let none_header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"none","typ":"JWT"}"#,
        );
        let unsigned = format!("{none_header}.{forged_payload}.");
        assert!(j.verify::<C>(&unsigned, "arca").is_err());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(60, "arca"),
            &EncodingKey::from_secret(b"secret-one"),
        )
        .expect("sign");
        assert!(j.verify::<C>(&hs512, "arca").is_err());
    }
}
