//! Who this object is, and its storage.

use crate::bindings::wdo::object::{state as wit, turn};
use crate::Storage;

/// The object's identity and storage, handed to [`DurableObject::new`](crate::DurableObject::new).
///
/// Cheap to clone; keep it (or just its [`Storage`]) in the object.
#[derive(Debug, Clone, Copy)]
pub struct State {
    _private: (),
}

impl State {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// The object's id: 64 lower-case hex characters.
    pub fn id(&self) -> String {
        wit::id()
    }

    /// The name the object was addressed by, if it was addressed by name.
    pub fn name(&self) -> Option<String> {
        wit::name()
    }

    /// The namespace (object class) this object belongs to.
    pub fn namespace(&self) -> String {
        wit::namespace()
    }

    /// The object's private, transactional key-value store (and its SQL).
    pub fn storage(&self) -> Storage {
        Storage::new()
    }

    /// Rolls back every write of the current event when its handler returns, as a trap
    /// would, while still sending the handler's response. The instance is then replaced by
    /// a fresh one for the next event. Returning an `Err` that came from a storage or SQL
    /// call does this by itself. `reason` goes to the host's log.
    pub fn roll_back_turn(&self, reason: &str) {
        turn::rollback(reason);
    }
}
