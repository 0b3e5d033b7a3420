//! mod_callcenter's `callcenter_config` API as FreeSWITCH 1.10.12 defines it
//! (src/mod/applications/mod_callcenter/mod_callcenter.c, cited by line below): its
//! `agents` and `tiers` tables, the commands that read and change them and their exact
//! replies. Modelled: `agent add|set|get|list`, `tier add|list`, `queue list members`.
//! Every queue counts as loaded (the simulator reads no `callcenter.conf`). The centre's
//! own dispatch runs when a test says (`Callcenter::dispatch`, or `offer` with the agent's
//! answer or no-answer to follow), with the member, agent and tier states it sets; a
//! test may also set an agent's state itself, as `callcenter_config` does.

use std::collections::BTreeMap;

/// A row of the `agents` table, its columns in the order of `CREATE TABLE agents`
/// (:209-243).
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: String,
    pub instance_id: String,
    pub uuid: String,
    pub kind: String,
    pub contact: String,
    pub status: String,
    pub state: String,
    pub numbers: [(&'static str, i64); 14],
}

const AGENT_NUMBERS: [&str; 14] = [
    "max_no_answer",
    "wrap_up_time",
    "reject_delay_time",
    "busy_delay_time",
    "no_answer_delay_time",
    "last_bridge_start",
    "last_bridge_end",
    "last_offered_call",
    "last_status_change",
    "no_answer_count",
    "calls_answered",
    "talk_time",
    "ready_time",
    "external_calls_count",
];

impl Agent {
    /// The agent's number column `key` (0 for a column it does not have).
    fn number(&self, key: &str) -> i64 {
        self.numbers
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v)
    }

    fn number_mut(&mut self, key: &str) -> Option<&mut i64> {
        self.numbers
            .iter_mut()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// A row of the `tiers` table (:245-260).
#[derive(Debug, Clone)]
pub struct Tier {
    pub queue: String,
    pub agent: String,
    pub state: String,
    pub level: i64,
    pub position: i64,
}

/// A row of the `members` table (:186-203): a caller waiting in (or gone from) a queue.
#[derive(Debug, Clone)]
pub struct Member {
    pub queue: String,
    pub uuid: String,
    pub session_uuid: String,
    pub cid_number: String,
    pub joined_epoch: i64,
    pub abandoned_epoch: i64,
    /// `cc_base_score` of the caller's channel (:3072-3074).
    pub base_score: i64,
    pub serving_agent: String,
    /// `Waiting`, `Abandoned`, ... (MEMBER_STATE_CHART, :149-157).
    pub state: String,
}

/// The centre's tables, and every state an agent was set to (for tests).
#[derive(Debug, Default)]
pub struct Callcenter {
    pub agents: Vec<Agent>,
    pub tiers: Vec<Tier>,
    pub members: Vec<Member>,
    pub state_changes: BTreeMap<String, Vec<String>>,
    /// The centre's dispatch passes as soon as `callcenter_config` sets an agent `Waiting`
    /// (its thread looks every 100 ms, :2779-2790: it sees a freed agent before a module
    /// that looks once a second); the pairs those passes served are in `served_on_free`.
    pub pass_on_free: bool,
    pub served_on_free: Vec<(String, String)>,
    /// A waiting member the centre bridges to the agent named by the next
    /// `state_if_waiting` (if it would ring that agent for the member), just before that
    /// claim is looked at: its own dispatch took the agent between the claimer's reading
    /// of the tables and its claim. Taken by that claim either way.
    pub bridge_before_claim: Option<String>,
    /// An agent ringing for a member whose no-answer ([`Callcenter::no_answer`]) comes
    /// just before the next read of the whole agents table: a reader then sees it, and
    /// nothing it read before can be written back over it.
    pub no_answer_before_read: Option<String>,
}

/// `AGENT_STATUS_CHART` (:111-118), compared without case (`cc_agent_str2status`, :347-360).
const STATUSES: [&str; 4] = [
    "Logged Out",
    "Available",
    "Available (On Demand)",
    "On Break",
];
/// `AGENT_STATE_CHART` (:130-138), compared without case (`cc_agent_str2state`, :376-388).
const STATES: [&str; 5] = [
    "Waiting",
    "Receiving",
    "In a queue call",
    "Idle",
    "Reserved",
];

fn known(chart: &[&str], v: &str) -> bool {
    chart.iter().any(|c| c.eq_ignore_ascii_case(v))
}

/// `switch_separate_string(buf, ' ', argv, 8)` (src/switch_utils.c:2796-2853): words split
/// on blanks, single quotes group a value with spaces and are removed, at most 8 words
/// (the last keeps the rest of the line).
fn words(line: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() == 7 && !started && c != ' ' {
            // The eighth word is the rest of the line, its quotes removed.
            let rest: String = std::iter::once(c).chain(chars).collect();
            out.push(rest.replace('\'', "").trim_end().to_string());
            return out;
        }
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// `list_result_callback` (:3456-3480): on the first row the column names joined by `|`,
/// then each row joined by `|`; the command then writes `+OK\n` (:3703, :3829). A NULL
/// column prints as nothing (`switch_console_stream_write` formats with
/// `switch_vmprintf`, src/switch_console.c:163, whose `%s` of NULL is "",
/// src/switch_mprintf.c:670-671).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&header.join("|"));
        out.push('\n');
        for r in rows {
            out.push_str(&r.join("|"));
            out.push('\n');
        }
    }
    out.push_str("+OK\n");
    out
}

impl Callcenter {
    /// Empty tables, as mod_callcenter starts without agents in its configuration.
    pub const fn new() -> Self {
        Self {
            agents: Vec::new(),
            tiers: Vec::new(),
            members: Vec::new(),
            state_changes: BTreeMap::new(),
            pass_on_free: false,
            served_on_free: Vec::new(),
            bridge_before_claim: None,
            no_answer_before_read: None,
        }
    }

    fn agent_mut(&mut self, name: &str) -> Option<&mut Agent> {
        self.agents.iter_mut().find(|a| a.name == name)
    }

    fn set_state(&mut self, name: &str, state: &str) {
        if let Some(a) = self.agent_mut(name) {
            a.state = state.to_string();
        }
        self.state_changes
            .entry(name.to_string())
            .or_default()
            .push(state.to_string());
    }

    /// One `callcenter_config` command line; the reply as the API writes it
    /// (`cc_config_api_function`, :3540-4016).
    pub fn api(&mut self, line: &str, now_epoch: i64) -> String {
        let argv = words(line);
        if argv.len() < 2 {
            return "-ERR Invalid!\n".into();
        }
        let args = &argv[2..];
        let (section, action) = (argv[0].to_ascii_lowercase(), argv[1].to_ascii_lowercase());
        match (section.as_str(), action.as_str()) {
            ("agent", "add") => self.agent_add(args),
            ("agent", "set") => self.agent_set(args, now_epoch),
            ("agent", "get") => self.agent_get(args),
            ("agent", "list") => {
                if args.is_empty() {
                    if let Some(agent) = self.no_answer_before_read.take() {
                        self.no_answer(&agent, now_epoch);
                    }
                }
                self.agent_list(args)
            }
            ("tier", "add") => self.tier_add(args),
            ("queue", "list")
                if args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case("members")) =>
            {
                self.member_list(args.get(1).map(String::as_str), now_epoch)
            }
            ("tier", "list") => self.tier_list(),
            _ => {
                format!("-ERR the simulator does not model callcenter_config {section} {action}\n")
            }
        }
    }

    /// `agent add <name> <type>` (:3571-3594, `cc_agent_add` :890-928): a new agent is
    /// `Logged Out` and `Waiting`.
    fn agent_add(&mut self, args: &[String]) -> String {
        if args.len() < 2 {
            return "-ERR Invalid!\n".into();
        }
        let (name, kind) = (&args[0], &args[1]);
        if !kind.eq_ignore_ascii_case("Callback") && !kind.eq_ignore_ascii_case("uuid-standby") {
            return "-ERR Agent type invalid!\n".into();
        }
        if self.agents.iter().any(|a| &a.name == name) {
            return "-ERR Agent already exist!\n".into();
        }
        self.agents.push(Agent {
            name: name.clone(),
            instance_id: "single_box".into(),
            uuid: String::new(),
            kind: kind.clone(),
            contact: String::new(),
            status: "Logged Out".into(),
            state: "Waiting".into(),
            numbers: AGENT_NUMBERS.map(|k| (k, 0)),
        });
        "+OK\n".into()
    }

    /// `agent set <key> <agent> <value>` (:3628-3661, `cc_agent_update` :997-1184).
    fn agent_set(&mut self, args: &[String], now_epoch: i64) -> String {
        if args.len() < 3 {
            return "-ERR Invalid!\n".into();
        }
        let (key, name, value) = (args[0].to_ascii_lowercase(), &args[1], &args[2]);
        if !self.agents.iter().any(|a| &a.name == name) {
            return "-ERR Agent not found!\n".into();
        }
        match key.as_str() {
            "status" => {
                if !known(&STATUSES, value) {
                    return "-ERR Invalid Agent Status!\n".into();
                }
                if let Some(a) = self.agent_mut(name) {
                    a.status = value.clone();
                    if let Some(v) = a.number_mut("last_status_change") {
                        *v = now_epoch;
                    }
                }
            }
            "state" => {
                if !known(&STATES, value) {
                    return "-ERR Invalid Agent State!\n".into();
                }
                self.set_state(name, value);
                if value.eq_ignore_ascii_case("Waiting") && self.pass_on_free {
                    let served = self.dispatch(now_epoch);
                    self.served_on_free.extend(served);
                }
                if value.eq_ignore_ascii_case("Receiving") {
                    if let Some(v) = self
                        .agent_mut(name)
                        .and_then(|a| a.number_mut("last_offered_call"))
                    {
                        *v = now_epoch;
                    }
                }
            }
            // Only an agent Waiting and Available (or on demand), in one UPDATE; else the
            // same reply as an unknown agent (:1147-1170).
            "state_if_waiting" => {
                if !known(&STATES, value) {
                    return "-ERR Invalid Agent State!\n".into();
                }
                // The centre's own dispatch may have taken the agent first, if it would
                // ring it for that member.
                if let Some(member) = self.bridge_before_claim.take() {
                    let i = self.members.iter().position(|m| {
                        m.uuid == member
                            && m.state == "Waiting"
                            && self.would_ring(name, &m.queue, now_epoch)
                    });
                    if let Some(i) = i {
                        self.bridge(i, name, now_epoch);
                    }
                }
                let waiting = self.agents.iter().any(|a| {
                    &a.name == name
                        && a.state.eq_ignore_ascii_case("Waiting")
                        && (a.status.eq_ignore_ascii_case("Available")
                            || a.status.eq_ignore_ascii_case("Available (On Demand)"))
                });
                if !waiting {
                    return "-ERR Agent not found!\n".into();
                }
                self.set_state(name, value);
            }
            "contact" => {
                if let Some(a) = self.agent_mut(name) {
                    a.contact = value.clone();
                }
            }
            k => {
                let n = value.trim().parse::<i64>().unwrap_or(0);
                match self.agent_mut(name).and_then(|a| a.number_mut(k)) {
                    Some(v) => *v = n,
                    None => return "-ERR Invalid Agent Update KEY!\n".into(),
                }
            }
        }
        "+OK\n".into()
    }

    /// `agent get status|state|uuid <agent>` (:3663-3688, `cc_agent_get` :945-995): the
    /// value alone, no newline.
    fn agent_get(&self, args: &[String]) -> String {
        if args.len() < 2 {
            return "-ERR Invalid!\n".into();
        }
        let Some(a) = self.agents.iter().find(|a| a.name == args[1]) else {
            return "-ERR Agent not found!\n".into();
        };
        match args[0].to_ascii_lowercase().as_str() {
            "status" => a.status.clone(),
            "state" => a.state.clone(),
            "uuid" => a.uuid.clone(),
            _ => "-ERR Invalid Agent Update KEY!\n".into(),
        }
    }

    /// `agent list [name]` (:3690-3704): `SELECT * FROM agents`, in the order the rows
    /// were added.
    fn agent_list(&self, args: &[String]) -> String {
        if args.len() > 1 {
            return "-ERR Invalid!\n".into();
        }
        let mut header = vec![
            "name",
            "instance_id",
            "uuid",
            "type",
            "contact",
            "status",
            "state",
        ];
        header.extend(AGENT_NUMBERS);
        let rows: Vec<Vec<String>> = self
            .agents
            .iter()
            .filter(|a| args.first().is_none_or(|n| &a.name == n))
            .map(|a| {
                let mut r = vec![
                    a.name.clone(),
                    a.instance_id.clone(),
                    a.uuid.clone(),
                    a.kind.clone(),
                    a.contact.clone(),
                    a.status.clone(),
                    a.state.clone(),
                ];
                r.extend(a.numbers.iter().map(|(_, v)| v.to_string()));
                r
            })
            .collect();
        table(&header, &rows)
    }

    /// `tier add <queue> <agent> [level] [position]` (:3707-3745, `cc_tier_add`
    /// :1186-1236): a new tier is `Ready`, level and position 1 unless given.
    fn tier_add(&mut self, args: &[String]) -> String {
        if args.len() < 2 {
            return "-ERR Invalid!\n".into();
        }
        let (queue, agent) = (&args[0], &args[1]);
        let num = |i: usize| {
            args.get(i)
                .filter(|v| !v.is_empty())
                .map_or(1, |v| v.trim().parse::<i64>().unwrap_or(0))
        };
        if !self.agents.iter().any(|a| &a.name == agent) {
            return "-ERR Agent not found!\n".into();
        }
        if self
            .tiers
            .iter()
            .any(|t| &t.agent == agent && &t.queue == queue)
        {
            return "-ERR Tier already exist!\n".into();
        }
        self.tiers.push(Tier {
            queue: queue.clone(),
            agent: agent.clone(),
            state: "Ready".into(),
            level: num(2),
            position: num(3),
        });
        "+OK\n".into()
    }

    /// A live caller joining `queue` now, as the `callcenter` application adds one (the
    /// member row of :3137-3150), for tests whose callers wait while others act.
    pub fn join(&mut self, queue: &str, uuid: &str, number: &str, now_epoch: i64) {
        self.members.push(Member {
            queue: queue.to_string(),
            uuid: uuid.to_string(),
            session_uuid: uuid.to_string(),
            cid_number: number.to_string(),
            joined_epoch: now_epoch,
            abandoned_epoch: 0,
            base_score: 0,
            serving_agent: String::new(),
            state: "Waiting".into(),
        });
    }

    /// `queue list members [queue]` (:3936-3941, printed at :3950-3955): every member
    /// with its score, `(now - joined_epoch) + base_score + skill_score`, highest first.
    fn member_list(&self, queue: Option<&str>, now_epoch: i64) -> String {
        let score = |m: &Member| now_epoch - m.joined_epoch + m.base_score;
        let mut ms: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| queue.is_none_or(|q| m.queue == q))
            .collect();
        ms.sort_by_key(|m| std::cmp::Reverse(score(m)));
        let rows: Vec<Vec<String>> = ms
            .iter()
            .map(|m| {
                vec![
                    m.queue.clone(),
                    "single_box".into(),
                    m.uuid.clone(),
                    m.session_uuid.clone(),
                    m.cid_number.clone(),
                    String::new(),
                    m.joined_epoch.to_string(),
                    m.joined_epoch.to_string(),
                    "0".into(),
                    "0".into(),
                    m.abandoned_epoch.to_string(),
                    m.base_score.to_string(),
                    "0".into(),
                    m.serving_agent.clone(),
                    String::new(),
                    m.state.clone(),
                    score(m).to_string(),
                ]
            })
            .collect();
        table(
            &[
                "queue",
                "instance_id",
                "uuid",
                "session_uuid",
                "cid_number",
                "cid_name",
                "system_epoch",
                "joined_epoch",
                "rejoined_epoch",
                "bridge_epoch",
                "abandoned_epoch",
                "base_score",
                "skill_score",
                "serving_agent",
                "serving_system",
                "state",
                "score",
            ],
            &rows,
        )
    }

    /// One pass of the centre's agent dispatch thread (:2779-2790): the waiting members in
    /// score order, each given the first agent of its queue's tiers (by level, position)
    /// that `agents_callback` would contact (:2325-2345: tier Ready or No Answer, state
    /// Waiting, status Available or on demand, past wrap-up and ready_time). Each agent
    /// answers at once: it is offered the member and bridged to it ([`Self::bridge`]).
    /// Returns the (member uuid, agent) pairs served.
    pub fn dispatch(&mut self, now_epoch: i64) -> Vec<(String, String)> {
        self.pass(now_epoch, false)
    }

    /// A pass as [`Self::dispatch`] whose agents ring ([`Self::ring`]) until a test says
    /// they answered ([`Self::answered`]) or not ([`Self::no_answer`]). Returns the
    /// (member uuid, agent) pairs offered.
    pub fn offer(&mut self, now_epoch: i64) -> Vec<(String, String)> {
        self.pass(now_epoch, true)
    }

    fn pass(&mut self, now_epoch: i64, ring: bool) -> Vec<(String, String)> {
        let score = |m: &Member| now_epoch - m.joined_epoch + m.base_score;
        let mut order: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].state == "Waiting")
            .collect();
        order.sort_by_key(|&i| std::cmp::Reverse(score(&self.members[i])));
        let mut served = Vec::new();
        for i in order {
            let queue = self.members[i].queue.clone();
            let mut tiers: Vec<&Tier> = self.tiers.iter().filter(|t| t.queue == queue).collect();
            tiers.sort_by_key(|t| (t.level, t.position));
            let pick = tiers
                .iter()
                .find(|t| self.would_ring(&t.agent, &queue, now_epoch))
                .map(|t| t.agent.clone());
            if let Some(agent) = pick {
                if ring {
                    self.ring(i, &agent, now_epoch);
                } else {
                    self.bridge(i, &agent, now_epoch);
                }
                served.push((self.members[i].uuid.clone(), agent));
            }
        }
        served
    }

    /// Whether `agents_callback` would contact `agent` for a member of `queue` now
    /// (:2325-2345): its tier in the queue Ready or No Answer, state Waiting, status
    /// Available or on demand, past wrap-up and ready_time.
    fn would_ring(&self, agent: &str, queue: &str, now_epoch: i64) -> bool {
        let tiered = self.tiers.iter().any(|t| {
            t.agent == agent
                && t.queue == queue
                && (t.state.eq_ignore_ascii_case("Ready")
                    || t.state.eq_ignore_ascii_case("No Answer"))
        });
        tiered
            && self.agents.iter().any(|a| {
                a.name == agent
                    && a.state.eq_ignore_ascii_case("Waiting")
                    && (a.status.eq_ignore_ascii_case("Available")
                        || a.status.eq_ignore_ascii_case("Available (On Demand)"))
                    && a.number("last_bridge_end") < now_epoch - a.number("wrap_up_time")
                    && a.number("ready_time") <= now_epoch
            })
    }

    /// Waiting member `i` offered to `agent` (`agents_callback`): the member is `Trying`,
    /// served by the agent (:2377-2381), the agent `Receiving` (:2445, which dates its
    /// last offered call, :1056-1059), its tier in the member's queue `Offering` and its
    /// `Ready` tiers in other queues `Standby` (:2447-2451).
    fn ring(&mut self, i: usize, agent: &str, now_epoch: i64) {
        let queue = self.members[i].queue.clone();
        let m = &mut self.members[i];
        m.state = "Trying".into();
        m.serving_agent = agent.to_string();
        self.set_state(agent, "Receiving");
        if let Some(v) = self
            .agent_mut(agent)
            .and_then(|a| a.number_mut("last_offered_call"))
        {
            *v = now_epoch;
        }
        for t in self.tiers.iter_mut().filter(|t| t.agent == agent) {
            if t.queue == queue {
                t.state = "Offering".into();
            } else if t.state == "Ready" {
                t.state = "Standby".into();
            }
        }
    }

    /// Member `i` bridged to `agent`, as an offer the agent answered: offered first
    /// ([`Self::ring`]), then the member is `Answered` (:2022-2026), the agent's leg counts
    /// a call and starts its talk time and its no-answer count is reset (:2034-2036), its
    /// tier in the queue is `Active Inbound` (:2041) and the agent `In a queue call`
    /// (:2042).
    fn bridge(&mut self, i: usize, agent: &str, now_epoch: i64) {
        self.ring(i, agent, now_epoch);
        let queue = self.members[i].queue.clone();
        if let Some(a) = self.agent_mut(agent) {
            for (k, v) in a.numbers.iter_mut() {
                match *k {
                    "last_bridge_start" => *v = now_epoch,
                    "calls_answered" => *v += 1,
                    "no_answer_count" => *v = 0,
                    _ => {}
                }
            }
        }
        self.set_tier(agent, &queue, "Active Inbound");
        self.set_state(agent, "In a queue call");
        self.members[i].state = "Answered".into();
    }

    /// The agent offered a member by [`Self::offer`] answers: bridged to it.
    pub fn answered(&mut self, agent: &str, now_epoch: i64) {
        if let Some(i) = self.offered_to(agent) {
            self.bridge(i, agent, now_epoch);
        }
    }

    /// The agent offered a member by [`Self::offer`] does not answer (the originate ends
    /// with a cause other than busy, reject or not registered: :2126-2232). The member is
    /// `Waiting` again, served by nobody (:2131-2135); the agent's no-answer count grows
    /// (:2166) and reaching its `max_no_answer` (an agent column, :229, read at :2421)
    /// sets its status to the queue's `agent-no-answer-status`, `On Break` by default
    /// (:2172-2187, :582; the simulator reads no queue configuration); its ready time is
    /// its `no_answer_delay_time` from now when that is set (:2161, :2191-2195); its tier
    /// in the queue is `No Answer` and its `Standby` ones `Ready` again (:2218-2224); the
    /// agent is `Waiting` (:2231).
    pub fn no_answer(&mut self, agent: &str, now_epoch: i64) {
        let Some(i) = self.offered_to(agent) else {
            return;
        };
        let queue = self.members[i].queue.clone();
        let m = &mut self.members[i];
        m.state = "Waiting".into();
        m.serving_agent = String::new();
        if let Some(a) = self.agent_mut(agent) {
            let (max, count, delay) = (
                a.number("max_no_answer"),
                a.number("no_answer_count"),
                a.number("no_answer_delay_time"),
            );
            if let Some(v) = a.number_mut("no_answer_count") {
                *v = count + 1;
            }
            if max > 0 && count + 1 >= max {
                a.status = "On Break".into();
            }
            if delay > 0 {
                if let Some(v) = a.number_mut("ready_time") {
                    *v = now_epoch + delay;
                }
            }
        }
        self.call_done(agent, &queue, "No Answer");
        self.set_state(agent, "Waiting");
    }

    /// The member agent `agent` is being offered (`Trying`, served by it), if any.
    fn offered_to(&self, agent: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.state == "Trying" && m.serving_agent == agent)
    }

    /// `cc_tier_update("state", ...)` of one tier (:1274).
    fn set_tier(&mut self, agent: &str, queue: &str, state: &str) {
        if let Some(t) = self
            .tiers
            .iter_mut()
            .find(|t| t.agent == agent && t.queue == queue)
        {
            t.state = state.to_string();
        }
    }

    /// The tiers when an offer of a member of `queue` ends, bridged or not (:2218-2224):
    /// the agent's tier in that queue goes to `state` from `Active Inbound`, `Standby` or
    /// `Offering`, and its `Standby` tiers in other queues are `Ready` again.
    fn call_done(&mut self, agent: &str, queue: &str, state: &str) {
        for t in self.tiers.iter_mut().filter(|t| t.agent == agent) {
            if t.queue == queue {
                if matches!(t.state.as_str(), "Active Inbound" | "Standby" | "Offering") {
                    t.state = state.to_string();
                }
            } else if t.state == "Standby" {
                t.state = "Ready".into();
            }
        }
    }

    /// A queue call of `agent` ends (the member or the agent hung up): the centre adds the
    /// bridge's length to the agent's talk time and sets its last bridge end (:2086-2090);
    /// for a call the centre bridged, the member's row is deleted (:2093) and the agent's
    /// tiers are `Ready` again (:2218-2224); then the agent is Waiting again (:2228-2232;
    /// Idle for on-demand, not modelled).
    pub fn call_ends(&mut self, agent: &str, now_epoch: i64) {
        if let Some(a) = self.agent_mut(agent) {
            let start = a.number_mut("last_bridge_start").map_or(now_epoch, |v| *v);
            if let Some(v) = a.number_mut("last_bridge_end") {
                *v = now_epoch;
            }
            if let Some(v) = a.number_mut("talk_time") {
                *v += now_epoch - start;
            }
        }
        // The member's row goes with its call (:2093).
        let served = self
            .members
            .iter()
            .position(|m| m.state == "Answered" && m.serving_agent == agent);
        if let Some(i) = served {
            let queue = self.members.remove(i).queue;
            self.call_done(agent, &queue, "Ready");
        }
        self.set_state(agent, "Waiting");
    }

    /// `tier list` (:3822-3830): `SELECT * FROM tiers ORDER BY level, position`.
    fn tier_list(&self) -> String {
        let mut tiers: Vec<&Tier> = self.tiers.iter().collect();
        tiers.sort_by_key(|t| (t.level, t.position));
        let rows: Vec<Vec<String>> = tiers
            .iter()
            .map(|t| {
                vec![
                    t.queue.clone(),
                    t.agent.clone(),
                    t.state.clone(),
                    t.level.to_string(),
                    t.position.to_string(),
                ]
            })
            .collect();
        table(&["queue", "agent", "state", "level", "position"], &rows)
    }
}

