//! The training platform (placeholder while it is built).
