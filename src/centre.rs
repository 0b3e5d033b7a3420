//! Contact-centre agents: a queue may take its agents from the contact centre the PBX
//! already runs (`agents-from`), so an agent is defined once. The centre keeps each
//! agent's status (available, on break, logged out), state (waiting, ringing, on a queue
//! call), its contact and its tiers (the queues it serves); the host hands over two tables
//! (agents, tiers) as the centre prints them, `|`-separated with a header line and a
//! closing `+OK`, and this module reads them and decides who may take a callback now.
//!
//! The rule is the centre's own, so a callback never rings someone the centre would not
//! ring a queue call to: status available (or available on demand), state waiting, past
//! its wrap-up and ready time, not on an outside call, and a tier in the queue that is
//! ready (or no-answer). Anyone else is busy for callbacks too, and that is no decline.

use crate::config::{endpoint_problem, AgentConfig};
use nom::bytes::complete::{tag, take_till};
use nom::character::complete::line_ending;
use nom::multi::separated_list1;
use nom::sequence::terminated;
use nom::{IResult, Parser};
use std::collections::BTreeMap;

/// Why a centre's table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CentreError {
    #[error("the contact centre refused the {table} list: {reply}")]
    Refused { table: &'static str, reply: String },
    #[error("the contact centre's {table} list is not a table: {why}")]
    Malformed { table: &'static str, why: String },
    #[error("the contact centre's {table} list has no column '{column}'")]
    MissingColumn {
        table: &'static str,
        column: &'static str,
    },
    #[error("the contact centre's {table} list, row {row}: {column} '{value}' is not a number")]
    NotANumber {
        table: &'static str,
        row: usize,
        column: &'static str,
        value: String,
    },
}

/// An agent's status in the centre (what the agent chose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CentreStatus {
    LoggedOut,
    Available,
    AvailableOnDemand,
    OnBreak,
    Unknown,
}

impl CentreStatus {
    /// Read as the centre compares them: without regard to case.
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "logged out" => Self::LoggedOut,
            "available" => Self::Available,
            "available (on demand)" => Self::AvailableOnDemand,
            "on break" => Self::OnBreak,
            _ => Self::Unknown,
        }
    }
}

/// An agent's state in the centre (what the agent is doing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CentreState {
    Waiting,
    Receiving,
    InQueueCall,
    Idle,
    Reserved,
    Unknown,
}

impl CentreState {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "waiting" => Self::Waiting,
            "receiving" => Self::Receiving,
            "in a queue call" => Self::InQueueCall,
            "idle" => Self::Idle,
            "reserved" => Self::Reserved,
            _ => Self::Unknown,
        }
    }
}

/// One row of the centre's agent table (the columns used here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentreAgent {
    pub name: String,
    pub contact: String,
    pub status: CentreStatus,
    pub state: CentreState,
    /// Epoch seconds: not before then (set after a reject, busy or no answer).
    pub ready_time: i64,
    pub last_bridge_start: i64,
    pub last_bridge_end: i64,
    pub wrap_up_time: i64,
    /// Calls the agent is on outside the centre's queues (the centre's call tracking).
    pub external_calls: i64,
    /// Queue calls the agent answered and the seconds it talked on them: the centre adds
    /// one call at each bridge and the bridge's length when it ends (mod_callcenter.c
    /// :2034 and :2087 at v1.10.12), so together they are its handling time per call.
    pub calls_answered: i64,
    pub talk_time: i64,
}

/// One row of the centre's tier table: an agent in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentreTier {
    pub queue: String,
    pub agent: String,
    pub state: String,
    pub level: i64,
    pub position: i64,
}

impl CentreTier {
    /// Whether the centre would ring the agent for a caller of this queue, as far as the
    /// tier goes: `Ready` or `No Answer` (`agents_callback`, mod_callcenter.c:2325-2327).
    pub fn rings(&self) -> bool {
        matches!(
            self.state.to_ascii_lowercase().as_str(),
            "ready" | "no answer"
        )
    }

