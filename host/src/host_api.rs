//! The per-instance store data and the host side of the WIT imports (`state`, `storage`).
//!
//! Everything a guest can get wrong comes back to it as a typed WIT error; a trap is only
//! raised for a bad resource handle (a bug in the guest's bindings, not its logic).

use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{alarm, state, storage};
use crate::host_websocket::TurnEffects;
use crate::ids::ObjectId;
use crate::storage::{ListOptions, ObjectStorage, StorageError};
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
    pub fn key(&self) -> crate::registry::Key {
        (self.ns_index, self.id)
    }
}

/// A guest's explicit transaction (the WIT resource `transaction`).
pub struct Transaction {
    id: u64,
}

/// The data of one instance's `Store`.
pub struct ObjectCtx {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limits: StoreLimits,
    pub info: Arc<ObjectInfo>,
    pub storage: Arc<Mutex<ObjectStorage>>,
    /// Epoch ticks the current event has used, and how many it may use.
    pub ticks_used: u64,
    pub ticks_allowed: u64,
    /// Set when the storage engine itself failed during this event: the turn must not commit.
    pub storage_failed: Option<String>,
    pub hub: Arc<Hub>,
    /// The current event's WebSocket accept and sends, held until it commits.
    pub effects: TurnEffects,
    /// Set when the guest asked (`turn.rollback`) to roll this event's writes back.
    pub rollback_requested: Option<String>,
}

impl WasiView for ObjectCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ObjectCtx {
    pub(crate) fn storage(&self) -> MutexGuard<'_, ObjectStorage> {
        self.storage.lock().expect("object storage lock")
    }

    /// Converts a storage result for the guest, remembering engine failures.
    fn answer<T>(&mut self, result: Result<T, StorageError>) -> Result<T, storage::Error> {
        result.map_err(|e| {
            let code = match &e {
                StorageError::InvalidArgument(_) => storage::ErrorCode::InvalidArgument,
                StorageError::LimitExceeded(_) => storage::ErrorCode::LimitExceeded,
                StorageError::TransactionClosed(_) => storage::ErrorCode::TransactionClosed,
                StorageError::Sqlite(_) | StorageError::Aborted(_) => {
                    tracing::error!(namespace = %self.info.namespace, object = %self.info.id_text, "storage failure: {e}");
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

type GuestResult<T> = wasmtime::Result<Result<T, storage::Error>>;

impl state::Host for ObjectCtx {
    fn id(&mut self) -> wasmtime::Result<String> {
        Ok(self.info.id_text.to_string())
    }

    fn name(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.info.name.clone())
    }

    fn namespace(&mut self) -> wasmtime::Result<String> {
        Ok(self.info.namespace.to_string())
    }
}

impl storage::Host for ObjectCtx {
    fn get(&mut self, key: String) -> GuestResult<Option<Vec<u8>>> {
        let result = self.storage().get(&key);
        Ok(self.answer(result))
    }

    fn get_many(&mut self, keys: Vec<String>) -> GuestResult<Vec<(String, Vec<u8>)>> {
        let result = self.storage().get_many(&keys);
        Ok(self.answer(result))
    }

    fn put(&mut self, key: String, value: Vec<u8>) -> GuestResult<()> {
        let result = self.storage().put(&key, &value);
        Ok(self.answer(result))
    }

    fn put_many(&mut self, entries: Vec<(String, Vec<u8>)>) -> GuestResult<()> {
        let result = self.storage().put_many(&entries);
        Ok(self.answer(result))
    }

    fn delete(&mut self, key: String) -> GuestResult<bool> {
        let result = self.storage().delete(&key);
        Ok(self.answer(result))
    }

    fn delete_many(&mut self, keys: Vec<String>) -> GuestResult<u32> {
        let result = self.storage().delete_many(&keys);
        Ok(self.answer(result))
    }

    fn list(&mut self, options: storage::ListOptions) -> GuestResult<Vec<(String, Vec<u8>)>> {
        let options = ListOptions {
            start: options.start,
            start_after: options.start_after,
            end: options.end,
            prefix: options.prefix,
            reverse: options.reverse,
            limit: options.limit,
        };
        let result = self.storage().list(&options);
        Ok(self.answer(result))
    }

    fn delete_all(&mut self) -> GuestResult<()> {
        let result = self.storage().delete_all();
        Ok(self.answer(result))
    }
}

impl storage::HostTransaction for ObjectCtx {
    fn begin(&mut self) -> GuestResult<Resource<Transaction>> {
        let result = self.storage().txn_begin();
        match self.answer(result) {
            Ok(id) => Ok(Ok(self.table.push(Transaction { id })?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn commit(&mut self, txn: Resource<Transaction>) -> GuestResult<()> {
        let id = self.table.get(&txn)?.id;
        let result = self.storage().txn_commit(id);
        Ok(self.answer(result))
    }

    fn rollback(&mut self, txn: Resource<Transaction>) -> GuestResult<()> {
        let id = self.table.get(&txn)?.id;
        let result = self.storage().txn_rollback(id);
        Ok(self.answer(result))
    }

    fn drop(&mut self, txn: Resource<Transaction>) -> wasmtime::Result<()> {
        let id = self.table.delete(txn)?.id;
        let result = self.storage().txn_drop(id);
        let _ = self.answer(result);
        Ok(())
    }
}

impl alarm::Host for ObjectCtx {
    fn get_alarm(&mut self) -> GuestResult<Option<u64>> {
        let result = self.storage().get_alarm();
        Ok(self.answer(result))
    }

    fn set_alarm(&mut self, scheduled_ms: u64) -> GuestResult<()> {
        let result = self.storage().set_alarm(scheduled_ms);
        Ok(self.answer(result))
    }

    fn delete_alarm(&mut self) -> GuestResult<()> {
        let result = self.storage().delete_alarm();
        Ok(self.answer(result))
    }
}

/// `types` declares records only.
impl crate::bindings::wdo::object::types::Host for ObjectCtx {}
