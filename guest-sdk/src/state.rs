//! Who this object is, and its storage.

use crate::bindings::wdo::object::state as wit;
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

    /// The object's private, transactional key-value store.
    pub fn storage(&self) -> Storage {
        Storage::new()
    }
}
