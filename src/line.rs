//! Holding lines: a plain line that parks its callers (on music) until someone takes the
//! next one, by priority slot (slot 0 first) and, within a slot, in the order they came.
//! Unlike a contact centre it keeps no agents of its own: whoever takes callers from it
//! just asks for the next. A caller who leaves such a line for a callback keeps the place
//! it had there: the callback is not offered while a live caller who would have been
//! served before it still waits (the dispatcher's `place-wait`).

use crate::host::LineCaller;

/// How many of the live callers of a line are served before a caller who joined it at
/// `joined_epoch` in priority slot `slot`: those of a lower slot, whenever they came, and
/// those of the same slot who came before it. The host tells join times in whole
/// seconds: a caller who joined in the same second is not counted (the callback goes
/// first, as on a tie in a contact centre).
pub fn ahead(callers: &[LineCaller], slot: u32, joined_epoch: i64) -> usize {
    callers
        .iter()
        .filter(|c| c.slot < slot || (c.slot == slot && c.joined_epoch < joined_epoch))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(slot: u32, joined_epoch: i64) -> LineCaller {
        LineCaller {
            uuid: format!("c-{slot}-{joined_epoch}"),
            slot,
            joined_epoch,
        }
    }

    #[test]
    fn callers_of_a_lower_slot_and_earlier_callers_of_the_same_slot_are_ahead() {
        // Slot 0 before slot 1 whatever the time; in one slot, arrival order; a tie and a
        // later arrival are not ahead.
        let line = [
            caller(1, 100),
            caller(1, 200),
            caller(1, 300),
            caller(0, 400),
            caller(2, 50),
        ];
        assert_eq!(ahead(&line, 1, 250), 3);
        assert_eq!(ahead(&line, 1, 100), 1);
        assert_eq!(ahead(&line, 0, 1000), 1);
        assert_eq!(ahead(&line, 0, 400), 0);
        assert_eq!(ahead(&line, 2, 10), 4);
        assert_eq!(ahead(&line, 2, 60), 5);
        assert_eq!(ahead(&[], 0, 10), 0);
    }
}
