//! The store's legs and agents against real databases, every test on both backends:
//! attempts, a turn's offers written together, one open offer per agent whichever node
//! makes it, agent states shared by every node, and an agent freed when its callback
//! leaves the dispatch.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::on_each;
use callback_core::model::{AttemptResult, Leg, State};
use callback_core::store::{AgentRecord, AttemptEnd, CreateOptions, NewAttempt, StoreError};
use chrono::Duration;
use fixtures::*;

#[test]
fn attempts_are_recorded_and_only_customer_legs_use_up_an_attempt() {
    // Agent legs carry the attempt they offer; customer legs count; only the holder starts legs.
    on_each(|b| {
        let store = &*b.store;
        let (a, _) = store
            .create(
                &draft("+493012345678", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let leg = |leg: Leg, agent: Option<&str>| NewAttempt {
            callback_id: a.id,
            leg,
            agent: agent.map(str::to_string),
            call_uuid: Some(format!("uuid-{leg}")),
        };
        // Not claimed: nobody holds it.
        assert!(matches!(
            store.start_attempt(&leg(Leg::Agent, Some("1001")), "w", t(1)),
            Err(StoreError::LeaseLost { .. })
        ));
        store
            .claim_due("w", t(1), Duration::seconds(60), 1)
            .unwrap();
        let rejected = store
            .start_attempt(&leg(Leg::Agent, Some("1001")), "w", t(2))
            .unwrap();
        assert_eq!(
            (rejected.attempt_no, rejected.leg, rejected.started_at),
            (1, Leg::Agent, t(2))
        );
        let end = |result: AttemptResult, answered: Option<i64>| AttemptEnd {
            answered_at: answered.map(t),
            hangup_cause: "CALL_REJECTED".into(),
            result,
        };
        let done = store
            .finish_attempt(rejected.id, &end(AttemptResult::Rejected, None), t(3))
            .unwrap();
        assert_eq!(
            (done.ended_at, done.result),
            (Some(t(3)), Some(AttemptResult::Rejected))
        );
        assert!(matches!(
            store.finish_attempt(rejected.id, &end(AttemptResult::Answered, None), t(4)),
            Err(StoreError::Invalid {
                field: "attempt_id",
                ..
            })
        ));
        assert_eq!(store.get(a.id).unwrap().customer_attempts, 0);
        let agent = store
            .start_attempt(&leg(Leg::Agent, Some("1002")), "w", t(5))
            .unwrap();
        assert_eq!(agent.attempt_no, 1);
        let customer = store
            .start_attempt(&leg(Leg::Customer, None), "w", t(6))
            .unwrap();
        assert_eq!(customer.attempt_no, 1);
        assert_eq!(store.get(a.id).unwrap().customer_attempts, 1);
        let answered = store
            .finish_attempt(customer.id, &end(AttemptResult::Answered, Some(7)), t(9))
            .unwrap();
        assert_eq!(answered.answered_at, Some(t(7)));
        // Handling time: answered agent legs only (the rejected one does not count).
        assert_eq!(store.handling_time("sales", 50).unwrap(), None);
        store
            .finish_attempt(agent.id, &end(AttemptResult::Answered, Some(5)), t(65))
            .unwrap();
        assert_eq!(
            store.handling_time("sales", 50).unwrap(),
            Some(Duration::seconds(60))
        );
        assert_eq!(store.handling_time("support", 50).unwrap(), None);
        let noted = store
            .set_disposition(customer.id, None, Some("sale"), Some("wants a brochure"))
            .unwrap();
        assert_eq!(
            (noted.disposition.as_deref(), noted.note.as_deref()),
            (Some("sale"), Some("wants a brochure"))
        );
        assert_eq!(noted.result, Some(AttemptResult::Answered));
        let fixed = store
            .set_disposition(customer.id, Some(AttemptResult::Machine), None, None)
            .unwrap();
        assert_eq!(
            (fixed.result, fixed.disposition.as_deref()),
            (Some(AttemptResult::Machine), Some("sale"))
        );
        // The next agent leg offers customer attempt 2; the second customer leg is attempt 2.
        assert_eq!(
            store
                .start_attempt(&leg(Leg::Agent, Some("1003")), "w", t(10))
                .unwrap()
                .attempt_no,
            2
        );
        assert_eq!(
            store
                .start_attempt(&leg(Leg::Customer, None), "w", t(11))
                .unwrap()
                .attempt_no,
            2
        );
        assert!(matches!(
            store.start_attempt(&leg(Leg::Customer, None), "intruder", t(12)),
            Err(StoreError::LeaseLost { .. })
        ));
        let all = store.attempts(a.id).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[2], fixed);
        assert_eq!(all[2].call_uuid.as_deref(), Some("uuid-customer"));
        assert_eq!(store.get(a.id).unwrap().customer_attempts, 2);
        assert!(matches!(
            store.attempts(555),
            Err(StoreError::NotFound(555))
        ));
        assert!(matches!(
            store.set_disposition(555, None, None, None),
            Err(StoreError::Invalid {
                field: "attempt_id",
                ..
            })
        ));
        // After-call work is one transaction: an unknown attempt leaves no do-not-call entry;
        // a known one gets its disposition and the number is listed.
        assert!(store
            .wrap_up(
                555,
                None,
                Some("sale"),
                None,
                Some(("+12125550142", "agent")),
                t(20)
            )
            .is_err());
        assert!(!store.dnc_contains("+12125550142").unwrap());
        let done = store
            .wrap_up(
                customer.id,
                None,
                Some("no-interest"),
                Some("asked not to be called"),
                Some(("+12125550142", "agent")),
                t(21),
            )
            .unwrap();
        assert_eq!(done.disposition.as_deref(), Some("no-interest"));
        assert!(store.dnc_contains("+12125550142").unwrap());
    });
}

#[test]
fn offers_of_a_turn_are_written_together_and_a_refused_one_leaves_no_trace() {
    // Two claimed callbacks are offered in one call; a third, not held by the caller, is
    // refused with its own error and neither its transition nor its attempt is kept.
    on_each(|b| {
        let store = &*b.store;
        let ids = create_numbered(store, "+49301234567", 3);
        let claimed = store
            .claim_due("w", t(1), Duration::seconds(60), 2)
            .unwrap();
        assert_eq!(claimed.len(), 2);
        let offer = |id: i64| {
            let mut tr = move_to(State::Offering, Some("w"));
            tr.expect = Some(State::Due);
            let leg = NewAttempt {
                callback_id: id,
                leg: Leg::Agent,
                agent: Some(format!("agent-{id}")),
                call_uuid: None,
            };
            (id, tr, leg)
        };
        let out = store
            .start_offers(
                &ids.iter().map(|id| offer(*id)).collect::<Vec<_>>(),
                "w",
                t(2),
            )
            .unwrap();
        assert_eq!(out.len(), 3);
        for (id, o) in ids.iter().zip(&out).take(2) {
            let (r, a) = o.as_ref().unwrap();
            assert_eq!((r.id, r.state), (*id, State::Offering));
            assert_eq!(
                (a.callback_id, a.leg, a.started_at),
                (*id, Leg::Agent, t(2))
            );
        }
        assert!(out[2].is_err(), "{:?}", out[2]);
        let third = store.get(ids[2]).unwrap();
        assert_eq!(third.state, State::Scheduled);
        assert!(store.attempts(ids[2]).unwrap().is_empty());
        assert_eq!(store.events(ids[2]).unwrap().len(), 1);
    });
}

#[test]
fn an_agent_has_one_open_offer_whichever_node_makes_it() {
    // Two nodes (two connections) each hold a claim; both pick agent 1001 at the same
    // instant. The first offer stands; the second is refused as AgentBusy and leaves its
    // callback due, untouched. Every node reads the agent as busy on the board until the
    // leg ends; then the other node's offer goes through.
    on_each(|b| {
        let a = &*b.store;
        let other = b.open_again().unwrap();
        let ids = create_numbered(a, "+49301234500", 2);
        assert_eq!(
            a.claim_due("node-a", t(1), Duration::seconds(60), 1)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            other
                .claim_due("node-b", t(1), Duration::seconds(60), 1)
                .unwrap()
                .len(),
            1
        );
        let (first, leg) = offer_to(a, ids[0], "1001", "node-a", t(2)).unwrap();
        assert_eq!(first.state, State::Offering);
        match offer_to(&*other, ids[1], "1001", "node-b", t(2)) {
            Err(StoreError::AgentBusy { agent }) => assert_eq!(agent, "1001"),
            other => panic!("a second open offer for agent 1001: {other:?}"),
        }
        let second = a.get(ids[1]).unwrap();
        assert_eq!(
            (second.state, second.lease_owner.as_deref()),
            (State::Due, Some("node-b"))
        );
        assert!(a.attempts(ids[1]).unwrap().is_empty());
        let board = other.agent_board(t(2)).unwrap();
        assert_eq!(board.busy, vec![("1001".to_string(), ids[0])]);
        // Another agent is free for node b meanwhile.
        assert!(offer_to(&*other, ids[1], "1002", "node-b", t(2)).is_ok());
        let end = AttemptEnd {
            answered_at: None,
            hangup_cause: "NO_ANSWER".into(),
            result: AttemptResult::NoAnswer,
        };
        a.finish_attempt(leg.id, &end, t(3)).unwrap();
        let busy: Vec<String> = a
            .agent_board(t(3))
            .unwrap()
            .busy
            .into_iter()
            .map(|(x, _)| x)
            .collect();
        assert_eq!(busy, vec!["1002".to_string()]);
        // A leg of agent 1001 may open again once the first one ended.
        let third = a
            .create(
                &draft("+493012345009", "sales", 0),
                &CreateOptions::default(),
                t(3),
            )
            .unwrap()
            .0
            .id;
        assert_eq!(
            other
                .claim_due("node-b", t(4), Duration::seconds(60), 1)
                .unwrap()[0]
                .id,
            third
        );
        assert!(offer_to(&*other, third, "1001", "node-b", t(4)).is_ok());
        // Once node b's leases lapse (it died), its open legs hold no agent on the board.
        assert_eq!(a.agent_board(t(4)).unwrap().busy.len(), 2);
        assert!(a.agent_board(t(10_000)).unwrap().busy.is_empty());
    });
}

#[test]
fn agent_states_are_shared_by_every_node() {
    // Ready/away set on one node is what the other reads; the latest setting wins and
    // names its node. A blank agent is refused with nothing written.
    on_each(|b| {
        let a = &*b.store;
        let other = b.open_again().unwrap();
        assert!(a.agent_board(t(3)).unwrap().states.is_empty());
        a.set_agent_ready("1001", false, "node-a", t(0)).unwrap();
        other.set_agent_ready("1002", true, "node-b", t(1)).unwrap();
        other.set_agent_ready("1001", true, "node-b", t(2)).unwrap();
        let states = a.agent_board(t(3)).unwrap().states;
        assert_eq!(
            states,
            vec![
                AgentRecord {
                    id: "1001".into(),
                    ready: true,
                    since: t(2),
                    node: "node-b".into()
                },
                AgentRecord {
                    id: "1002".into(),
                    ready: true,
                    since: t(1),
                    node: "node-b".into()
                },
            ]
        );
        assert!(matches!(
            a.set_agent_ready(" ", true, "node-a", t(3)),
            Err(StoreError::Invalid { field: "agent", .. })
        ));
        assert_eq!(a.agent_board(t(3)).unwrap().states.len(), 2);
    });
}

#[test]
fn a_callback_leaving_its_dispatch_frees_its_agent() {
    // A callback failed (or cancelled) while its agent leg is still open, as when an
    // operator cancels during the preview: the transition closes the leg, so the agent is
    // not held on every node forever.
    on_each(|b| {
        let store = &*b.store;
        let ids = create_numbered(store, "+49301234560", 2);
        assert_eq!(
            store
                .claim_due("node-a", t(1), Duration::seconds(60), 2)
                .unwrap()
                .len(),
            2
        );
        offer_to(store, ids[0], "1001", "node-a", t(2)).unwrap();
        let mut fail = move_to(State::Failed, Some("node-a"));
        fail.expect = Some(State::Offering);
        store.transition(ids[0], &fail, t(3)).unwrap();
        let legs = store.attempts(ids[0]).unwrap();
        assert_eq!(legs.len(), 1);
        assert_eq!(
            (
                legs[0].ended_at,
                legs[0].result,
                legs[0].hangup_cause.as_deref()
            ),
            (
                Some(t(3)),
                Some(AttemptResult::Error),
                Some("CALLBACK_ENDED")
            )
        );
        assert!(store.agent_board(t(3)).unwrap().busy.is_empty());
        assert!(offer_to(store, ids[1], "1001", "node-a", t(4)).is_ok());
    });
}