    /// Whether the tier is the one of a queue whose call the centre is offering the agent
    /// or has bridged it to: `Offering` (:2447-2448), then `Active Inbound` (:2041).
    fn on_centre_call(&self) -> bool {
        matches!(
            self.state.to_ascii_lowercase().as_str(),
            "offering" | "active inbound"
        )
    }
}

/// The tier of agent `agent` in the centre's queue `centre_q` if the agent staffs that
/// queue: the tier rings ([`CentreTier::rings`]), or the agent is on an offer or a call the
/// centre made, which sets its tier `Offering`, then `Active Inbound`, in the queue of the
/// call and its `Ready` tiers in other queues `Standby`, each back to `Ready` (or `No
/// Answer`) when the call ends (:2041, :2218-2224, :2447-2451). A `Standby` tier of an
/// agent with no tier on such a call (on a callback of this module, or not on a call) is
/// an admin's, who took the agent out of that queue; `Unknown` is not staffed either.
fn staffed_tier<'a>(
    tiers: &'a [CentreTier],
    agent: &str,
    centre_q: &str,
) -> Option<&'a CentreTier> {
    let on_call = tiers.iter().any(|t| t.agent == agent && t.on_centre_call());
    tiers.iter().find(|t| {
        t.agent == agent
            && t.queue == centre_q
            && (t.rings()
                || t.on_centre_call()
                || (on_call && t.state.eq_ignore_ascii_case("standby")))
    })
}

type Row = BTreeMap<String, String>;

fn cells(i: &str) -> IResult<&str, Vec<&str>> {
    separated_list1(tag("|"), take_till(|c| c == '|' || c == '\n' || c == '\r')).parse(i)
}

fn lines(i: &str) -> IResult<&str, Vec<Vec<&str>>> {
    nom::multi::many0(terminated(
        nom::combinator::verify(cells, |c: &Vec<&str>| c != &[""] && c != &["+OK"]),
        line_ending,
    ))
    .parse(i)
}

/// A table as the centre prints one: a header line of column names and a line per row,
/// `|`-separated, then `+OK` (no header at all when there are no rows). A reply starting
/// `-ERR` is a refusal.
pub fn parse_table(table: &'static str, text: &str) -> Result<Vec<Row>, CentreError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("-ERR") || trimmed.starts_with("-USAGE") {
        return Err(CentreError::Refused {
            table,
            reply: trimmed.lines().next().unwrap_or_default().to_string(),
        });
    }
    let malformed = |why: String| CentreError::Malformed { table, why };
    let (rest, rows) = lines(trimmed).map_err(|e| malformed(e.to_string()))?;
    if rest.trim() != "+OK" {
        return Err(malformed(format!(
            "it does not end with +OK (found '{}')",
            rest.lines().next().unwrap_or_default()
        )));
    }
    let Some((header, body)) = rows.split_first() else {
        return Ok(Vec::new());
    };
    body.iter()
        .enumerate()
        .map(|(n, r)| {
            if r.len() != header.len() {
                return Err(malformed(format!(
                    "row {} has {} cells for {} columns",
                    n + 1,
                    r.len(),
                    header.len()
                )));
            }
            Ok(header
                .iter()
                .zip(r)
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect())
        })
        .collect()
}

fn text<'a>(
    table: &'static str,
    row: &'a Row,
    column: &'static str,
) -> Result<&'a str, CentreError> {
    row.get(column)
        .map(String::as_str)
        .ok_or(CentreError::MissingColumn { table, column })
}

fn number(
    table: &'static str,
    n: usize,
    row: &Row,
    column: &'static str,
) -> Result<i64, CentreError> {
    let v = text(table, row, column)?;
    if v.is_empty() {
        return Ok(0);
    }
    v.trim().parse().map_err(|_| CentreError::NotANumber {
        table,
        row: n + 1,
        column,
        value: v.to_string(),
    })
}

