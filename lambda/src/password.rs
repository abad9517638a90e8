//! Generation of temporary passwords that always meet AD complexity and read well aloud.

use rand::seq::{IndexedRandom, SliceRandom};
use rand::CryptoRng;
use secrecy::{ExposeSecret, SecretString};

// No I/l/1, O/o/0, no characters that SMS encodes as two units or that sound alike.
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"#%+=?!@";

/// Shortest password the generator will produce, whatever the configuration says.
pub const MIN_LENGTH: usize = 14;

/// Errors of password generation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("could not generate a password avoiding the user's name after {0} tries: check the account's sAMAccountName and displayName")]
    Exhausted(usize),
}

/// The characters a generated password may contain.
pub fn alphabet() -> impl Iterator<Item = u8> {
    UPPER
        .iter()
        .chain(LOWER)
        .chain(DIGITS)
        .chain(SYMBOLS)
        .copied()
}

/// Generates a password of `length` (at least [`MIN_LENGTH`]) from a cryptographically secure
/// generator, with upper, lower, digit and symbol all present and no run of three or more
/// characters taken from the account name or a display-name token.
pub fn generate<R: CryptoRng + ?Sized>(
    rng: &mut R,
    length: usize,
    account_name: &str,
    display_name: &str,
) -> Result<SecretString, PasswordError> {
    const TRIES: usize = 100;
    let length = length.max(MIN_LENGTH);
    let all: Vec<u8> = alphabet().collect();
    for _ in 0..TRIES {
        let mut bytes = Vec::with_capacity(length);
        for class in [UPPER, LOWER, DIGITS, SYMBOLS] {
            bytes.push(*class.choose(rng).expect("class is not empty"));
        }
        while bytes.len() < length {
            bytes.push(*all.choose(rng).expect("alphabet is not empty"));
        }
        bytes.shuffle(rng);
        let candidate = String::from_utf8(bytes).expect("alphabet is ASCII");
        if meets_policy(&candidate, account_name, display_name) {
            return Ok(SecretString::from(candidate));
        }
    }
    Err(PasswordError::Exhausted(TRIES))
}

/// True when `password` has all four character classes and shares no run of three or more
/// characters (case-insensitive) with the account name or any display-name token.
pub fn meets_policy(password: &str, account_name: &str, display_name: &str) -> bool {
    let has = |set: &[u8]| password.bytes().any(|b| set.contains(&b));
    if !(has(UPPER) && has(LOWER) && has(DIGITS) && has(SYMBOLS)) {
        return false;
    }
    let pw = password.to_lowercase();
    let pw_chars: Vec<char> = pw.chars().collect();
    let tokens = std::iter::once(account_name)
        .chain(display_name.split([',', '.', '-', '_', ' ', '#', '\t']));
    for token in tokens {
        let token: Vec<char> = token.to_lowercase().chars().collect();
        if token.len() < 3 {
            continue;
        }
        for window in token.windows(3) {
            if pw_chars.windows(3).any(|w| w == window) {
                return false;
            }
        }
    }
    true
}

/// The value written to unicodePwd: the password in double quotes, UTF-16LE.
pub fn unicode_pwd(password: &SecretString) -> Vec<u8> {
    let quoted = format!("\"{}\"", password.expose_secret());
    quoted.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_complex_long_and_unambiguous() {
        let mut rng = rand::rng();
        for _ in 0..2000 {
            let pw = generate(&mut rng, 14, "jdoe", "John Doe").unwrap();
            let pw = pw.expose_secret();
            assert_eq!(pw.len(), 14);
            assert!(meets_policy(pw, "jdoe", "John Doe"), "{pw}");
            for ambiguous in ['0', 'O', 'o', '1', 'l', 'I', '"', '\\', ' '] {
                assert!(!pw.contains(ambiguous), "{pw}");
            }
        }
    }

    #[test]
    fn length_floor_and_custom_length() {
        let mut rng = rand::rng();
        assert_eq!(
            generate(&mut rng, 8, "a", "")
                .unwrap()
                .expose_secret()
                .len(),
            MIN_LENGTH
        );
        assert_eq!(
            generate(&mut rng, 32, "a", "")
                .unwrap()
                .expose_secret()
                .len(),
            32
        );
    }

    #[test]
    fn passwords_differ() {
        let mut rng = rand::rng();
        let a = generate(&mut rng, 16, "x", "").unwrap();
        let b = generate(&mut rng, 16, "x", "").unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn policy_rejects_name_runs_and_missing_classes() {
        assert!(meets_policy("Xk7#Tmvw9Rkp2z", "jdoe", "John Doe"));
        assert!(
            !meets_policy("Xk7#JDOmvw9Rkp", "jdoe", "John Doe"),
            "run of account name"
        );
        assert!(
            !meets_policy("Xk7#ohNmvw9Rkp", "jdoe", "John Doe"),
            "run of display token"
        );
        assert!(
            !meets_policy("Xk7#Smimvw9Rkp", "x", "Anne-Smith"),
            "token split on hyphen"
        );
        assert!(
            meets_policy("Xk7#Jomvw9Rkpz", "jo", "Al Bo"),
            "short names are ignored"
        );
        assert!(!meets_policy("xk7#tmvw9rkp2z", "a", ""), "no upper");
        assert!(!meets_policy("XK7#TMVW9RKP2Z", "a", ""), "no lower");
        assert!(!meets_policy("Xkz#Tmvwqrkpaz", "a", ""), "no digit");
        assert!(!meets_policy("Xk7aTmvw9Rkp2z", "a", ""), "no symbol");
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        let v = unicode_pwd(&SecretString::from("Ab1#".to_string()));
        let want: Vec<u8> = "\"Ab1#\"".bytes().flat_map(|b| [b, 0]).collect();
        assert_eq!(v, want);
        assert_eq!(&v[..4], &[b'"', 0, b'A', 0]);
    }
}
