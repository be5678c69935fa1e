//! The data of one instance's `Store` ([`ObjectCtx`]): what the host side of every WIT
//! import works on. One file per interface implements it (`state.rs`, `storage.rs`, ...).
//!
//! Everything a guest can get wrong comes back to it as a typed WIT error; a trap is only
//! raised for a bad resource handle (a bug in the guest's bindings, not its logic).

use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::storage;
use super::memory_meter::MemoryMeter;
use super::outbound::Outbound;
use super::stubs::StubCtx;
use super::websocket::TurnEffects;
use crate::ids::{Key, ObjectId};
use crate::storage::{ObjectStorage, StorageError};
use crate::websocket::Hub;

/// Who an object is; shared by every instance it gets over its life.
#[derive(Debug)]
pub struct ObjectInfo {
    pub namespace: Arc<str>,
    pub ns_index: usize,
    pub id: ObjectId,
    pub id_text: Arc<str>,
    pub name: Option<String>,
}

impl ObjectInfo {
    pub fn key(&self) -> Key {
        (self.ns_index, self.id)
    }
}

/// The data of one instance's `Store`.
pub struct ObjectCtx {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    /// The per-memory limit, and the bytes of memory the instance holds.
    pub limits: MemoryMeter,
    pub info: Arc<ObjectInfo>,
    pub storage: Arc<Mutex<ObjectStorage>>,
    /// Epoch ticks the current event has used, and how many it may use.
    pub ticks_used: u64,
    pub ticks_allowed: u64,
    /// Set when the storage engine itself failed during this event: the turn must not commit.
    pub storage_failed: Option<String>,
    /// Set when that failure was a full disk or database (`SQLITE_FULL`, `ENOSPC`).
    pub storage_full: bool,
    pub hub: Arc<Hub>,
    /// The current event's WebSocket accept and sends, held until it commits.
    pub effects: TurnEffects,
    /// Set when the guest asked (`turn.rollback`) to roll this event's writes back.
    pub rollback_requested: Option<String>,
    /// Its bindings and stubs on other objects.
    pub stubs: StubCtx,
    /// Its outbound HTTP requests.
    pub http: WasiHttpCtx,
    pub outbound: Outbound,
}

impl super::cpu_limit::CpuMeter for ObjectCtx {
    fn ticks(&mut self) -> (&mut u64, u64) {
        (&mut self.ticks_used, self.ticks_allowed)
    }
}

impl WasiView for ObjectCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ObjectCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl ObjectCtx {
    pub(crate) fn storage(&self) -> MutexGuard<'_, ObjectStorage> {
        self.storage.lock().expect("object storage lock")
    }

    /// Converts a storage result for the guest, remembering engine failures.
    pub(super) fn answer<T>(
        &mut self,
        result: Result<T, StorageError>,
    ) -> Result<T, storage::Error> {
        result.map_err(|e| {
            let code = match &e {
                StorageError::InvalidArgument(_) => storage::ErrorCode::InvalidArgument,
                StorageError::LimitExceeded(_) => storage::ErrorCode::LimitExceeded,
                StorageError::TransactionClosed(_) => storage::ErrorCode::TransactionClosed,
                StorageError::Sqlite(_)
                | StorageError::Aborted(_)
                | StorageError::TimedOut(_) => {
                    tracing::error!(namespace = %self.info.namespace, object = %self.info.id_text, "storage failure: {e}");
                    self.storage_full |= crate::storage::is_disk_full(&e);
                    self.storage_failed = Some(e.to_string());
                    storage::ErrorCode::Internal
                }
            };
            storage::Error {
                code,
                message: e.to_string(),
            }
        })
    }
}

/// What a host function of a fallible interface returns: a trap (outer) for host bugs and
/// bad handles, a WIT error (inner) for whatever the guest can cause.
pub(super) type GuestResult<T> = wasmtime::Result<Result<T, storage::Error>>;
