//! The supervision service.
