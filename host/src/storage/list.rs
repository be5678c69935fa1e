//! `list`: ranges, prefix, order and limit, with Cloudflare's semantics.

use rusqlite::types::Value;

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

impl ObjectStorage {
    pub fn list(&mut self, options: &ListOptions) -> Result<Vec<(String, Vec<u8>)>> {
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
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
            let key: Vec<u8> = row.get(0)?;
            let value: Vec<u8> = row.get(1)?;
            Ok((key, value))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, value) = row?;
            // Keys are written from Rust strings only, so they are UTF-8.
            let key = String::from_utf8(key).map_err(|e| {
                StorageError::InvalidArgument(format!("stored key is not UTF-8: {e}"))
            })?;
            out.push((key, value));
        }
        Ok(out)
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
