//! Process-wide SQLite settings, applied once before the first connection opens.

use std::sync::Once;

use rusqlite::ffi;

static CONFIGURE: Once = Once::new();

/// Turns off SQLite's memory statistics (`SQLITE_CONFIG_MEMSTATUS`). With them on, every
/// allocation of every connection takes one global mutex to update the counters, and with
/// hundreds of objects opening, querying and closing on several threads that mutex was a
/// measured share of an activation (bench scenario 2). The host reads no global memory
/// statistic; per-connection counters (`sqlite3_db_status`) are unaffected.
///
/// Must run before SQLite initializes; every place that opens a connection calls it first.
/// If SQLite was initialized already (only possible if something else opened a connection
/// first), the setting is refused and the default stays, which is correct, only slower.
pub fn configure() {
    CONFIGURE.call_once(|| {
        // SAFETY: sqlite3_config is called before any connection of this process is opened
        // (see above) and with the argument type this option takes (one int).
        let rc =
            unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::os::raw::c_int) };
        if rc != ffi::SQLITE_OK {
            tracing::debug!("SQLite memory statistics stay on (sqlite3_config returned {rc})");
        }
    });
}
