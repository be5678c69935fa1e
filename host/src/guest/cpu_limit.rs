//! The CPU time limit of a store's event (an object's turn, a worker's request): the epoch
//! ticker advances every `EPOCH_TICK`; each tick the guest runs through is counted, and one
//! past the allowance fails the event. Time a guest spends waiting in an async host call (a
//! stub's call) is not counted: no tick reaches a suspended guest.

use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use super::engine::EPOCH_TICK;

/// A store's data that counts ticks: (ticks used, ticks allowed).
pub trait CpuMeter {
    fn ticks(&mut self) -> (&mut u64, u64);
}

/// Epoch ticks a CPU time `limit` allows (at least one).
pub fn ticks_for(limit: Duration) -> u64 {
    (limit.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Makes `store` yield at every tick and fail with "`what` exceeded its CPU time limit"
/// once its data has used more ticks than it is allowed.
pub fn limit_cpu<T: CpuMeter + 'static>(store: &mut Store<T>, what: &'static str) {
    store.epoch_deadline_callback(move |mut store| {
        let (used, allowed) = store.data_mut().ticks();
        *used += 1;
        if *used > allowed {
            return Err(wasmtime::Error::msg(format!(
                "{what} exceeded its CPU time limit"
            )));
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store.set_epoch_deadline(1);
}
