//! The resource limiter of an instance's `Store`: the namespace's per-memory limit
//! (wasmtime's [`StoreLimits`]), plus a count of the bytes of linear memory and table
//! slots the instance holds, which the objects layer charges against the host-wide
//! instance-memory budget (`max-instances-memory`).

use wasmtime::{ResourceLimiter, StoreLimits};

pub struct MemoryMeter {
    limits: StoreLimits,
    /// Bytes of every linear memory and table of the instance, as grown so far.
    bytes: usize,
    /// The growth last allowed, taken back if it then failed.
    allowed: usize,
}

/// Bytes a table element takes (a pointer, as wasmtime documents).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

impl MemoryMeter {
    pub fn new(limits: StoreLimits) -> MemoryMeter {
        MemoryMeter {
            limits,
            bytes: 0,
            allowed: 0,
        }
    }

    /// Linear memories of at most `bytes` each; a growth past it traps.
    pub fn limited(bytes: usize) -> MemoryMeter {
        MemoryMeter::new(
            wasmtime::StoreLimitsBuilder::new()
                .memory_size(bytes)
                .trap_on_grow_failure(true)
                .build(),
        )
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn grew(&mut self, allowed: bool, delta: usize) -> bool {
        if allowed {
            self.bytes += delta;
            self.allowed = delta;
        }
        allowed
    }

    fn failed(&mut self) {
        self.bytes -= std::mem::take(&mut self.allowed);
    }
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        Ok(self.grew(allowed, desired.saturating_sub(current)))
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.failed();
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.table_growing(current, desired, maximum)?;
        let delta = desired.saturating_sub(current) * TABLE_ELEMENT_BYTES;
        Ok(self.grew(allowed, delta))
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.failed();
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::StoreLimitsBuilder;

    #[test]
    fn counts_allowed_growth_and_takes_back_a_failed_one() {
        let mut meter = MemoryMeter::new(StoreLimitsBuilder::new().memory_size(1 << 20).build());
        assert!(meter.memory_growing(0, 65536, None).unwrap());
        assert!(meter.memory_growing(65536, 131072, None).unwrap());
        assert_eq!(meter.bytes(), 131072);
        // Over the per-memory limit: refused, not counted.
        assert!(!meter.memory_growing(131072, 2 << 20, None).unwrap());
        assert_eq!(meter.bytes(), 131072);
        // Allowed, then the allocation failed.
        assert!(meter.memory_growing(131072, 196608, None).unwrap());
        meter
            .memory_grow_failed(wasmtime::Error::msg("no memory"))
            .unwrap();
        assert_eq!(meter.bytes(), 131072);
        assert!(meter.table_growing(0, 10, None).unwrap());
        assert_eq!(meter.bytes(), 131072 + 10 * TABLE_ELEMENT_BYTES);
    }
}
