//! The escalation service.
