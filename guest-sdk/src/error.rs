//! Errors: [`Error`] is what a handler returns, [`StorageError`] what storage calls return,
//! [`SqlError`] what SQL calls return.

use std::fmt;

use crate::bindings::wdo::object::sql as wit_sql;
use crate::bindings::wdo::object::storage as wit;

/// An error answered to the caller as an HTTP status with the JSON body `{"error": message}`.
///
/// Return it from [`DurableObject::fetch`](crate::DurableObject::fetch). `?` converts a
/// [`StorageError`] or a [`SqlError`] into a 500 that also *rolls the turn back*: none of
/// the event's writes are kept, as if it had trapped, but the caller still gets this
/// answer. Errors made with the constructors ([`bad_request`](Self::bad_request), ...) keep
/// the writes made before them; [`with_rollback`](Self::with_rollback) changes either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
    rollback: bool,
}

impl Error {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            rollback: false,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 405 Method Not Allowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// The HTTP status answered.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message answered as `{"error": message}`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether returning this error from a handler rolls back the turn's writes.
    pub fn rolls_back(&self) -> bool {
        self.rollback
    }

    /// Sets whether returning this error from a handler rolls back the turn's writes.
    #[must_use]
    pub fn with_rollback(mut self, rollback: bool) -> Self {
        self.rollback = rollback;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for Error {}

/// A storage failure the handler did not handle: 500, and the turn is rolled back.
impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        Self::internal(error.to_string()).with_rollback(true)
    }
}

/// A SQL failure the handler did not handle: 500, and the turn is rolled back.
impl From<SqlError> for Error {
    fn from(error: SqlError) -> Self {
        Self::internal(error.to_string()).with_rollback(true)
    }
}

/// What kind of storage failure a [`StorageError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorCode {
    /// An argument is malformed (e.g. `start` together with `start_after`).
    InvalidArgument,
    /// A key, value or batch is over its limit.
    LimitExceeded,
    /// The transaction the call belongs to was rolled back or has ended.
    TransactionClosed,
    /// The storage engine failed; the turn should be abandoned.
    Internal,
    /// A value could not be encoded as JSON, or a stored value could not be decoded as the
    /// requested type. Raised by the SDK, not the host.
    Serialization,
}

impl fmt::Display for StorageErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidArgument => "invalid argument",
            Self::LimitExceeded => "limit exceeded",
            Self::TransactionClosed => "transaction closed",
            Self::Internal => "internal storage error",
            Self::Serialization => "serialization error",
        })
    }
}

/// A failed storage call: the host's `error` record (code and message), or a JSON
/// encoding/decoding failure of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    code: StorageErrorCode,
    message: String,
}

impl StorageError {
    /// What kind of failure this is.
    pub fn code(&self) -> StorageErrorCode {
        self.code
    }

    /// What went wrong, naming the key or limit concerned.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn serialization(message: String) -> Self {
        Self {
            code: StorageErrorCode::Serialization,
            message,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage: {}: {}", self.code, self.message)
    }
}

impl std::error::Error for StorageError {}

impl From<wit::Error> for StorageError {
    fn from(error: wit::Error) -> Self {
        let code = match error.code {
            wit::ErrorCode::InvalidArgument => StorageErrorCode::InvalidArgument,
            wit::ErrorCode::LimitExceeded => StorageErrorCode::LimitExceeded,
            wit::ErrorCode::TransactionClosed => StorageErrorCode::TransactionClosed,
            wit::ErrorCode::Internal => StorageErrorCode::Internal,
        };
        Self {
            code,
            message: error.message,
        }
    }
}

/// What kind of failure a [`SqlError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SqlErrorCode {
    /// SQLite rejected or failed a statement: a syntax error, an unknown table or column, ...
    QueryFailed,
    /// A constraint failed: UNIQUE, NOT NULL, CHECK, PRIMARY KEY or FOREIGN KEY.
    Constraint,
    /// The host refused the statement (a host table, ATTACH, BEGIN, a PRAGMA, ...).
    NotAuthorized,
    /// The parameters do not fit the query.
    InvalidArgument,
    /// The query, a parameter count, a value or row, or the result is over its limit.
    LimitExceeded,
    /// The explicit transaction the call belongs to was rolled back.
    TransactionClosed,
    /// The database reached its maximum size; the host rolls the turn back.
    DatabaseFull,
    /// The storage engine failed; the host rolls the turn back.
    Internal,
    /// A row could not be decoded as the requested type, or a query expected to return one
    /// row did not. Raised by the SDK, not the host.
    Decode,
}

impl fmt::Display for SqlErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::QueryFailed => "query failed",
            Self::Constraint => "constraint failed",
            Self::NotAuthorized => "not authorized",
            Self::InvalidArgument => "invalid argument",
            Self::LimitExceeded => "limit exceeded",
            Self::TransactionClosed => "transaction closed",
            Self::DatabaseFull => "database full",
            Self::Internal => "internal storage error",
            Self::Decode => "decoding error",
        })
    }
}

/// A failed SQL call: the host's `error` record (code and SQLite's or the host's message),
/// or a decoding failure of the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    code: SqlErrorCode,
    message: String,
}

impl SqlError {
    /// What kind of failure this is.
    pub fn code(&self) -> SqlErrorCode {
        self.code
    }

    /// SQLite's message (e.g. `UNIQUE constraint failed: notes.id`), or what the host refused.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn decode(message: String) -> Self {
        Self {
            code: SqlErrorCode::Decode,
            message,
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sql: {}: {}", self.code, self.message)
    }
}

impl std::error::Error for SqlError {}

impl From<wit_sql::Error> for SqlError {
    fn from(error: wit_sql::Error) -> Self {
        use wit_sql::ErrorCode as C;
        let code = match error.code {
            C::QueryFailed => SqlErrorCode::QueryFailed,
            C::Constraint => SqlErrorCode::Constraint,
            C::NotAuthorized => SqlErrorCode::NotAuthorized,
            C::InvalidArgument => SqlErrorCode::InvalidArgument,
            C::LimitExceeded => SqlErrorCode::LimitExceeded,
            C::TransactionClosed => SqlErrorCode::TransactionClosed,
            C::DatabaseFull => SqlErrorCode::DatabaseFull,
            C::Internal => SqlErrorCode::Internal,
        };
        Self {
            code,
            message: error.message,
        }
    }
}
