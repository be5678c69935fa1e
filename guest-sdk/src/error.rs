//! Errors: [`Error`] is what a handler returns, [`StorageError`] what storage calls return.

use std::fmt;

use crate::bindings::wdo::object::storage as wit;

/// An error answered to the caller as an HTTP status with the JSON body `{"error": message}`.
///
/// Return it from [`DurableObject::fetch`](crate::DurableObject::fetch); `?` converts a
/// [`StorageError`] into a 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
}

impl Error {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for Error {}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        Self::internal(error.to_string())
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