/// The centre's agent table.
pub fn agents(text_: &str) -> Result<Vec<CentreAgent>, CentreError> {
    const T: &str = "agent";
    parse_table(T, text_)?
        .iter()
        .enumerate()
        .map(|(n, r)| {
            Ok(CentreAgent {
                name: text(T, r, "name")?.to_string(),
                contact: text(T, r, "contact")?.to_string(),
                status: CentreStatus::parse(text(T, r, "status")?),
                state: CentreState::parse(text(T, r, "state")?),
                ready_time: number(T, n, r, "ready_time")?,
                last_bridge_start: number(T, n, r, "last_bridge_start")?,
                last_bridge_end: number(T, n, r, "last_bridge_end")?,
                wrap_up_time: number(T, n, r, "wrap_up_time")?,
                external_calls: number(T, n, r, "external_calls_count")?,
                calls_answered: number(T, n, r, "calls_answered")?,
                talk_time: number(T, n, r, "talk_time")?,
            })
        })
        .collect()
}

/// The centre's tier table.
pub fn tiers(text_: &str) -> Result<Vec<CentreTier>, CentreError> {
    const T: &str = "tier";
    parse_table(T, text_)?
        .iter()
        .enumerate()
        .map(|(n, r)| {
            Ok(CentreTier {
                queue: text(T, r, "queue")?.to_string(),
                agent: text(T, r, "agent")?.to_string(),
                state: text(T, r, "state")?.to_string(),
                level: number(T, n, r, "level")?,
                position: number(T, n, r, "position")?,
            })
        })
        .collect()
}

/// An agent this module keeps from the centre's own queue calls for a while (its ready
/// time set ahead), so a callback at the front of the line gets the agent the centre
/// frees next instead of a caller who joined later: `until` is the ready time set, `before`
/// the centre's own, put back when the hold ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub until: i64,
    pub before: i64,
}

impl Hold {
    /// The hold of an agent renewed to `until`, from the hold it had and its ready time in
    /// the centre's table now: the ready time it goes back to is the one before the hold
    /// while the table still shows the hold, else the one the centre set since (a delay
    /// after a call it could not get the agent to take, mod_callcenter.c:2191-2195); and
    /// the hold never sets it earlier than that.
    pub fn renewed(had: Option<&Hold>, table_ready: i64, until: i64) -> Hold {
        let before = match had {
            Some(h) if h.until == table_ready => h.before,
            _ => table_ready,
        };
        Hold {
            until: until.max(before),
            before,
        }
    }

    /// Whether ending this hold sets the agent's ready time back: only while the centre's
    /// table still shows it (or no longer lists the agent); a ready time the centre set
    /// since is its own and stays.
    pub fn shown(&self, table_ready: Option<i64>) -> bool {
        table_ready.is_none_or(|t| t == self.until)
    }
}

/// A caller in one of the centre's queues (a row of its member list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentreMember {
    pub queue: String,
    /// The caller's own call (the channel the `callcenter` application runs on).
    pub session_uuid: String,
    pub joined_epoch: i64,
    pub base_score: i64,
    pub skill_score: i64,
    /// `Waiting`, `Trying` (being offered to an agent), `Answered`, `Abandoned`.
    pub state: String,
}

/// The centre's member list of a queue.
pub fn queue_members(text_: &str) -> Result<Vec<CentreMember>, CentreError> {
    const T: &str = "member";
    parse_table(T, text_)?
        .iter()
        .enumerate()
        .map(|(n, r)| {
            Ok(CentreMember {
                queue: text(T, r, "queue")?.to_string(),
                session_uuid: text(T, r, "session_uuid")?.to_string(),
                joined_epoch: number(T, n, r, "joined_epoch")?,
                base_score: number(T, n, r, "base_score")?,
                skill_score: number(T, n, r, "skill_score")?,
                state: text(T, r, "state")?.to_string(),
            })
        })
        .collect()
}

/// How many live callers of the queue are ahead of a caller who joined it at
/// `joined_epoch`. The centre serves its callers by score, the seconds waited plus their
/// base and skill scores, highest first; the caller who left for a callback keeps the
/// score of the time waited since joining. A caller still waiting (or being offered to an
/// agent) is ahead when its score is higher: `joined - base - skill < joined_epoch`; on a
/// tie the callback goes first.
pub fn ahead(members: &[CentreMember], joined_epoch: i64) -> usize {
    members
        .iter()
        .filter(|m| m.waiting() && m.line_key() < joined_epoch)
        .count()
}

