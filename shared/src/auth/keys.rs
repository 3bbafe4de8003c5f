//! Ed25519 key material: the signing key (login only) and the accepted public keys (everyone).

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

/// Why key material was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a PEM-encoded PKCS#8 Ed25519 private key.
    #[error("not a PKCS#8 PEM Ed25519 private key ({0})")]
    BadPrivateKey(&'static str),
    /// The public key set is not a JWKS of Ed25519 (OKP) keys.
    #[error("bad public key set: {0}")]
    BadPublicKeys(String),
    /// The key id is empty or too long.
    #[error("key id must be 1-64 characters")]
    BadKeyId,
    /// The system random generator failed.
    #[error("could not generate a key")]
    Generate,
    /// The stored signing key is not `{"kid": "...", "pem": "..."}`.
    #[error("the signing key secret is not {{\"kid\": ..., \"pem\": ...}}: {0}")]
    BadSecret(String),
    /// The key store could not be read.
    #[error(transparent)]
    Source(#[from] crate::ports::KeySourceError),
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    if kid.is_empty() || kid.len() > 64 { Err(KeyError::BadKeyId) } else { Ok(()) }
}

/// The private key that signs access tokens, with its key id.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 (v1 or v2) PEM, as `openssl genpkey -algorithm ed25519` writes it.
    pub fn from_pem(kid: &str, pem_text: &str) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let block = pem::parse(pem_text.trim()).map_err(|_| KeyError::BadPrivateKey("not PEM"))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(KeyError::BadPrivateKey("PEM label is not PRIVATE KEY"));
        }
        Self::from_pkcs8_der(kid, block.contents())
    }

    fn from_pkcs8_der(kid: &str, der: &[u8]) -> Result<Self, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::BadPrivateKey("not an Ed25519 key"))?;
        let mut x = [0u8; 32];
        x.copy_from_slice(pair.public_key().as_ref());
        Ok(Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(der),
            public: PublicKey { kid: kid.to_owned(), x },
        })
    }

    /// Parses the signing key as the key store keeps it: `{"kid": "...", "pem": "..."}`.
    pub fn from_secret(json: &str) -> Result<Self, KeyError> {
        #[derive(Deserialize)]
        struct Stored {
            kid: String,
            pem: String,
        }
        let stored: Stored = serde_json::from_str(json).map_err(|e| KeyError::BadSecret(e.to_string()))?;
        Self::from_pem(&stored.kid, &stored.pem)
    }

    /// A fresh key and its PKCS#8 PEM (for the local gateway's key file).
    pub fn generate(kid: &str) -> Result<(Self, String), KeyError> {
        check_kid(kid)?;
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| KeyError::Generate)?;
        let pem_text = pem::encode(&pem::Pem::new("PRIVATE KEY", doc.as_ref().to_vec()));
        Ok((Self::from_pkcs8_der(kid, doc.as_ref())?, pem_text))
    }

    /// The key id written in each token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

/// An accepted Ed25519 public key with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: String,
    x: [u8; 32],
}

impl PublicKey {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

#[derive(Serialize, Deserialize)]
struct Jwk {
    kty: String,
    crv: String,
    kid: String,
    x: String,
}

#[derive(Serialize, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// The public keys a verifier accepts, by key id (rotation = several at once).
#[derive(Clone)]
pub struct PublicKeys {
    keys: Vec<PublicKey>,
    decoding: HashMap<String, DecodingKey>,
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys.iter().map(PublicKey::kid)).finish()
    }
}

impl PublicKeys {
    /// A set of keys; a later key with a known `kid` is refused.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Result<Self, KeyError> {
        let mut set = Self { keys: Vec::new(), decoding: HashMap::new() };
        for key in keys {
            set.insert(key)?;
        }
        Ok(set)
    }

    /// Adds one key; refuses a second key under the same `kid`.
    pub fn insert(&mut self, key: PublicKey) -> Result<(), KeyError> {
        if self.decoding.contains_key(&key.kid) {
            if self.keys.contains(&key) {
                return Ok(());
            }
            return Err(KeyError::BadPublicKeys(format!("two different keys with kid {}", key.kid)));
        }
        let decoding = DecodingKey::from_ed_der(&key.x);
        self.decoding.insert(key.kid.clone(), decoding);
        self.keys.push(key);
        Ok(())
    }

    /// Parses a JWKS document: `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"...","x":"..."}]}`.
    pub fn from_jwks(json: &str) -> Result<Self, KeyError> {
        let jwks: Jwks = serde_json::from_str(json).map_err(|e| KeyError::BadPublicKeys(e.to_string()))?;
        let mut keys = Vec::with_capacity(jwks.keys.len());
        for jwk in jwks.keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(KeyError::BadPublicKeys(format!("key {} is not OKP/Ed25519", jwk.kid)));
            }
            check_kid(&jwk.kid)?;
            let raw = URL_SAFE_NO_PAD
                .decode(jwk.x.as_bytes())
                .map_err(|_| KeyError::BadPublicKeys(format!("key {}: x is not base64url", jwk.kid)))?;
            let x: [u8; 32] = raw
                .try_into()
                .map_err(|_| KeyError::BadPublicKeys(format!("key {}: x is not 32 bytes", jwk.kid)))?;
            keys.push(PublicKey { kid: jwk.kid, x });
        }
        Self::new(keys)
    }

    /// The set as a JWKS document (what another function's `AUTH_PUBLIC_KEYS` takes).
    pub fn to_jwks(&self) -> String {
        let keys = self
            .keys
            .iter()
            .map(|k| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                kid: k.kid.clone(),
                x: URL_SAFE_NO_PAD.encode(k.x),
            })
            .collect();
        serde_json::to_string(&Jwks { keys }).unwrap_or_default()
    }

    /// The key ids, sorted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.keys.iter().map(|k| k.kid.clone()).collect();
        kids.sort();
        kids
    }

    /// Whether the set has no key (a verifier with no key accepts nothing).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pem_round_trips_and_jwks_round_trips() {
        let (key, pem_text) = SigningKey::generate("k1").unwrap();
        let again = SigningKey::from_pem("k1", &pem_text).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let set = PublicKeys::new([key.public_key().clone()]).unwrap();
        let parsed = PublicKeys::from_jwks(&set.to_jwks()).unwrap();
        assert_eq!(parsed.keys, set.keys);
    }

    #[test]
    fn openssl_pkcs8_v1_key_is_accepted() {
        // `openssl genpkey -algorithm ed25519` output (a throwaway test key).
        let pem_text = "-----BEGIN PRIVATE KEY-----\n\
            MC4CAQAwBQYDK2VwBCIEIJg1nie/+1FoF+r5W5ndTgCpTBrJeZA6qXoF17XFtg5B\n\
            -----END PRIVATE KEY-----\n";
        assert!(SigningKey::from_pem("k1", pem_text).is_ok());
    }

    #[test]
    fn bad_material_is_refused() {
        assert!(SigningKey::from_pem("k1", "not a key").is_err());
        assert!(SigningKey::from_pem("", "x").is_err());
        assert!(PublicKeys::from_jwks(r#"{"keys":[{"kty":"RSA","crv":"","kid":"a","x":""}]}"#).is_err());
        assert!(
            PublicKeys::from_jwks(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}"#)
                .is_err()
        );
        let (a, _) = SigningKey::generate("same").unwrap();
        let (b, _) = SigningKey::generate("same").unwrap();
        assert!(PublicKeys::new([a.public_key().clone(), b.public_key().clone()]).is_err());
    }
}
