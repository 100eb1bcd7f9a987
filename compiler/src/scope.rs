//! (stub; owned by the core work)