impl CentreMember {
    /// Where the centre's score puts the caller in line, as a join instant: the time it
    /// joined less its base and skill scores (lower is further ahead). Saturating: the
    /// figures are the host's text.
    pub fn line_key(&self) -> i64 {
        self.joined_epoch
            .saturating_sub(self.base_score)
            .saturating_sub(self.skill_score)
    }

    /// Still in line: waiting, or being offered to an agent.
    pub fn waiting(&self) -> bool {
        matches!(
            self.state.to_ascii_lowercase().as_str(),
            "waiting" | "trying"
        )
    }
}

/// Who serves one of the centre's queues, for the estimated wait: the agents able to take
/// its calls (available or on demand, staffing it: a ready or no-answer tier, or on one of
/// the centre's own calls), how many of them the centre would ring now, and their handling
/// so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Staffing {
    pub able: usize,
    pub free: usize,
    /// Queue calls ended and seconds talked on them, summed over the able agents.
    pub calls: i64,
    pub talk_secs: i64,
    /// The able agents' wrap-up time, summed (the centre rings nobody during it).
    pub wrap_up_secs: i64,
}

impl Staffing {
    /// The centre's handling time per call (talk plus wrap-up); `None` before any call.
    pub fn handling_secs(&self) -> Option<i64> {
        if self.calls <= 0 || self.able == 0 {
            return None;
        }
        let wrap = self.wrap_up_secs / self.able as i64;
        Some(self.talk_secs / self.calls + wrap)
    }
}

/// The agents of one of the centre's queues this module holds for callbacks' places
/// ([`agents_to_hold`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// Free agents, each with the join time of the callback it goes to, in line order:
    /// held, and taken by that callback.
    pub for_callbacks: Vec<(i64, String)>,
    /// Busy agents held in reserve: whichever of them is freed first is the module's to
    /// give (to the callback at the front of the line, or back to the centre for a live
    /// caller ahead of it) at its next look, not the centre's to give a caller who joined
    /// after a waiting callback.
    pub reserve: Vec<String>,
}

/// What this module did to the centre's agents that the centre's tables do not show as
/// such: its holds (their ready time is this module's, not the centre's), the instants it
/// freed agents from callbacks (the centre's last bridge end counts its own calls only), and
/// the agents it has on a callback.
#[derive(Debug, Clone, Copy)]
pub struct Ours<'a> {
    pub holds: &'a BTreeMap<String, Hold>,
    pub freed: &'a BTreeMap<String, i64>,
    /// The agents offered or handling a callback now: busy, whatever the centre's table
    /// shows while the claim is under way.
    pub on_callback: &'a std::collections::BTreeSet<String>,
}

