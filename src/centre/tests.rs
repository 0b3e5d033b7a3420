use super::*;

// The columns and the closing line as the centre prints `agent list` (its agents table).
const AGENTS: &str = "name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|last_status_change|no_answer_count|calls_answered|talk_time|ready_time|external_calls_count\n\
1001@default|single_box||callback|[leg_timeout=10]user/1001@default|Available|Waiting|3|10|10|60|0|0|0|0|0|0|0|0|0|0\n\
1002@default|single_box||callback|user/1002@default|Available|In a queue call|3|10|10|60|0|0|0|0|0|0|0|0|0|0\n\
1003@default|single_box||callback|user/1003@default|On Break|Waiting|3|10|10|60|0|0|0|0|0|0|0|0|0|0\n\
1004@default|single_box||callback|${system(rm)}|Available|Waiting|3|10|10|60|0|0|0|0|0|0|0|0|0|0\n\
+OK\n";
const TIERS: &str = "queue|agent|state|level|position\n\
sales@default|1001@default|Ready|1|1\n\
sales@default|1002@default|Ready|1|2\n\
sales@default|1003@default|Ready|1|3\n\
sales@default|1004@default|Ready|1|4\n\
support@default|1001@default|Standby|1|1\n\
+OK\n";

#[test]
fn the_centres_tables_are_read_with_their_header() {
    // The agent and tier tables become rows by column name; an empty table is +OK alone.
    let a = agents(AGENTS).unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(a[0].name, "1001@default");
    assert_eq!(a[0].status, CentreStatus::Available);
    assert_eq!(a[1].state, CentreState::InQueueCall);
    assert_eq!(a[0].wrap_up_time, 10);
    let t = tiers(TIERS).unwrap();
    assert_eq!(
        (t[4].queue.as_str(), t[4].state.as_str()),
        ("support@default", "Standby")
    );
    assert!(agents("+OK\n").unwrap().is_empty());
}

#[test]
fn a_refusal_or_a_broken_table_is_an_error_naming_it() {
    // -ERR, a missing +OK, a short row and a missing column each say what is wrong.
    assert!(matches!(
        agents("-ERR Invalid!\n"),
        Err(CentreError::Refused { table: "agent", .. })
    ));
    assert!(matches!(
        agents("name|status\n1001|Available\n"),
        Err(CentreError::Malformed { .. })
    ));
    assert!(matches!(
        tiers("queue|agent|state|level|position\nsales|1001|Ready|1\n+OK\n"),
        Err(CentreError::Malformed { .. })
    ));
    assert_eq!(
        tiers("queue|agent|state|level\nsales|1001|Ready|1\n+OK\n"),
        Err(CentreError::MissingColumn {
            table: "tier",
            column: "position"
        })
    );
    assert!(matches!(
        tiers("queue|agent|state|level|position\nsales|1001|Ready|x|1\n+OK\n"),
        Err(CentreError::NotANumber {
            column: "level",
            ..
        })
    ));
}

#[test]
fn only_agents_the_centre_would_ring_are_free() {
    // Waiting and available: free, its contact without the centre's variables; on a
    // queue call or on break: busy with the reason; a contact that is not an endpoint
    // is left out; a standby tier does not make a member of that queue.
    let links = vec![
        ("sales".to_string(), "sales@default".to_string()),
        ("support".to_string(), "support@default".to_string()),
    ];
    let (m, problems) = members(
        &agents(AGENTS).unwrap(),
        &tiers(TIERS).unwrap(),
        &links,
        &BTreeMap::new(),
        1000,
    );
    let ids: Vec<&str> = m.iter().map(|x| x.config.id.as_str()).collect();
    assert_eq!(ids, ["1001@default", "1002@default", "1003@default"]);
    assert_eq!(m[0].config.dial, "user/1001@default");
    assert_eq!(m[0].config.queues, ["sales"]);
    assert_eq!(m[0].busy, None);
    assert_eq!(m[1].busy.as_deref(), Some("on a queue call"));
    assert_eq!(m[2].busy.as_deref(), Some("on break in the contact centre"));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("contact-centre agent 1004@default: contact"));
}

