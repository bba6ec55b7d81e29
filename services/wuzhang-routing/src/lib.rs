//! The routing service.