/// The agents of the centre's queue `centre_q` to hold for callbacks, so the centre never
/// gives a caller who joined after a waiting callback an agent before it, whatever order
/// the agents are freed in. The queue's line is its waiting callers by score and the
/// callbacks taken from it by their callers' join times (`callback_joins`; a tie goes to
/// the callback). Callers being offered an agent (`Trying`) already have one ringing.
///
/// - The agents free now (the centre would ring them but for this module's holds) go
///   down the line in the order they were freed (the centre's last bridge end and
///   wrap-up, or the instant this module freed one from a callback): one matched
///   with a live caller is not held (a hold the module set on it ends, so the centre gives
///   it to its highest-scored caller, who is ahead of every waiting callback), one matched
///   with a callback is held for that callback.
/// - Of the busy agents, when a callback is still left in line with `r` live callers
///   ahead of it, the `r` likely to be freed first (wrapping up, then on a queue call by
///   its start, then any other) are left to the centre, and the others are held in
///   reserve: however the calls end, the centre can give at most `r` agents before the
///   module looks again, and it gives them to its highest-scored callers, those ahead.
///   A held agent freed first is matched at the next look, as a free agent.
pub fn agents_to_hold(
    agents: &[CentreAgent],
    tiers: &[CentreTier],
    centre_q: &str,
    members: &[CentreMember],
    callback_joins: &[i64],
    ours: Ours<'_>,
    now_epoch: i64,
) -> Places {
    let Ours {
        holds,
        freed,
        on_callback,
    } = ours;
    let mut line: Vec<(i64, bool)> = members
        .iter()
        .filter(|m| m.state.eq_ignore_ascii_case("waiting"))
        .map(|m| (m.line_key(), false))
        .chain(callback_joins.iter().map(|j| (*j, true)))
        .collect();
    line.sort_by_key(|(at, callback)| (*at, !*callback));
    let mut free: Vec<(i64, i64, String)> = Vec::new();
    let mut busy: Vec<(u8, i64, i64, String)> = Vec::new();
    for (a, t) in agents.iter().filter_map(|a| {
        let t = staffed_tier(tiers, &a.name, centre_q)?;
        matches!(
            a.status,
            CentreStatus::Available | CentreStatus::AvailableOnDemand
        )
        .then_some((a, t))
    }) {
        let mut a = a.clone();
        if let Some(h) = holds.get(&a.name).filter(|h| h.until == a.ready_time) {
            a.ready_time = h.before;
        }
        // Among equals, the centre's own pick: tier level, then position.
        let tier = t.level.saturating_mul(1_000_000).saturating_add(t.position);
        let ours = on_callback.contains(&a.name);
        if !ours && a.busy_in(&[t], now_epoch).is_none() {
            let freed_at = a
                .last_bridge_end
                .saturating_add(a.wrap_up_time)
                .max(a.ready_time)
                .max(freed.get(&a.name).copied().unwrap_or(0));
            free.push((freed_at, tier, a.name));
            continue;
        }
        let (rank, at) = if ours {
            (3, 0)
        } else if a.state == CentreState::Waiting && a.external_calls == 0 {
            // Wrapping up, or not ready again yet: free at the later of the two.
            (
                1,
                a.last_bridge_end
                    .saturating_add(a.wrap_up_time)
                    .max(a.ready_time),
            )
        } else if a.state == CentreState::InQueueCall && a.last_bridge_start > a.last_bridge_end {
            (2, a.last_bridge_start)
        } else {
            (3, 0)
        };
        busy.push((rank, at, tier, a.name));
    }
    free.sort();
    busy.sort();
    let mut places = Places::default();
    let mut next = 0;
    for (_, _, name) in free {
        let Some(&(joined, callback)) = line.get(next) else {
            break;
        };
        next += 1;
        if callback {
            places.for_callbacks.push((joined, name));
        }
    }
    let rest = line.get(next..).unwrap_or_default();
    if let Some(ahead) = rest.iter().position(|(_, callback)| *callback) {
        places.reserve = busy.into_iter().skip(ahead).map(|b| b.3).collect();
    }
    places
}

/// The staffing of the centre's queue `centre_q` from its agent and tier tables.
pub fn staffing(
    agents: &[CentreAgent],
    tiers: &[CentreTier],
    centre_q: &str,
    now_epoch: i64,
) -> Staffing {
    let mut s = Staffing::default();
    for a in agents {
        let Some(tier) = staffed_tier(tiers, &a.name, centre_q) else {
            continue;
        };
        if !matches!(
            a.status,
            CentreStatus::Available | CentreStatus::AvailableOnDemand
        ) {
            continue;
        }
        s.able += 1;
        if a.busy_in(&[tier], now_epoch).is_none() {
            s.free += 1;
        }
        // A queue call still going is counted at its bridge but has no talk time yet.
        let in_call =
            a.state == CentreState::InQueueCall && a.last_bridge_start > a.last_bridge_end;
        s.calls += (a.calls_answered - i64::from(in_call)).max(0);
        s.talk_secs += a.talk_time.max(0);
        s.wrap_up_secs += a.wrap_up_time.max(0);
    }
    s
}