/// The `callcenter <queue>` application for a caller (`callcenter_function`, :2985-3322):
/// the caller joins as a member, `cc_queue_joined_epoch` and `cc_queue` are set (:3082-3083),
/// and the caller waits (the session's `sim_queue_wait_secs`, default 60, of virtual time:
/// the simulator runs no agent for members). Keys the caller presses meanwhile (their next
/// `Press` acts) end the wait only when one is in `cc_exit_keys` (`moh_on_dtmf`,
/// :2962-2981): then `cc_exit_key` is set (:3216-3219). Leaving without an agent sets the
/// member `Abandoned` with its time (:3265-3267), `cc_queue_canceled_epoch`, `cc_cause=cancel`
/// and `cc_cancel_reason` (:3290-3292): `EXIT_WITH_KEY`, or here `TIMEOUT` when the wait
/// ran out (as the queue's max-wait-time ends it). A hang-up ends it with `BREAK_OUT`.
pub fn member_waits(s: &crate::core::SimSession, queue: &str) -> bool {
    use crate::core::{self, lock, state, Act};
    let queue = queue
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let joined = core::now().timestamp();
    s.set("cc_side", "member");
    s.set("cc_queue_joined_epoch", &joined.to_string());
    s.set("cc_queue", &queue);
    // Made before the state is locked: new_uuid locks it too.
    let uuid = core::new_uuid();
    state().callcenter.members.push(Member {
        queue: queue.clone(),
        uuid,
        session_uuid: s.uuid(),
        cid_number: s.var("caller_id_number").unwrap_or_default(),
        joined_epoch: joined,
        abandoned_epoch: 0,
        base_score: s
            .var("cc_base_score")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        serving_agent: String::new(),
        state: "Waiting".into(),
    });
    let wait: i64 = s
        .var("sim_queue_wait_secs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let exit_keys = s.var("cc_exit_keys").unwrap_or_default();
    // While the caller waits, mod_callcenter plays the queue's music with `moh_on_dtmf` as
    // the input callback (:3190-3219); broadcasts and queued keys as in [`crate::hold`].
    // Not modelled: the private events mod_callcenter flushes before each play of its
    // music (:3207), which endless `local_stream` music avoids.
    let mut reason = "TIMEOUT";
    if let Some(k) = crate::hold::wait_on_hold(s, wait, &exit_keys) {
        s.set("cc_exit_key", &k.to_string());
        reason = "EXIT_WITH_KEY";
    }
    loop {
        if reason != "TIMEOUT" {
            break;
        }
        let act = {
            let mut acts = lock(&s.acts);
            match acts.front() {
                Some(Act::Press(_) | Act::Hangup) => acts.pop_front(),
                _ => None,
            }
        };
        match act {
            Some(Act::Press(keys)) => {
                if let Some(k) = keys.chars().find(|k| exit_keys.contains(*k)) {
                    s.set("cc_exit_key", &k.to_string());
                    reason = "EXIT_WITH_KEY";
                    break;
                }
            }
            Some(_) => {
                s.hang_up();
                reason = "BREAK_OUT";
                break;
            }
            None => break,
        }
    }
    let now = core::now().timestamp();
    if let Some(m) = state()
        .callcenter
        .members
        .iter_mut()
        .rev()
        .find(|m| m.session_uuid == s.uuid())
    {
        m.state = "Abandoned".into();
        m.abandoned_epoch = now;
    }
    s.set("cc_queue_canceled_epoch", &now.to_string());
    s.set("cc_cause", "cancel");
    s.set("cc_cancel_reason", reason);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_one_word() {
        // 'In a queue call' is one argument, its quotes removed, as switch_separate_string does.
        assert_eq!(
            words("agent set state 1001@default 'In a queue call'"),
            ["agent", "set", "state", "1001@default", "In a queue call"]
        );
    }

    #[test]
    fn state_if_waiting_takes_only_a_waiting_available_agent() {
        // The reserve step refuses an agent on a queue call or logged out, like the SQL.
        let mut cc = Callcenter::default();
        assert_eq!(cc.api("agent add 1001@default callback", 0), "+OK\n");
        assert_eq!(
            cc.api("agent set state_if_waiting 1001@default Receiving", 0),
            "-ERR Agent not found!\n"
        );
        cc.api("agent set status 1001@default Available", 0);
        assert_eq!(
            cc.api("agent set state_if_waiting 1001@default Receiving", 0),
            "+OK\n"
        );
        assert_eq!(cc.api("agent get state 1001@default", 0), "Receiving");
        assert_eq!(
            cc.api("agent set state_if_waiting 1001@default Receiving", 0),
            "-ERR Agent not found!\n"
        );
        assert_eq!(cc.api("tier list", 0), "+OK\n");
    }

    /// Agents 1001 and 1002 available in q@default (1001 also in r@default), a member.
    fn centre() -> Callcenter {
        let mut cc = Callcenter::default();
        for a in ["1001@default", "1002@default"] {
            cc.api(&format!("agent add {a} callback"), 0);
            cc.api(&format!("agent set status {a} Available"), 0);
            cc.api(&format!("tier add q@default {a}"), 0);
        }
        cc.api("tier add r@default 1001@default", 0);
        cc.join("q@default", "m1", "+12125550100", 0);
        cc
    }

    fn tier_states(cc: &Callcenter, agent: &str) -> Vec<(String, String)> {
        cc.tiers
            .iter()
            .filter(|t| t.agent == agent)
            .map(|t| (t.queue.clone(), t.state.clone()))
            .collect()
    }

    #[test]
    fn an_offer_rings_then_a_bridge_or_a_no_answer_sets_the_states_the_centre_sets() {
        // Offered: the member Trying, the agent Receiving, its tier Offering and its tier
        // elsewhere Standby. Answered: Answered, In a queue call, Active Inbound; the call
        // ending deletes the member and makes both tiers Ready. Not answered: the member
        // Waiting again, the agent Waiting and asleep for its no-answer delay, its tier No
        // Answer, and at max-no-answer On Break.
        let mut cc = centre();
        assert_eq!(
            cc.offer(10),
            [("m1".to_string(), "1001@default".to_string())]
        );
        assert_eq!(cc.members[0].state, "Trying");
        assert_eq!(cc.api("agent get state 1001@default", 10), "Receiving");
        let q = |s: &str| ("q@default".to_string(), s.to_string());
        let r = |s: &str| ("r@default".to_string(), s.to_string());
        assert_eq!(
            tier_states(&cc, "1001@default"),
            [q("Offering"), r("Standby")]
        );
        assert_eq!(
            cc.offer(10),
            [],
            "1002 is not offered a member already Trying"
        );
        cc.answered("1001@default", 12);
        assert_eq!(cc.members[0].state, "Answered");
        assert_eq!(
            cc.api("agent get state 1001@default", 12),
            "In a queue call"
        );
        assert_eq!(
            tier_states(&cc, "1001@default"),
            [q("Active Inbound"), r("Standby")]
        );
        cc.call_ends("1001@default", 40);
        assert!(cc.members.is_empty());
        assert_eq!(tier_states(&cc, "1001@default"), [q("Ready"), r("Ready")]);
        assert_eq!(cc.api("agent get state 1001@default", 40), "Waiting");

        let mut cc = centre();
        cc.api("agent set no_answer_delay_time 1001@default 30", 0);
        cc.api("agent set max_no_answer 1001@default 2", 0);
        cc.offer(10);
        cc.no_answer("1001@default", 25);
        assert_eq!(
            (
                cc.members[0].state.as_str(),
                cc.members[0].serving_agent.as_str()
            ),
            ("Waiting", "")
        );
        assert_eq!(cc.api("agent get state 1001@default", 25), "Waiting");
        assert_eq!(
            tier_states(&cc, "1001@default"),
            [q("No Answer"), r("Ready")]
        );
        let row = |cc: &Callcenter, k: &str| cc.agents[0].number(k);
        assert_eq!(
            (row(&cc, "ready_time"), row(&cc, "no_answer_count")),
            (55, 1)
        );
        // Asleep, 1001 is passed over for 1002; awake again, it is offered and not answering
        // a second time puts it on break.
        assert_eq!(
            cc.offer(30),
            [("m1".to_string(), "1002@default".to_string())]
        );
        cc.no_answer("1002@default", 31);
        assert_eq!(
            cc.offer(60),
            [("m1".to_string(), "1001@default".to_string())]
        );
        cc.no_answer("1001@default", 80);
        assert_eq!(cc.api("agent get status 1001@default", 80), "On Break");
        assert_eq!(row(&cc, "ready_time"), 110);
    }

    #[test]
    fn the_centre_takes_an_agent_before_a_claim_only_if_it_would_ring_it() {
        // Held (its ready time ahead) the agent is not the centre's to give: the claim
        // goes through. Free, it is given to the member first and the claim is refused.
        let mut cc = Callcenter::default();
        cc.api("agent add 1001@default callback", 0);
        cc.api("agent set status 1001@default Available", 0);
        cc.api("tier add q@default 1001@default", 0);
        cc.join("q@default", "m1", "+12125550100", 0);
        cc.api("agent set ready_time 1001@default 100", 10);
        cc.bridge_before_claim = Some("m1".into());
        assert_eq!(
            cc.api("agent set state_if_waiting 1001@default Receiving", 10),
            "+OK\n"
        );
        assert_eq!(cc.members[0].state, "Waiting");
        cc.api("agent set state 1001@default Waiting", 10);
        cc.api("agent set ready_time 1001@default 0", 10);
        cc.bridge_before_claim = Some("m1".into());
        assert_eq!(
            cc.api("agent set state_if_waiting 1001@default Receiving", 10),
            "-ERR Agent not found!\n"
        );
        assert_eq!(cc.members[0].serving_agent, "1001@default");
        assert_eq!(
            cc.api("agent get state 1001@default", 10),
            "In a queue call"
        );
    }
}
