//! The host side of the WIT `storage` interface: the key-value API and explicit
//! transactions, over [`crate::storage::ObjectStorage`].

use std::time::Instant;

use wasmtime::component::Resource;

use super::bindings::storage;
use super::blocking::may_block;
use super::ctx::{GuestResult, ObjectCtx};
use crate::storage::{ListOptions, StorageError};

/// A guest's explicit transaction (the WIT resource `transaction`).
pub struct Transaction {
    id: u64,
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
        let result = may_block(|| self.storage().list(&options));
        Ok(self.answer(result))
    }

    /// Dropping the guest's tables runs the guest's SQL machinery (foreign key actions,
    /// for one), so it counts against the event's CPU time as SQL does, and running out of
    /// it traps.
    fn delete_all(&mut self) -> GuestResult<()> {
        let started = Instant::now();
        let deadline = started.checked_add(self.cpu_time_left());
        let result = may_block(|| self.storage().delete_all(deadline));
        self.charge_cpu_time(started.elapsed());
        if let Err(StorageError::TimedOut(message)) = &result {
            return Err(wasmtime::Error::msg(message.clone()));
        }
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