impl CentreAgent {
    /// Why the centre would not ring this agent now for a caller of the queues of `tiers`
    /// (the agent's, each staffed: [`staffed_tier`]); `None`: it would. Besides
    /// [`Self::busy`], a tier that does not ring: the tables are read one after the other,
    /// so an agent the centre has just offered a call may read as waiting with its tier
    /// already offering.
    pub fn busy_in(&self, tiers: &[&CentreTier], now_epoch: i64) -> Option<String> {
        self.busy(now_epoch).or_else(|| {
            tiers
                .iter()
                .any(|t| !t.rings())
                .then(|| "on one of the contact centre's own offers or calls".to_string())
        })
    }

    /// Why the centre would not ring this agent now; `None`: it would.
    pub fn busy(&self, now_epoch: i64) -> Option<String> {
        match self.status {
            CentreStatus::Available | CentreStatus::AvailableOnDemand => {}
            CentreStatus::OnBreak => return Some("on break in the contact centre".into()),
            CentreStatus::LoggedOut => return Some("logged out of the contact centre".into()),
            CentreStatus::Unknown => return Some("its contact-centre status is unknown".into()),
        }
        if self.state != CentreState::Waiting {
            return Some(
                match self.state {
                    CentreState::Receiving | CentreState::Reserved => "being offered a queue call",
                    CentreState::InQueueCall => "on a queue call",
                    _ => "not waiting for a call in the contact centre",
                }
                .into(),
            );
        }
        if self.external_calls > 0 {
            return Some("on a call outside the queues".into());
        }
        if self.last_bridge_end >= now_epoch - self.wrap_up_time {
            return Some("wrapping up its last call".into());
        }
        if self.ready_time > now_epoch {
            return Some("not ready again yet (after a reject, busy or no answer)".into());
        }
        None
    }

    /// The endpoint to ring: the contact without the leading `{...}` / `[...]` variable
    /// blocks the centre puts on its own originate (this module's leg sets its own ring
    /// time), checked like a configured dial string; `Err` says why it cannot be rung.
    pub fn endpoint(&self) -> Result<String, String> {
        let mut c = self.contact.trim();
        while let Some(close) = match c.chars().next() {
            Some('{') => c.find('}'),
            Some('[') => c.find(']'),
            _ => None,
        } {
            c = c[close + 1..].trim_start();
        }
        match endpoint_problem(c) {
            None => Ok(c.to_string()),
            Some(why) => Err(format!("contact '{}' {why}", self.contact)),
        }
    }
}

/// A contact-centre agent as the dispatcher takes it: its configuration (the queues of
/// this module it serves, by the links given) and why it may not take a callback now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub config: AgentConfig,
    pub busy: Option<String>,
}

/// The centre's agents that serve a linked queue: `links` pairs a queue of this module
/// with the centre's queue it takes agents from. A tier counts when the agent staffs the
/// queue ([`staffed_tier`]: also while on one of the centre's calls). An agent
/// whose contact cannot be rung is left out and named in the second list with why.
/// `holds` are the agents this module holds for a callback (see [`Hold`]): their ready
/// time is this module's, not the centre's.
pub fn members(
    agents: &[CentreAgent],
    tiers: &[CentreTier],
    links: &[(String, String)],
    holds: &BTreeMap<String, Hold>,
    now_epoch: i64,
) -> (Vec<Member>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for a in agents {
        let mut a = a.clone();
        if let Some(h) = holds.get(&a.name).filter(|h| h.until == a.ready_time) {
            a.ready_time = h.before;
        }
        let staffed: Vec<(&String, &CentreTier)> = links
            .iter()
            .filter_map(|(ours, centre_q)| Some((ours, staffed_tier(tiers, &a.name, centre_q)?)))
            .collect();
        if staffed.is_empty() {
            continue;
        }
        let queues = staffed.iter().map(|(ours, _)| (*ours).clone()).collect();
        let tiers: Vec<&CentreTier> = staffed.iter().map(|(_, t)| *t).collect();
        let busy = a.busy_in(&tiers, now_epoch);
        match a.endpoint() {
            Ok(dial) => out.push(Member {
                config: AgentConfig {
                    id: a.name.clone(),
                    dial,
                    queues,
                    start_ready: true,
                },
                busy,
            }),
            Err(why) => problems.push(format!("contact-centre agent {}: {why}", a.name)),
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests;