#[test]
fn live_callers_with_a_higher_score_are_ahead_of_a_callback() {
    // Waiting or trying members who joined earlier (or carry a base score worth the
    // difference) are ahead; later ones, answered and abandoned ones are not.
    let text = "queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state|score\n\
sales@default|single_box|u1|s1|+1|A|0|100|0|0|0|0|0|||Waiting|90\n\
sales@default|single_box|u2|s2|+1|B|0|120|0|0|0|30|0|||Trying|100\n\
sales@default|single_box|u3|s3|+1|C|0|130|0|0|0|0|0|||Waiting|60\n\
sales@default|single_box|u4|s4|+1|D|0|90|0|0|0|0|0|||Answered|100\n\
+OK\n";
    let m = queue_members(text).unwrap();
    assert_eq!(m.len(), 4);
    assert_eq!(ahead(&m, 110), 2);
    assert_eq!(ahead(&m, 100), 1);
    assert_eq!(ahead(&m, 90), 0, "a tie goes to the callback");
    assert_eq!(ahead(&m, 200), 3);
}

#[test]
fn staffing_counts_the_queues_able_agents_and_their_handling() {
    // Available agents with a ready tier count (one of them free); on break does not;
    // the handling time is talk per call plus the mean wrap-up; none before a call.
    let mut a = agents(AGENTS).unwrap();
    a[0].calls_answered = 4;
    a[0].talk_time = 400;
    // 1002 is on its 7th call: counted at the bridge, no talk time yet.
    a[1].calls_answered = 7;
    a[1].last_bridge_start = 990;
    a[1].talk_time = 800;
    let t = tiers(TIERS).unwrap();
    let s = staffing(&a, &t, "sales@default", 1000);
    // 1001 (free), 1002 (on a call), 1004 (free: its contact is no concern here).
    assert_eq!((s.able, s.free), (3, 2));
    assert_eq!((s.calls, s.talk_secs), (10, 1200));
    assert_eq!(s.handling_secs(), Some(120 + 10));
    assert_eq!(staffing(&a, &t, "support@default", 1000).able, 0);
    assert_eq!(Staffing::default().handling_secs(), None);
}

/// The first three agents of [`AGENTS`]: 1001 free, 1002 on a queue call since 900,
/// 1003 on a queue call since 950, their tiers in sales as the centre sets them during
/// its calls (`Active Inbound`, mod_callcenter.c:2041).
fn line_fixture() -> (Vec<CentreAgent>, Vec<CentreTier>) {
    let mut a = agents(AGENTS).unwrap();
    a.truncate(3);
    a[1].last_bridge_start = 900;
    a[2].status = CentreStatus::Available;
    a[2].state = CentreState::InQueueCall;
    a[2].last_bridge_start = 950;
    let mut t = tiers(TIERS).unwrap();
    for tier in t.iter_mut().filter(|t| t.agent != "1001@default") {
        tier.state = "Active Inbound".into();
    }
    (a, t)
}

