//! The object's private, transactional key-value store.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::wdo::object::storage as wit;
use crate::{Sql, StorageError};

type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The object's storage. Get it from [`State::storage`](crate::State::storage).
///
/// Keys are strings, ordered by their UTF-8 bytes. The typed methods store values as JSON,
/// so stored data stays readable; the `_raw` methods store bytes as given.
///
/// Every call joins the current turn's implicit transaction (the host commits it before
/// the response is released, and a trap rolls it back), and the innermost open
/// [`transaction`](Storage::transaction) if there is one.
#[derive(Debug, Clone, Copy)]
pub struct Storage {
    _private: (),
}

impl Storage {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// The value at `key`, decoded from JSON, or `None` if the key is absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_raw(key)?
            .map(|bytes| decode(key, &bytes))
            .transpose()
    }

    /// The present keys among `keys` (at most 128) with their values, in key order.
    pub fn get_many<T: DeserializeOwned>(
        &self,
        keys: &[impl AsRef<str>],
    ) -> Result<Vec<(String, T)>> {
        decode_entries(self.get_many_raw(keys)?)
    }

    /// Stores `value` at `key`, encoded as JSON.
    pub fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.put_raw(key, &encode(key, value)?)
    }

    /// Stores all entries (at most 128) atomically, encoded as JSON.
    pub fn put_many<T: Serialize>(&self, entries: &[(impl AsRef<str>, T)]) -> Result<()> {
        let entries = entries
            .iter()
            .map(|(key, value)| {
                let key = key.as_ref();
                Ok((key.to_owned(), encode(key, value)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(wit::put_many(&entries)?)
    }

    /// Deletes `key`; returns whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool> {
        Ok(wit::delete(key)?)
    }

    /// Deletes `keys` (at most 128); returns how many existed.
    pub fn delete_many(&self, keys: &[impl AsRef<str>]) -> Result<u32> {
        Ok(wit::delete_many(&owned_keys(keys))?)
    }

    /// The entries selected by `options`, decoded from JSON.
    pub fn list<T: DeserializeOwned>(&self, options: ListOptions) -> Result<Vec<(String, T)>> {
        decode_entries(self.list_raw(options)?)
    }

    /// SQL on the same database, in the same transactions.
    pub fn sql(&self) -> Sql {
        Sql::new()
    }

    /// Deletes every key, every table and view made with [`sql`](Self::sql), and the alarm,
    /// atomically.
    /// Not allowed inside an explicit transaction.
    pub fn delete_all(&self) -> Result<()> {
        Ok(wit::delete_all()?)
    }

    /// The alarm's time (Unix ms), if one is set. `None` while the alarm handler runs,
    /// unless it set a new alarm.
    pub fn get_alarm(&self) -> Result<Option<u64>> {
        Ok(crate::bindings::wdo::object::alarm::get_alarm()?)
    }

    /// Sets (overwrites) the object's one alarm to `scheduled_ms`, Unix milliseconds (see
    /// [`now_ms`](crate::now_ms)). A time in the past fires promptly. The change is part of
    /// the current turn (and transaction): if that rolls back, so does the alarm.
    pub fn set_alarm(&self, scheduled_ms: u64) -> Result<()> {
        Ok(crate::bindings::wdo::object::alarm::set_alarm(
            scheduled_ms,
        )?)
    }

    /// Removes the alarm, if any.
    pub fn delete_alarm(&self) -> Result<()> {
        Ok(crate::bindings::wdo::object::alarm::delete_alarm()?)
    }

    /// The bytes at `key`, or `None` if the key is absent.
    pub fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(wit::get(key)?)
    }

    /// Like [`get_many`](Storage::get_many), without decoding.
    pub fn get_many_raw(&self, keys: &[impl AsRef<str>]) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(wit::get_many(&owned_keys(keys))?)
    }

    /// Stores `value` at `key` as given.
    pub fn put_raw(&self, key: &str, value: &[u8]) -> Result<()> {
        Ok(wit::put(key, value)?)
    }

    /// Like [`put_many`](Storage::put_many), without encoding.
    pub fn put_many_raw(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        Ok(wit::put_many(entries)?)
    }

    /// Like [`list`](Storage::list), without decoding.
    pub fn list_raw(&self, options: ListOptions) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(wit::list(&options.into_wit())?)
    }

    /// Runs `f` inside an explicit transaction.
    ///
    /// If `f` returns `Ok`, the transaction is committed: its writes become part of the
    /// enclosing transaction (or of the turn). If `f` returns `Err`, it is rolled back and
    /// the error is returned unchanged. Calls nest: a `transaction` inside `f` is nested in
    /// this one. If `f` panics, the guest traps and the host rolls the whole turn back.
    ///
    /// `E` only needs `From<StorageError>`, so `f` can fail with its own error type:
    ///
    /// ```no_run
    /// # use wdo_sdk::{Storage, StorageError};
    /// enum MoveError { Missing, Storage(StorageError) }
    /// impl From<StorageError> for MoveError {
    ///     fn from(e: StorageError) -> Self { MoveError::Storage(e) }
    /// }
    ///
    /// fn rename(storage: &Storage, from: &str, to: &str) -> Result<(), MoveError> {
    ///     storage.transaction(|s| {
    ///         let value: serde_json::Value = s.get(from)?.ok_or(MoveError::Missing)?;
    ///         s.delete(from)?;
    ///         s.put(to, &value)?;
    ///         Ok(())
    ///     })
    /// }
    /// ```
    pub fn transaction<R, E, F>(&self, f: F) -> std::result::Result<R, E>
    where
        F: FnOnce(&Storage) -> std::result::Result<R, E>,
        E: From<StorageError>,
    {
        let transaction = wit::Transaction::begin().map_err(StorageError::from)?;
        match f(self) {
            Ok(value) => {
                transaction.commit().map_err(StorageError::from)?;
                Ok(value)
            }
            Err(error) => {
                // The caller's error is what matters. If the explicit rollback fails, dropping
                // the resource (right after) rolls the transaction back anyway.
                let _ = transaction.rollback();
                Err(error)
            }
        }
    }
}

