//! The agents' pool: one offer per agent, picks, reloads, other nodes' states, the contact
//! centre's agents and declines, each with a fixed list of agents.

use super::*;
use chrono::{Duration, TimeZone};

fn agent(id: &str, queues: &[&str]) -> AgentConfig {
    AgentConfig {
        id: id.into(),
        dial: format!("user/{id}"),
        queues: queues.iter().map(|q| q.to_string()).collect(),
        start_ready: true,
    }
}

/// A contact-centre agent of queue sales as the centre lists it (`busy`: why it keeps the
/// agent from callbacks now).
fn member(id: &str, busy: Option<&str>) -> crate::centre::Member {
    crate::centre::Member {
        config: AgentConfig {
            id: id.into(),
            dial: format!("user/{id}"),
            queues: vec!["sales".into()],
            start_ready: true,
        },
        busy: busy.map(str::to_string),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap()
}

#[test]
fn one_offer_per_agent_and_longest_idle_first() {
    // The agent idle longest gets the offer; a busy agent gets no second one.
    let a = Agents::new(
        &[agent("1001", &["support"]), agent("1002", &["support"])],
        3,
        t0(),
    );
    a.set_state("1001", false, t0()).unwrap();
    a.set_state("1001", true, t0() + Duration::minutes(5))
        .unwrap();
    let first = a.take(1, "support", None, Strategy::LongestIdle).unwrap();
    assert_eq!(first.id, "1002");
    let second = a.take(2, "support", None, Strategy::LongestIdle).unwrap();
    assert_eq!(second.id, "1001");
    assert!(a.take(3, "support", None, Strategy::LongestIdle).is_none());
    assert_eq!(
        a.set_state("1001", false, t0()),
        Err(AgentError::Busy("1001".into(), 2))
    );
}

#[test]
fn a_reload_keeps_states_and_calls_adds_and_removes_agents() {
    // A reloaded list keeps a configured agent's state and its call with its new queues,
    // adds a new agent as configured, drops an idle removed one at once and keeps a
    // removed one on a callback with no queues until the next reload.
    let a = Agents::new(
        &[
            agent("1001", &["support"]),
            agent("1002", &["support"]),
            agent("1003", &["support"]),
        ],
        3,
        t0(),
    );
    a.set_state("1001", false, t0()).unwrap();
    let busy = a
        .take(7, "support", Some("1003"), Strategy::LongestIdle)
        .unwrap();
    assert_eq!(busy.id, "1003");
    let mut new_1004 = agent("1004", &["sales"]);
    new_1004.start_ready = false;
    let (added, removed) = a.reconfigure(
        &[agent("1001", &["sales"]), new_1004],
        0,
        t0() + Duration::minutes(1),
    );
    assert_eq!(added, ["1004"]);
    assert_eq!(removed, ["1002", "1003"]);
    let list = a.list();
    let ids: Vec<&str> = list.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["1001", "1003", "1004"]);
    assert_eq!(list[0].queues, ["sales"]);
    assert_eq!(list[0].state, AgentState::Away);
    assert_eq!(list[1].callback, Some(7));
    assert!(list[1].queues.is_empty());
    assert_eq!(list[2].state, AgentState::Away);
    // Nobody is offered a support callback any more; 1003 stays while on its call.
    assert!(a.take(8, "support", None, Strategy::LongestIdle).is_none());
    let (_, removed) = a.reconfigure(&[agent("1001", &["sales"])], 3, t0());
    assert_eq!(removed, ["1003", "1004"]);
}

#[test]
fn personal_and_queue_membership_are_respected() {
    // A personal callback goes to its agent only; a queue callback to members only.
    let a = Agents::new(
        &[agent("1001", &["sales"]), agent("1002", &["support"])],
        3,
        t0(),
    );
    assert!(a
        .take(1, "support", Some("1001"), Strategy::LongestIdle)
        .is_some());
    assert!(a.take(2, "sales", None, Strategy::LongestIdle).is_none());
    assert_eq!(
        a.take(3, "support", None, Strategy::RoundRobin).unwrap().id,
        "1002"
    );
}

