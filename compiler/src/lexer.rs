//! (stub; owned by the parser work)
