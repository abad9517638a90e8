//! The stack file: types, reading with precise errors, and checks that need no AWS call.

mod check;
mod load;
mod types;

pub use check::{contains, overlaps, warnings};
pub use load::{load, locate, Loaded, StackError};
pub use types::*;

/// The candidate nearest to `word`, when it is near enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_names_only() {
        let keys = ["name", "region", "tags", "directory"];
        assert_eq!(closest("regoin", keys), Some("region"));
        assert_eq!(closest("Directroy", keys), Some("directory"));
        assert_eq!(closest("zzzzzzzz", keys), None);
    }
}
