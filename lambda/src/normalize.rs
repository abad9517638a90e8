//! Normalisation of caller answers and directory values so they compare byte for byte.

use time::{Date, Month};

/// Longest user ID accepted from the caller.
pub const MAX_USER_ID_LEN: usize = 64;

/// Normalises a user ID as heard or typed: trims, drops inner spaces (speech often splits
/// letters). Returns `None` when it contains a character a user ID cannot have.
/// Only ASCII letters, digits, `.`, `_` and `-` are allowed, which rules out every LDAP
/// filter metacharacter before escaping even happens.
pub fn user_id(raw: &str) -> Option<String> {
    let id: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if id.is_empty() || id.len() > MAX_USER_ID_LEN {
        return None;
    }
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        .then_some(id)
}

/// The key under which failed attempts are counted: AD matches user IDs case-insensitively.
pub fn attempts_key(user_id: &str) -> String {
    user_id.to_ascii_lowercase()
}

/// A user ID safe to log: the first two characters and a fixed mask (length not revealed).
pub fn mask_user_id(user_id: &str) -> String {
    let prefix: String = user_id.chars().take(2).collect();
    format!("{prefix}***")
}

/// How dates are stored in the directory attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    /// YYYY-MM-DD
    Iso,
    /// YYYYMMDD (also accepts the generalized-time form YYYYMMDDhhmmss.0Z)
    Compact,
    /// DD/MM/YYYY with the given separator
    DayMonthYear(char),
    /// MM/DD/YYYY with the given separator
    MonthDayYear(char),
}

impl DateFormat {
    pub fn parse(spec: &str) -> Option<Self> {
        match spec.trim().to_ascii_uppercase().as_str() {
            "YYYY-MM-DD" | "ISO" => Some(Self::Iso),
            "YYYYMMDD" => Some(Self::Compact),
            "DD/MM/YYYY" => Some(Self::DayMonthYear('/')),
            "DD.MM.YYYY" => Some(Self::DayMonthYear('.')),
            "DD-MM-YYYY" => Some(Self::DayMonthYear('-')),
            "MM/DD/YYYY" => Some(Self::MonthDayYear('/')),
            "MM-DD-YYYY" => Some(Self::MonthDayYear('-')),
            _ => None,
        }
    }
}

fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn make_date(y: u32, m: u32, d: u32) -> Option<Date> {
    if !(1000..=9999).contains(&y) {
        return None;
    }
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(y as i32, month, u8::try_from(d).ok()?).ok()
}

/// Parses a Lex AMAZON.Date interpreted value (ISO 8601 YYYY-MM-DD).
pub fn lex_date(value: &str) -> Option<Date> {
    parse_date(value, DateFormat::Iso)
}

/// Parses a date in the given directory format.
pub fn parse_date(value: &str, format: DateFormat) -> Option<Date> {
    let v = value.trim();
    match format {
        DateFormat::Iso => {
            let mut it = v.split('-');
            let (y, m, d) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || y.len() != 4 {
                return None;
            }
            make_date(num(y)?, num(m)?, num(d)?)
        }
        DateFormat::Compact => {
            let digits = v.get(..8)?;
            let rest = &v[8..];
            if !(rest.is_empty() || rest.ends_with('Z')) {
                return None;
            }
            make_date(num(&digits[..4])?, num(&digits[4..6])?, num(&digits[6..8])?)
        }
        DateFormat::DayMonthYear(sep) | DateFormat::MonthDayYear(sep) => {
            let mut it = v.split(sep);
            let (a, b, y) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || y.len() != 4 {
                return None;
            }
            let (d, m) = if matches!(format, DateFormat::DayMonthYear(_)) {
                (a, b)
            } else {
                (b, a)
            };
            make_date(num(y)?, num(m)?, num(d)?)
        }
    }
}

/// Canonical comparison form of a date.
pub fn canonical_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Parses a month given as a name, an abbreviation (three letters or more, e.g. "Sept")
/// or a number 1-12. Returns 1-12.
pub fn month(value: &str) -> Option<u8> {
    let v = value.trim().trim_end_matches('.').to_ascii_lowercase();
    if let Some(n) = num(&v) {
        return (1..=12).contains(&n).then_some(n as u8);
    }
    if v.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|name| name.starts_with(v.as_str()))
        .map(|i| i as u8 + 1)
}

