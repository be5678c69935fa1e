//! `list`: ranges, prefix, order and limit, with Cloudflare's semantics.

use rusqlite::types::{Value, ValueRef};

use super::{ObjectStorage, Result, StorageError};

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Inclusive.
    pub start: Option<String>,
    /// Exclusive; not together with `start`.
    pub start_after: Option<String>,
    /// Exclusive.
    pub end: Option<String>,
    pub prefix: Option<String>,
    /// Descending; does not change the meaning of start and end.
    pub reverse: bool,
    /// Must be > 0.
    pub limit: Option<u32>,
}

/// What a list does when its entries reach its byte bound.
#[derive(Clone, Copy)]
enum OverBound {
    /// Fail the call (a guest's `list`: it asked for these entries).
    Fail,
    /// Stop before the entry that would pass this many bytes (at least one entry is
    /// returned) and say that it stopped (an admin page).
    Stop(usize),
}

impl ObjectStorage {
    pub fn list(&mut self, options: &ListOptions) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self.list_bounded(options, OverBound::Fail)?.0)
    }

    /// [`list`](Self::list), stopped before its entries pass `max_bytes` (at least one is
    /// returned); true when it stopped early, so that a pager hands out a cursor.
    pub fn list_page(
        &mut self,
        options: &ListOptions,
        max_bytes: usize,
    ) -> Result<(Vec<(String, Vec<u8>)>, bool)> {
        self.list_bounded(options, OverBound::Stop(max_bytes))
    }

    fn list_bounded(
        &mut self,
        options: &ListOptions,
        over: OverBound,
    ) -> Result<(Vec<(String, Vec<u8>)>, bool)> {
        self.check_open("list")?;
        if options.start.is_some() && options.start_after.is_some() {
            return Err(StorageError::InvalidArgument(
                "start and start-after cannot be used together".into(),
            ));
        }
        if options.limit == Some(0) {
            return Err(StorageError::InvalidArgument(
                "List limit must be positive.".into(),
            ));
        }
        let mut sql = String::from("SELECT key, value FROM _wdo_kv WHERE 1");
        let mut args: Vec<Value> = Vec::new();
        let mut bound = |sql: &mut String, op: &str, key: Vec<u8>| {
            args.push(Value::Blob(key));
            sql.push_str(&format!(" AND key {op} ?{}", args.len()));
        };
        if let Some(start) = &options.start {
            bound(&mut sql, ">=", start.as_bytes().to_vec());
        }
        if let Some(after) = &options.start_after {
            bound(&mut sql, ">", after.as_bytes().to_vec());
        }
        if let Some(end) = &options.end {
            bound(&mut sql, "<", end.as_bytes().to_vec());
        }
        if let Some(prefix) = &options.prefix {
            bound(&mut sql, ">=", prefix.as_bytes().to_vec());
            if let Some(upper) = prefix_successor(prefix.as_bytes()) {
                bound(&mut sql, "<", upper);
            }
        }
        sql.push_str(if options.reverse {
            " ORDER BY key DESC"
        } else {
            " ORDER BY key ASC"
        });
        // A bound limit keeps the statement text, and so the statement cache, small.
        args.push(Value::Integer(options.limit.map_or(-1, i64::from)));
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.next()? {
            let (key, value) = (blob(row.get_ref(0)?), blob(row.get_ref(1)?));
            // Counted before the entry is copied, so a list too large is never held whole.
            bytes += entry_bytes(key, value);
            if let OverBound::Stop(max) = over {
                if bytes > max.min(self.limits.max_read_bytes) && !out.is_empty() {
                    return Ok((out, true));
                }
            }
            let max = self.limits.max_read_bytes;
            if bytes > max {
                return Err(StorageError::LimitExceeded(format!(
                    "the entries of this list are over the limit of {max} bytes for one call \
                     (keys and values, and {ENTRY_BYTES} bytes per entry); list them in pages: \
                     pass a limit, then start-after the last key returned"
                )));
            }
            // Keys are written from Rust strings only, so they are UTF-8.
            let key = String::from_utf8(key.to_vec()).map_err(|e| {
                StorageError::InvalidArgument(format!("stored key is not UTF-8: {e}"))
            })?;
            out.push((key, value.to_vec()));
        }
        Ok((out, false))
    }
}

/// What an entry of a `list` or `get-many` answer takes in the host's memory besides its
/// bytes: its key's `String` and its value's `Vec`.
pub(super) const ENTRY_BYTES: usize = std::mem::size_of::<(String, Vec<u8>)>();

/// What an entry of a `list` or `get-many` answer takes in the host's memory.
pub(super) fn entry_bytes(key: &[u8], value: &[u8]) -> usize {
    ENTRY_BYTES + key.len() + value.len()
}

/// The bytes of a key or value of `_wdo_kv` (the host writes only BLOBs there).
fn blob(value: ValueRef<'_>) -> &[u8] {
    match value {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes,
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => &[],
    }
}

/// The smallest byte string greater than every string with this prefix, if there is one.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < 0xFF {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}
