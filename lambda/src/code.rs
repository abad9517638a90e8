//! The one-time code that proves the caller holds the phone on record: generated from a
//! CSPRNG, texted, and stored only as a keyed digest bound to the Lex session, the user ID
//! and the intent, so a code is worth nothing in another session, for another user or for
//! another request, and the table's contents do not give it away.

use aws_lc_rs::hmac;
use rand::seq::IndexedRandom;
use rand::CryptoRng;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Digits in a code.
pub const LENGTH: usize = 6;
/// Wrong codes a session may enter before it ends with the generic failure.
pub const MAX_TRIES: u32 = 3;

/// The key of the code digests, the same in every environment of the function: derived from
/// the directory service account's password (only this function can decrypt it), so the
/// digests in the attempts table cannot be checked against the million possible codes
/// without it.
#[derive(Clone)]
pub struct CodeKey(hmac::Key);

impl CodeKey {
    pub fn derive(secret: &SecretString) -> CodeKey {
        let outer = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
        let derived = hmac::sign(&outer, b"resetpw one-time code key v1");
        CodeKey(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// A key of its own for this process (tests; codes then verify only in this process).
    pub fn random() -> CodeKey {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        CodeKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    /// Hex digest of `code` for this session, user key and intent.
    pub fn digest(&self, session: &str, user_key: &str, intent: &str, code: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        for part in [session, user_key, intent, code] {
            ctx.update(&(part.len() as u32).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        ctx.sign()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `given` is the code behind `digest`, compared in constant time.
    pub fn matches(
        &self,
        digest: &str,
        session: &str,
        user_key: &str,
        intent: &str,
        given: &str,
    ) -> bool {
        let computed = self.digest(session, user_key, intent, given);
        bool::from(computed.as_bytes().ct_eq(digest.as_bytes()))
    }
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

/// A new code: [`LENGTH`] digits, each uniform from the generator.
pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> SecretString {
    const DIGITS: &[u8] = b"0123456789";
    let code: String = (0..LENGTH)
        .map(|_| *DIGITS.choose(rng).expect("digits") as char)
        .collect();
    SecretString::from(code)
}

/// The caller's code as digits (keypad input, or digits Lex heard with spaces between), or
/// `None` when it is not [`LENGTH`] digits.
pub fn normalize(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == LENGTH && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The code's SMS: names neither the user ID nor the account.
pub fn sms_text(code: &SecretString, ttl_seconds: u64, unlock: bool) -> SecretString {
    let what = if unlock {
        "account unlock"
    } else {
        "password reset"
    };
    let minutes = ttl_seconds.div_ceil(60);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    SecretString::from(format!(
        "Your {what} code is {}. It expires in {minutes} {unit}. Never share it; the service desk will never ask for it.",
        code.expose_secret()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_uniform_digits() {
        let mut rng = rand::rng();
        let mut seen = [0u32; 10];
        for _ in 0..2000 {
            let c = generate(&mut rng);
            let c = c.expose_secret();
            assert_eq!(c.len(), LENGTH);
            for b in c.bytes() {
                seen[(b - b'0') as usize] += 1;
            }
        }
        // 12,000 digits: each of the ten appears (expected 1,200; far from 0 or 12,000).
        assert!(seen.iter().all(|&n| (900..1500).contains(&n)), "{seen:?}");
    }

    #[test]
    fn the_digest_binds_session_user_and_intent() {
        let key = CodeKey::random();
        let d = key.digest("s1", "jdoe", "ResetPW", "123456");
        assert_eq!(d.len(), 64);
        assert!(!d.contains("123456"));
        assert!(key.matches(&d, "s1", "jdoe", "ResetPW", "123456"));
        assert!(!key.matches(&d, "s1", "jdoe", "ResetPW", "123457"));
        assert!(!key.matches(&d, "s2", "jdoe", "ResetPW", "123456"));
        assert!(!key.matches(&d, "s1", "jdoe2", "ResetPW", "123456"));
        assert!(!key.matches(&d, "s1", "jdoe", "UnlockAccount", "123456"));
        // Length-prefixed parts: moving a character between parts changes the digest.
        assert_ne!(
            key.digest("s1j", "doe", "ResetPW", "123456"),
            key.digest("s1", "jdoe", "ResetPW", "123456")
        );
        // Another key (another stack's secret) does not accept it.
        assert!(!CodeKey::random().matches(&d, "s1", "jdoe", "ResetPW", "123456"));
    }

    #[test]
    fn derived_keys_agree_across_environments() {
        let a = CodeKey::derive(&SecretString::from("service password"));
        let b = CodeKey::derive(&SecretString::from("service password"));
        let other = CodeKey::derive(&SecretString::from("another password"));
        let d = a.digest("s", "u", "i", "000111");
        assert!(b.matches(&d, "s", "u", "i", "000111"));
        assert!(!other.matches(&d, "s", "u", "i", "000111"));
    }

    #[test]
    fn caller_input_is_normalized() {
        assert_eq!(normalize("123456").as_deref(), Some("123456"));
        assert_eq!(normalize(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize("012345").as_deref(), Some("012345"));
        assert_eq!(normalize("12345"), None);
        assert_eq!(normalize("1234567"), None);
        assert_eq!(normalize("12345a"), None);
        assert_eq!(normalize("١٢٣٤٥٦"), None);
    }

    #[test]
    fn the_sms_names_no_account() {
        let text = sms_text(&SecretString::from("042137"), 600, false);
        let text = text.expose_secret();
        assert!(text.contains("042137"));
        assert!(text.contains("10 minutes"));
        assert!(text.contains("Never share it"));
        let unlock = sms_text(&SecretString::from("042137"), 60, true);
        assert!(unlock.expose_secret().contains("unlock code"));
        assert!(unlock.expose_secret().contains("1 minute."));
    }
}
