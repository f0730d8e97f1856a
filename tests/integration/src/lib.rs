//! Shared helpers for cross-agent integration tests.