#[test]
fn an_agent_on_the_centres_call_still_staffs_its_queues() {
    // During the centre's offer and call the agent's tier in that queue is Offering, then
    // Active Inbound, and its Ready tiers in other queues Standby (:2041, :2447-2451):
    // the agent is still one of each queue's staff (busy), counted as able, a member for
    // callbacks, and held in reserve for a waiting callback. A Standby tier of an agent
    // with no tier on such a call is an admin's: no member of that queue.
    let (a, t) = line_fixture();
    let s = staffing(&a, &t, "sales@default", 1000);
    assert_eq!((s.able, s.free), (3, 1));
    let mut t = t;
    t.push(CentreTier {
        queue: "support@default".into(),
        agent: "1002@default".into(),
        state: "Standby".into(),
        level: 1,
        position: 2,
    });
    let links = vec![
        ("sales".to_string(), "sales@default".to_string()),
        ("support".to_string(), "support@default".to_string()),
    ];
    let (m, _) = members(&a, &t, &links, &BTreeMap::new(), 1000);
    let queues = |id: &str| {
        m.iter()
            .find(|x| x.config.id == id)
            .map(|x| x.config.queues.clone())
    };
    assert_eq!(queues("1001@default").unwrap(), ["sales"]);
    assert_eq!(queues("1002@default").unwrap(), ["sales", "support"]);
    assert_eq!(staffing(&a, &t, "support@default", 1000).able, 1);
    // 1001 on one of this module's callbacks (no tier on a centre call): its admin's
    // Standby in support keeps it out of that queue.
    let mut on_callback = a.clone();
    on_callback[0].state = CentreState::InQueueCall;
    let (m, _) = members(&on_callback, &t, &links, &BTreeMap::new(), 1000);
    assert_eq!(m[0].config.queues, ["sales"]);
    // Tables read while the centre offers 1001 a call: its state still Waiting, its tier
    // already Offering. Staff, but busy, and not free for the estimate.
    let mut offering = t.clone();
    offering[0].state = "Offering".into();
    let (m, _) = members(&a, &offering, &links, &BTreeMap::new(), 1000);
    assert_eq!(m[0].config.queues, ["sales", "support"]);
    assert_eq!(
        m[0].busy.as_deref(),
        Some("on one of the contact centre's own offers or calls")
    );
    let s = staffing(&a, &offering, "sales@default", 1000);
    assert_eq!((s.able, s.free), (3, 0));
    let p = hold_for(&a, &t, &[], &[110], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p.for_callbacks, [(110, "1001@default".to_string())]);
    let p = hold_for(
        &a,
        &t,
        &[member(100)],
        &[110],
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    assert_eq!(p.reserve, names(&["1002@default", "1003@default"]));
}

fn member(joined: i64) -> CentreMember {
    CentreMember {
        queue: "sales@default".into(),
        session_uuid: format!("s{joined}"),
        joined_epoch: joined,
        base_score: 0,
        skill_score: 0,
        state: "Waiting".into(),
    }
}

fn hold_for(
    a: &[CentreAgent],
    t: &[CentreTier],
    m: &[CentreMember],
    joins: &[i64],
    holds: &BTreeMap<String, Hold>,
    freed: &BTreeMap<String, i64>,
) -> Places {
    agents_to_hold(
        a,
        t,
        "sales@default",
        m,
        joins,
        Ours {
            holds,
            freed,
            on_callback: &std::collections::BTreeSet::new(),
        },
        1000,
    )
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_free_agent_goes_down_the_line_and_busy_ones_are_held_for_a_waiting_callback() {
    // Line: a live caller (joined 100), the callback (110), a live caller (120). 1001
    // is free: it goes to the first caller (not held). The callback is then first of
    // those left: both busy agents are held in reserve, so whichever of them is freed
    // first is the module's, not the centre's to give the caller behind. With the
    // callback first, 1001 is held for it and nothing else is needed.
    let (a, t) = line_fixture();
    let m = [member(100), member(120)];
    let p = hold_for(&a, &t, &m, &[110], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p.for_callbacks, []);
    assert_eq!(p.reserve, names(&["1002@default", "1003@default"]));
    let p = hold_for(&a, &t, &m, &[90], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p.for_callbacks, [(90, "1001@default".to_string())]);
    assert_eq!(p.reserve, Vec::<String>::new());
    assert_eq!(
        hold_for(&a, &t, &m, &[], &BTreeMap::new(), &BTreeMap::new()),
        Places::default()
    );
}

#[test]
fn only_the_busy_agents_beyond_the_live_callers_ahead_are_held() {
    // Line: callers 100 and 105 (1001, free, goes to 100), the callback (110). One live
    // caller is still ahead of it: the busy agent likely to be freed first (1002, on a
    // call since 900) is left to the centre for that caller, 1003 is held. A callback
    // behind two busy agents' worth of callers needs no hold yet.
    let (a, t) = line_fixture();
    let m = [member(100), member(105), member(120)];
    let p = hold_for(&a, &t, &m, &[110], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p.reserve, names(&["1003@default"]));
    let p = hold_for(&a, &t, &m, &[130], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p, Places::default());
    // A member already being offered an agent (Trying) has one ringing: it takes none.
    let mut trying = member(95);
    trying.state = "Trying".into();
    let m = [trying, member(120)];
    let p = hold_for(&a, &t, &m, &[110], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p.for_callbacks, [(110, "1001@default".to_string())]);
}

#[test]
fn a_held_agent_freed_while_a_live_caller_is_ahead_is_let_go_to_the_centre() {
    // 1001 was held (its ready time is the module's, 1010) and is free now, but a live
    // caller (100) is ahead of the callback (110): 1001 is no longer held, so the
    // centre gives it to that caller; the busy ones are held for the callback.
    let (mut a, t) = line_fixture();
    a[0].ready_time = 1010;
    let holds = BTreeMap::from([(
        "1001@default".to_string(),
        Hold {
            until: 1010,
            before: 0,
        },
    )]);
    let p = hold_for(&a, &t, &[member(100)], &[110], &holds, &BTreeMap::new());
    assert_eq!(p.for_callbacks, []);
    assert!(!p.reserve.contains(&"1001@default".to_string()), "{p:?}");
    assert_eq!(p.reserve, names(&["1002@default", "1003@default"]));
}

#[test]
fn free_agents_go_down_the_line_in_the_order_they_were_freed() {
    // 1001 and 1002 are both free: 1002 ended its queue call at 970 (10 s wrap-up), 1001 was freed
    // from a callback by this module at 990 (the centre's own table says nothing of
    // it). The live caller ahead (100) gets 1002, freed first; 1001 is held for the
    // callback (110). Without the module's instant 1001 would seem freed first.
    let (mut a, mut t) = line_fixture();
    a[1].state = CentreState::Waiting;
    a[1].last_bridge_end = 970;
    // Its call over, its tier is Ready again (:2218-2224).
    t[1].state = "Ready".into();
    let m = [member(100)];
    let freed = BTreeMap::from([("1001@default".to_string(), 990)]);
    let p = hold_for(&a, &t, &m, &[110], &BTreeMap::new(), &freed);
    assert_eq!(p.for_callbacks, [(110, "1001@default".to_string())]);
    let p = hold_for(&a, &t, &m, &[110], &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(p.for_callbacks, [(110, "1002@default".to_string())]);
}

#[test]
fn an_agent_the_module_has_on_a_callback_is_not_free_for_the_line() {
    // The centre's table still shows 1001 waiting, but the module has just taken it
    // for a callback (its claim is under way): it is no free agent for the live caller
    // ahead (100), so nothing is let go to the centre for that caller in its name;
    // 1001 counts as busy and the callback (110) keeps the busy agents held.
    let (a, t) = line_fixture();
    let on = std::collections::BTreeSet::from(["1001@default".to_string()]);
    let p = agents_to_hold(
        &a,
        &t,
        "sales@default",
        &[member(100)],
        &[110],
        Ours {
            holds: &BTreeMap::new(),
            freed: &BTreeMap::new(),
            on_callback: &on,
        },
        1000,
    );
    assert_eq!(p.for_callbacks, []);
    // One live caller ahead: the busy agent likely freed first (1002) is left to the
    // centre; 1003 and 1001 (on the callback: freed last as far as is known) are held.
    assert_eq!(p.reserve, names(&["1003@default", "1001@default"]));
}

#[test]
fn wrap_up_ready_time_and_outside_calls_keep_an_agent_busy() {
    // The centre's other conditions: wrap-up after the last call, a ready time ahead,
    // a tracked outside call.
    let mut a = agents(AGENTS).unwrap().remove(0);
    a.last_bridge_end = 995;
    assert!(a.busy(1000).is_some());
    assert!(a.busy(1006).is_none());
    a.ready_time = 2000;
    assert!(a.busy(1006).is_some());
    a.ready_time = 0;
    a.external_calls = 1;
    assert_eq!(
        a.busy(1006).as_deref(),
        Some("on a call outside the queues")
    );
}

#[test]
fn a_hold_keeps_the_ready_time_the_centre_set_since() {
    // Held from 100 (the agent's own ready time) to 1010, renewed to 1020 while the
    // table shows the hold: it still goes back to 100. The centre then delays the agent to
    // 1500 itself (an offer it could not get the agent to take): the next renewal adopts
    // 1500 as the agent's own and never writes an earlier time; ending a hold the table no
    // longer shows writes nothing.
    let first = Hold::renewed(None, 100, 1010);
    assert_eq!(
        first,
        Hold {
            until: 1010,
            before: 100
        }
    );
    let again = Hold::renewed(Some(&first), 1010, 1020);
    assert_eq!(
        again,
        Hold {
            until: 1020,
            before: 100
        }
    );
    assert!(again.shown(Some(1020)));
    assert!(again.shown(None), "an agent the centre no longer lists");
    assert!(!again.shown(Some(1500)), "the centre's own delay stays");
    let delayed = Hold::renewed(Some(&again), 1500, 1030);
    assert_eq!(
        delayed,
        Hold {
            until: 1500,
            before: 1500
        }
    );
}
