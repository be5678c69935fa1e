//! The host side of the WIT `alarm` interface: the alarm row in the object's database. The
//! scheduler and the index learn of a change after the commit (`objects/alarm_turn.rs`).

use super::bindings::alarm;
use super::ctx::{GuestResult, ObjectCtx};

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
