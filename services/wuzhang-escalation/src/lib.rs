//! The chief's desk: inbox, accept, resolve, escalate, notes, pauses.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for, then checks the ticket's scope (NOT_FOUND
//! outside it). A pause (挂起) is asked for here, decided by the command center
//! (`SupervisionService.DecidePause`) and ends at the time asked, or earlier here.
//!
//! Layout:
//! - [`worker`]: [`worker::Escalator`], the timer worker: warnings and automatic
//!   escalation when deadlines pass.
//! - [`desk`]: [`Escalation`], the `wuzhang.v1.EscalationService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

pub mod desk;
pub mod worker;

pub use desk::Escalation;
