//! Recognising a full disk among storage errors: SQLite's `SQLITE_FULL` (from any layer that
//! wraps it) and the OS's `ENOSPC`. A full disk is not a storage failure in the fail-stop
//! sense: the write was refused before anything of it was committed, what is committed stays
//! durable, and writes work again once there is space.

use std::error::Error;

use rusqlite::ErrorCode;

use super::{SqlError, StorageError};

/// Whether `error`, or an error it wraps, says the disk (or the database's size limit) is
/// full.
pub fn is_disk_full(error: &(dyn Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        let full = if let Some(e) = error.downcast_ref::<rusqlite::Error>() {
            e.sqlite_error_code() == Some(ErrorCode::DiskFull)
        } else if let Some(e) = error.downcast_ref::<StorageError>() {
            matches!(e, StorageError::Sqlite(e) if e.sqlite_error_code() == Some(ErrorCode::DiskFull))
        } else if let Some(e) = error.downcast_ref::<SqlError>() {
            matches!(e, SqlError::DatabaseFull(_))
        } else if let Some(e) = error.downcast_ref::<std::io::Error>() {
            e.kind() == std::io::ErrorKind::StorageFull
        } else {
            false
        };
        if full {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::os::raw::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_full_and_enospc_are_recognised_through_wrappers() {
        let full = sqlite(rusqlite::ffi::SQLITE_FULL);
        assert!(is_disk_full(&full));
        assert!(is_disk_full(&StorageError::Sqlite(full)));
        let wrapped = anyhow::Error::from(StorageError::Sqlite(sqlite(rusqlite::ffi::SQLITE_FULL)))
            .context("commit failed");
        assert!(wrapped.chain().any(is_disk_full));
        let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(is_disk_full(&enospc));
        assert!(!is_disk_full(&sqlite(rusqlite::ffi::SQLITE_IOERR)));
        assert!(!is_disk_full(&std::io::Error::from_raw_os_error(libc::EIO)));
        assert!(!is_disk_full(&StorageError::Aborted("lost".into())));
    }
}
