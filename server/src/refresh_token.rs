//! Opaque refresh tokens: 256 random bits, base64url, stored only as a SHA-256 hash.
//!
//! A successor is derived from the token it replaces with a server-side HMAC key
//! instead of drawn at random. Anyone presenting the old token within the grace period
//! therefore gets the *same* successor back without the server ever storing a raw token,
//! and without the key nobody can compute a successor from a stolen token.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh random token, as sent in the cookie.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores and looks up: hex SHA-256 of the token.
pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The token that replaces `token` on rotation.
pub fn successor(key: &[u8], token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(token.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A device token for `user_id`: `id.mac`, where the MAC (HMAC-SHA-256 under the
/// server's key, truncated to 128 bits) binds a random id to the user. It proves that
/// this browser signed in as that user before, and nothing else.
pub fn device_token(key: &[u8], user_id: &str) -> String {
    let id = generate()[..22].to_owned();
    let mac = device_mac(key, user_id, &id);
    format!("{id}.{mac}")
}

/// The id of `token` if it is a device token this server issued for `user_id`.
pub fn device_id<'a>(key: &[u8], token: &'a str, user_id: &str) -> Option<&'a str> {
    let (id, mac) = token.split_once('.')?;
    let expected = device_mac(key, user_id, id);
    // Constant time, like every MAC comparison.
    let same = mac.len() == expected.len()
        && mac
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(id)
}

fn device_mac(key: &[u8], user_id: &str, id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(b"device\0");
    mac.update(user_id.as_bytes());
    mac.update(b"\0");
    mac.update(id.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
}

/// Cheap shape check before touching the database: 43 base64url characters.
pub fn looks_valid(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_of_base64url_and_unique() {
        let (a, b) = (generate(), generate());
        assert!(looks_valid(&a) && looks_valid(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn successor_is_stable_per_key_and_token() {
        let token = generate();
        let next = successor(b"key one", &token);
        assert_eq!(next, successor(b"key one", &token));
        assert_ne!(next, successor(b"key two", &token));
        assert_ne!(next, token);
        assert!(looks_valid(&next));
    }

    #[test]
    fn a_device_token_is_valid_only_for_its_user_and_key() {
        let token = device_token(b"key", "user-1");
        let id = device_id(b"key", &token, "user-1").expect("valid");
        assert_eq!(id.len(), 22);
        assert!(device_id(b"key", &token, "user-2").is_none());
        assert!(device_id(b"other key", &token, "user-1").is_none());
        assert!(device_id(b"key", "garbage", "user-1").is_none());
        assert!(device_id(b"key", &format!("{id}.AAAA"), "user-1").is_none());
    }

    #[test]
    fn hash_is_hex_sha256_and_differs_from_token() {
        let token = generate();
        let h = hash(&token);
        assert_eq!(h.len(), 64);
        assert_eq!(hex(&[0x00, 0x9f, 0xff]), "009fff");
        assert_ne!(h, token);
        assert!(!looks_valid("short"));
        assert!(!looks_valid(&"=".repeat(43)));
    }
}