/// Canonical comparison form of free text: lower case, single spaces.
pub fn text(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Normalises a phone number to E.164 (`+` and 8-15 digits). Accepts spaces, dashes, dots,
/// parentheses, a leading `00` international prefix, and national numbers when a default
/// country calling code is configured (a single leading trunk `0` is dropped).
pub fn e164(value: &str, default_country_code: Option<&str>) -> Option<String> {
    let v = value.trim();
    let mut digits = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => return None,
        }
    }
    let international = if v.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else {
        let cc = default_country_code?;
        let national = digits.strip_prefix('0').unwrap_or(&digits);
        format!("{cc}{national}")
    };
    ((8..=15).contains(&international.len()) && !international.starts_with('0'))
        .then(|| format!("+{international}"))
}

/// A phone number safe to log: country code prefix and the last two digits.
pub fn mask_phone(e164: &str) -> String {
    let n = e164.len();
    if n < 6 {
        return "***".into();
    }
    format!("{}***{}", &e164[..3], &e164[n - 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert_eq!(user_id(" j doe ").as_deref(), Some("jdoe"));
        assert_eq!(user_id("rp.reset").as_deref(), Some("rp.reset"));
        assert_eq!(user_id("A_b-9").as_deref(), Some("A_b-9"));
        for bad in [
            "", "   ", "*", ")(", "a)(uid=*", "a\\b", "a\0b", "jöhn", "a,b", "a=b", "x@y",
        ] {
            assert_eq!(user_id(bad), None, "{bad:?}");
        }
        assert_eq!(
            user_id(&"a".repeat(MAX_USER_ID_LEN)).map(|s| s.len()),
            Some(MAX_USER_ID_LEN)
        );
        assert_eq!(user_id(&"a".repeat(MAX_USER_ID_LEN + 1)), None);
    }

    #[test]
    fn masks_reveal_little() {
        assert_eq!(mask_user_id("rp.reset"), "rp***");
        assert_eq!(mask_user_id("a"), "a***");
        assert_eq!(mask_phone("+15550100001"), "+15***01");
        assert!(!mask_phone("+15550100001").contains("0100"));
        assert_eq!(attempts_key("JDoe"), "jdoe");
    }

    #[test]
    fn dates_in_every_format() {
        let d = make_date(1985, 3, 14).unwrap();
        assert_eq!(lex_date("1985-03-14"), Some(d));
        assert_eq!(parse_date("19850314", DateFormat::Compact), Some(d));
        assert_eq!(
            parse_date("19850314000000.0Z", DateFormat::Compact),
            Some(d)
        );
        assert_eq!(
            parse_date("14/03/1985", DateFormat::DayMonthYear('/')),
            Some(d)
        );
        assert_eq!(
            parse_date("14.3.1985", DateFormat::DayMonthYear('.')),
            Some(d)
        );
        assert_eq!(
            parse_date("03/14/1985", DateFormat::MonthDayYear('/')),
            Some(d)
        );
        assert_eq!(canonical_date(d), "1985-03-14");
        for bad in [
            "1985-02-30",
            "85-03-14",
            "1985-13-01",
            "1985-03-14-01",
            "",
            "abcd-ef-gh",
            "+198-03-14",
        ] {
            assert_eq!(lex_date(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_date("14/03/1985", DateFormat::MonthDayYear('/')),
            None
        );
    }

    #[test]
    fn months_by_name_abbreviation_or_number() {
        for (input, want) in [
            ("March", 3),
            ("mar", 3),
            ("MAR.", 3),
            ("3", 3),
            ("03", 3),
            ("Sept", 9),
            ("september", 9),
            ("12", 12),
            (" may ", 5),
        ] {
            assert_eq!(month(input), Some(want), "{input:?}");
        }
        for bad in ["0", "13", "ma", "", "Marchy", "ju"] {
            assert_eq!(month(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn phones_to_e164() {
        assert_eq!(
            e164("+1 (555) 010-0001", None).as_deref(),
            Some("+15550100001")
        );
        assert_eq!(
            e164("+44 20 7946 0004", None).as_deref(),
            Some("+442079460004")
        );
        assert_eq!(
            e164("0044 20 7946 0004", None).as_deref(),
            Some("+442079460004")
        );
        assert_eq!(
            e164("020 7946 0004", Some("44")).as_deref(),
            Some("+442079460004")
        );
        assert_eq!(e164("555-010-0001", None), None);
        assert_eq!(e164("+1 555 CALL NOW", None), None);
        assert_eq!(e164("+1", None), None);
        assert_eq!(e164("+1234567890123456", None), None);
    }

    #[test]
    fn text_is_case_and_space_insensitive() {
        assert_eq!(text("  Fluffy   The Cat "), "fluffy the cat");
    }
}
