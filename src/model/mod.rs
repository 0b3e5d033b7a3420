//! What a callback is: the request, its lifecycle, and the attempt record of every leg.

mod attempt;
pub(crate) mod kind;
mod number_type;
mod request;
mod state;

pub use attempt::{classify_hangup, Attempt, AttemptResult, Leg};
pub use kind::{CallbackType, ParseEnumError, Source};
pub use number_type::{LineType, NumberType};
pub use request::{
    CallbackId, CallbackRequest, DispatchCounts, Draft, Recording, Transcript, Window,
};
pub use state::{State, TransitionError};