#[test]
fn the_board_brings_in_other_nodes_states_and_offers() {
    // Away set on another node stops offers here; an agent busy on another node is
    // not offered and shows busy with that callback; once freed there it is offered
    // again, idle from then. An agent busy here keeps its state whatever the board says.
    use crate::store::AgentBoard;
    let a = Agents::new(
        &[agent("1001", &["support"]), agent("1002", &["support"])],
        3,
        t0(),
    );
    synced(
        &a,
        AgentBoard {
            states: vec![rec("1001", false)],
            busy: vec![("1002".into(), 77)],
        },
        t0(),
    );
    assert_eq!(a.ready(), 0);
    assert!(a.take(1, "support", None, Strategy::LongestIdle).is_none());
    let v = a.list();
    assert_eq!((v[0].state, v[0].callback), (AgentState::Away, None));
    assert_eq!((v[1].state, v[1].callback), (AgentState::Busy, Some(77)));
    assert_eq!(
        a.set_state("1002", false, t0()),
        Err(AgentError::Busy("1002".into(), 77))
    );
    assert_eq!(a.check("1002"), Err(AgentError::Busy("1002".into(), 77)));
    let later = t0() + Duration::minutes(1);
    synced(
        &a,
        AgentBoard {
            states: vec![rec("1001", false)],
            busy: vec![],
        },
        later,
    );
    let taken = a.take(2, "support", None, Strategy::LongestIdle).unwrap();
    assert_eq!(taken.id, "1002");
    assert_eq!(a.list()[1].idle_since, later);
    // Busy here: the board's "away" and "busy elsewhere" wait until it is released.
    synced(
        &a,
        AgentBoard {
            states: vec![rec("1002", false)],
            busy: vec![("1002".into(), 2)],
        },
        later,
    );
    assert_eq!(a.list()[1].state, AgentState::Busy);
    assert!(!a.release("1002", Released::Handled, later));
    assert_eq!(a.list()[1].state, AgentState::Ready);
    assert!(a.check("1001").is_ok());
}

#[test]
fn contact_centre_agents_are_offered_only_when_the_centre_has_them_free() {
    // A centre agent on a queue call is not offered; once waiting it is; one the
    // centre drops goes (kept while on a callback); an unreadable centre offers none
    // of its agents; a reload of <agents> keeps the centre's.
    let a = Agents::new(&[agent("1001", &["support"])], 3, t0());
    a.sync_centre(
        Some(&[member("2001@default", Some("on a queue call"))]),
        t0(),
    );
    assert!(a.take(1, "sales", None, Strategy::LongestIdle).is_none());
    assert_eq!(a.list()[1].state, AgentState::Busy);
    assert!(a.in_centre("2001@default"));
    a.sync_centre(Some(&[member("2001@default", None)]), t0());
    assert_eq!(a.ready_for("sales"), 1);
    a.reconfigure(&[agent("1001", &["support"])], 3, t0());
    let got = a.take(2, "sales", None, Strategy::LongestIdle).unwrap();
    assert_eq!(got.id, "2001@default");
    a.sync_centre(Some(&[]), t0());
    assert_eq!(a.list().len(), 2, "kept while on its callback");
    a.release("2001@default", Released::Handled, t0());
    a.sync_centre(Some(&[]), t0());
    assert_eq!(a.list().len(), 1);
    a.sync_centre(Some(&[member("2001@default", None)]), t0());
    a.sync_centre(None, t0());
    assert_eq!(a.ready_for("sales"), 0);
    assert_eq!(
        a.ready_for("support"),
        1,
        "a listed agent the centre does not know"
    );
}