/// Which entries [`Storage::list`] returns. Built with chained setters:
///
/// ```
/// # use wdo_sdk::ListOptions;
/// let newest_ten = ListOptions::new().prefix("event:").reverse(true).limit(10);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    start: Option<String>,
    start_after: Option<String>,
    end: Option<String>,
    prefix: Option<String>,
    reverse: bool,
    limit: Option<u32>,
}

impl ListOptions {
    /// All entries, in ascending key order.
    pub fn new() -> Self {
        Self::default()
    }

    /// First key to include (inclusive). Not together with [`start_after`](Self::start_after).
    #[must_use]
    pub fn start(mut self, key: impl Into<String>) -> Self {
        self.start = Some(key.into());
        self
    }

    /// List keys strictly after this one. Not together with [`start`](Self::start).
    #[must_use]
    pub fn start_after(mut self, key: impl Into<String>) -> Self {
        self.start_after = Some(key.into());
        self
    }

    /// First key to exclude (exclusive).
    #[must_use]
    pub fn end(mut self, key: impl Into<String>) -> Self {
        self.end = Some(key.into());
        self
    }

    /// Only keys that begin with `prefix`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Descending order. Does not change the meaning of start and end.
    #[must_use]
    pub fn reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }

    /// At most `limit` entries; must be greater than 0.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    fn into_wit(self) -> wit::ListOptions {
        wit::ListOptions {
            start: self.start,
            start_after: self.start_after,
            end: self.end,
            prefix: self.prefix,
            reverse: self.reverse,
            limit: self.limit,
        }
    }
}

fn owned_keys(keys: &[impl AsRef<str>]) -> Vec<String> {
    keys.iter().map(|key| key.as_ref().to_owned()).collect()
}

fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|error| {
        StorageError::serialization(format!("cannot encode the value for key {key:?}: {error}"))
    })
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| {
        StorageError::serialization(format!("cannot decode the value at key {key:?}: {error}"))
    })
}

fn decode_entries<T: DeserializeOwned>(
    entries: Vec<(String, Vec<u8>)>,
) -> Result<Vec<(String, T)>> {
    entries
        .into_iter()
        .map(|(key, bytes)| {
            let value = decode(&key, &bytes)?;
            Ok((key, value))
        })
        .collect()
}
