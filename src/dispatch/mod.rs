//! Delivering callbacks at their due time: the agent is rung first, hears the caller's
//! recording, and only then is the customer dialled.
//!
//! - [`agents`]: agents, their ready / away / busy state, and who gets the next offer.
//! - [`scheduler`]: the loop that sleeps until the next due time (or a nudge), claims due
//!   callbacks with a lease, rings an agent for each, and recovers work a crash left.
//! - [`preview`]: the agent leg once answered: the preview menu, the customer leg, the
//!   outcome and what follows it (retry, failover, expiry), the after-call disposition.
//! - [`outcome`]: applying the retry policy to a finished leg.

pub mod agents;
pub mod outcome;
pub mod preview;
pub mod scheduler;

pub use agents::{AgentState, AgentView, Agents, Released, Strategy};
pub use preview::{AgentLine, PreviewEnd};
pub use scheduler::{Dispatcher, Offer};
