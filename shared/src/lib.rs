//! Shared core of the messenger backend.
