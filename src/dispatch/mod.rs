//! Delivering callbacks at their due time: the agent is rung first, hears the caller's
//! recording, and only then is the customer dialled.
//!
//! - [`agents`]: agents, their ready / away / busy state, and who gets the next offer.
//! - [`scheduler`]: the loop that sleeps until the next due time (or a nudge), claims due
//!   callbacks with a lease, rings an agent for each, and recovers work a crash left.
//! - [`preview`]: the agent leg once answered: the preview menu, the customer leg, the
//!   outcome and what follows it (retry, failover, expiry), the after-call disposition.
//! - [`plan`]: the decisions, without I/O: a turn's snapshot in, actions and the next
//!   wake-up out; may a callback be offered now; the retry policy's next step after a leg.
//! - [`outcome`]: those rules with the store: the do-not-call lookup, writing the decision.

pub mod agents;
pub mod outcome;
pub mod plan;
pub mod preview;
pub mod scheduler;

pub use agents::{AgentState, AgentView, Agents, Pool, Released, Strategy};
pub use preview::{AgentLine, PreviewEnd};
pub use scheduler::{Decision, DecisionError, Delivered, Dispatcher, Offer};
