//! Paging: page sizes, opaque cursors and the positions they stand for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::clock::{epoch, from_epoch};

/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 20;
/// Largest page.
pub const MAX_PAGE: u32 = 100;

/// A page of results and the cursor for the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of at most `limit` from `items` (fetched with one more than `limit`, to know
    /// whether another page follows); `cursor` makes the next page's cursor from the last item.
    pub fn cut(mut items: Vec<T>, limit: u32, cursor: impl FnOnce(&T) -> String) -> Self {
        let limit = limit as usize;
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(cursor).unwrap_or_default()
        });
        Self { items, next_cursor }
    }
}

/// A page size: 1–100.
pub fn parse_limit(raw: Option<&str>) -> Result<u32, &'static str> {
    match raw {
        None => Ok(DEFAULT_PAGE),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or("must be a number from 1 to 100"),
    }
}

/// Ids are ours (conversations, tickets): anything else cannot exist and is never looked up.
pub fn plausible_id(raw: &str) -> bool {
    (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn encode(raw: String) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode(raw: &str, kind: &str) -> Option<String> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    text.strip_prefix(kind).map(str::to_owned)
}

const NOT_OURS: &str = "is not a cursor this API issued";

/// A position in a newest-first list: an item's time, ties broken by its id. A page starts
/// after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The item's time (updated or created, as the list orders).
    pub at: DateTime<Utc>,
    /// The item's id.
    pub id: String,
}

impl Cursor {
    /// The position of an item.
    pub fn new(at: DateTime<Utc>, id: &str) -> Self {
        Self { at, id: id.to_owned() }
    }

    /// The opaque text for `next_cursor`; `kind` keeps lists apart (`c` conversations, `t`
    /// tickets), so one list's cursor is refused by another.
    pub fn encode(&self, kind: &str) -> String {
        encode(format!("{kind}:{}:{}", epoch(self.at), self.id))
    }

    /// Parses what [`Cursor::encode`] wrote for this `kind`; no cursor is the first page.
    pub fn parse(kind: &str, raw: Option<&str>) -> Result<Option<Self>, &'static str> {
        let Some(raw) = raw else { return Ok(None) };
        decode(raw, &format!("{kind}:"))
            .and_then(|s| {
                let (at, id) = s.split_once(':')?;
                Some(Self { at: from_epoch(at.parse().ok()?), id: id.to_owned() })
            })
            .map(Some)
            .ok_or(NOT_OURS)
    }
}

/// The cursor after a conversation's message `seq` (messages page oldest first).
pub fn message_cursor(seq: u32) -> String {
    encode(format!("m:{seq}"))
}

/// Parses a [`message_cursor`]; no cursor starts at the first message.
pub fn parse_message_cursor(raw: Option<&str>) -> Result<u32, &'static str> {
    raw.map_or(Ok(0), |c| decode(c, "m:").and_then(|s| s.parse().ok()).ok_or(NOT_OURS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(parse_message_cursor(Some(&message_cursor(42))), Ok(42));
        assert!(parse_message_cursor(Some("bogus")).is_err());
        let position = Cursor::new(from_epoch(1_767_952_800), "conv_1");
        assert_eq!(Cursor::parse("c", Some(&position.encode("c"))), Ok(Some(position.clone())));
        assert_eq!(Cursor::parse("c", None), Ok(None));
        assert!(Cursor::parse("t", Some(&position.encode("c"))).is_err(), "another list's cursor");
        assert!(parse_message_cursor(Some(&position.encode("c"))).is_err());
        assert_eq!(parse_limit(Some("0")), Err("must be a number from 1 to 100"));
        assert_eq!(parse_limit(Some("101")), Err("must be a number from 1 to 100"));
        assert_eq!(parse_limit(None), Ok(DEFAULT_PAGE));
    }
}