#[test]
fn only_centre_agents_a_callback_can_take_are_held_for_places() {
    // The centre's agents the pool has (their entry dialled) and not set away here may be
    // held for a callback's place, busy or not; one set away, an <agents> agent the centre
    // does not list and one the centre does not list any more may not.
    let a = Agents::new(&[agent("1001", &["support"])], 3, t0());
    a.sync_centre(
        Some(&[
            member("2001@default", None),
            member("2002@default", Some("on a queue call")),
            member("2003@default", None),
        ]),
        t0(),
    );
    a.set_state("2003@default", false, t0()).unwrap();
    let names = |s: std::collections::BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
    assert_eq!(names(a.centre_takeable()), ["2001@default", "2002@default"]);
    a.sync_centre(Some(&[member("2002@default", None)]), t0());
    assert_eq!(names(a.centre_takeable()), ["2002@default"]);
}

#[test]
fn declines_in_a_row_set_an_agent_away() {
    // Three declines in a row: away; a handled callback in between resets the count.
    let a = Agents::new(&[agent("1001", &["support"])], 3, t0());
    for (n, how) in [Released::Declined, Released::Declined, Released::Handled]
        .into_iter()
        .enumerate()
    {
        a.take(n as i64, "support", None, Strategy::LongestIdle)
            .unwrap();
        assert!(!a.release("1001", how, t0()));
    }
    for n in 0..2 {
        a.take(10 + n, "support", None, Strategy::LongestIdle)
            .unwrap();
        assert!(!a.release("1001", Released::Declined, t0()));
    }
    a.take(20, "support", None, Strategy::LongestIdle).unwrap();
    assert!(a.release("1001", Released::Declined, t0()));
    assert_eq!(a.list()[0].state, AgentState::Away);
    assert_eq!(a.ready(), 0);
}

/// Brings `board` into `a` as a turn does, read at once.
fn synced(a: &Agents, board: crate::store::AgentBoard, now: chrono::DateTime<chrono::Utc>) {
    a.sync(|| Ok::<_, std::convert::Infallible>(board), now)
        .unwrap();
}

#[test]
fn a_board_read_before_a_state_was_stored_does_not_undo_it() {
    // A turn reads the board while 1001 is set away (stored, then set here) and 1002 is
    // set away by its declines (set here, then stored); a second turn reads it after
    // 1002 was set away here but before that was stored. The boards they read still say
    // both are ready: both stay away, nobody is offered. A board read after the stores
    // brings each in again.
    use crate::store::AgentBoard;
    let a = Agents::new(
        &[agent("1001", &["support"]), agent("1002", &["support"])],
        1,
        t0(),
    );
    let stale = AgentBoard {
        states: vec![rec("1001", true), rec("1002", true)],
        busy: vec![],
    };
    let away = |a: &Agents| {
        let v = a.list();
        assert_eq!(
            (v[0].state, v[1].state),
            (AgentState::Away, AgentState::Away)
        );
        assert_eq!(a.ready(), 0);
    };
    let taken = a.take(1, "support", Some("1002"), Strategy::LongestIdle);
    assert_eq!(taken.unwrap().id, "1002");
    a.sync(
        || {
            a.set_state("1001", false, t0()).unwrap();
            a.stored("1001");
            assert!(a.release("1002", Released::Declined, t0()));
            Ok::<_, std::convert::Infallible>(stale.clone())
        },
        t0(),
    )
    .unwrap();
    away(&a);
    // 1001's away is in the store by now; 1002's is not.
    let read = AgentBoard {
        states: vec![rec("1001", false), rec("1002", true)],
        busy: vec![],
    };
    synced(&a, read, t0());
    away(&a);
    assert!(a.take(2, "support", None, Strategy::LongestIdle).is_none());
    a.stored("1002");
    // Read after: the board is the truth again (set ready on another node).
    synced(&a, stale, t0());
    assert_eq!(a.ready(), 2);
}

/// Agent `id`'s ready or away as set on another node at t0.
fn rec(id: &str, ready: bool) -> crate::store::AgentRecord {
    crate::store::AgentRecord {
        id: id.into(),
        ready,
        since: t0(),
        node: "node-b".into(),
    }
}
