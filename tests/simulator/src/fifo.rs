//! mod_fifo, FreeSWITCH's holding line, as FreeSWITCH 1.10.12 defines it
//! (src/mod/applications/mod_fifo/mod_fifo.c, cited by line below): the `fifo` application
//! for a caller (`fifo <name>[!<importance>] in [announce] [music] [noans|early]`), the
//! caller's exit key, the orbit timeout and what each leaves on the channel; the `fifo` API's
//! `list` (its XML exactly as mod_fifo prints it) and `count`; and a consumer taking the
//! next caller (`fifo <name> out`, played by a test with [`Fifo::pop`]).
//!
//! Not modelled: consumers as calls, outbound members (`fifo_member`, `fifo.conf`), chimes
//! (`fifo_chime_list`), `fifo_vip` and `fifo_pop_order`, `list_verbose`'s CDRs, the orbit's
//! transfer to another extension (only `_continue_`, which goes on in the dialplan). Every
//! fifo is one `fifo` created on first use (:2632-2635), with the zero settings of
//! `create_node` (:1008-1054) and the default strategy `ringall` (:4453).

use std::collections::BTreeMap;

/// `MAX_PRI` (:118): ten priority slots.
pub const MAX_PRI: usize = 10;

/// A caller in a fifo: the channel variables `xml_caller` prints of it (:4020-4051).
#[derive(Debug, Clone)]
pub struct Caller {
    pub uuid: String,
    pub caller_id_name: Option<String>,
    pub caller_id_number: Option<String>,
    /// `fifo_status` (`WAITING` while in the fifo).
    pub status: String,
    /// `fifo_timestamp`: the push time while waiting.
    pub timestamp: String,
    /// `fifo_position`: set at the push (:2757-2760) and when callers ahead leave
    /// (`change_pos`, :178-194).
    pub position: usize,
    /// The call, when it is a simulated session (its variables follow the record).
    pub session: Option<std::sync::Arc<crate::core::SimSession>>,
}

impl Caller {
    fn set_position(&mut self, p: usize) {
        self.position = p;
        if let Some(s) = &self.session {
            s.set("fifo_position", &p.to_string());
        }
    }
}

/// A fifo node: its ten slots of callers.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub importance: u32,
    pub slots: [Vec<Caller>; MAX_PRI],
}

impl Node {
    fn caller_count(&self) -> usize {
        self.slots.iter().map(Vec::len).sum()
    }
}

/// mod_fifo's nodes by name.
#[derive(Debug, Default)]
pub struct Fifo {
    pub nodes: BTreeMap<String, Node>,
}

/// The time as mod_fifo writes it: `switch_time_exp_lt` (the process's local time,
/// src/switch_apr.c:346-349) formatted `"%Y-%m-%d %T"` (:2768-2770).
pub fn local_stamp(now: chrono::DateTime<chrono::Utc>) -> String {
    now.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `fifo_priority` as mod_fifo reads it: `atoi`, at most `MAX_PRI - 1` (:2731-2738).
fn slot_of(priority: Option<&str>) -> usize {
    let p = priority.unwrap_or_default().trim_start();
    let digits: String = p
        .strip_prefix('+')
        .unwrap_or(p)
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<usize>().map_or(0, |n| n.min(MAX_PRI - 1))
}

/// `switch_url_encode` (src/switch_utils.c:3476-3517): bytes below a space, above `~` or
/// in `SWITCH_URL_UNSAFE` (src/include/switch_utils.h:47) become `%XX`.
fn url_encode(s: &str) -> String {
    const UNSAFE: &[u8] = b"\r\n #%&+:;<=>?@[\\]^`{|}\"";
    let mut out = String::new();
    for &b in s.as_bytes() {
        if !(b' '..=b'~').contains(&b) || UNSAFE.contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// An attribute value as `switch_xml_ampencode` writes it (src/switch_xml.c:2517-2615).
fn amp(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#xA;"),
            '\t' => out.push_str("&#x9;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// One element as `switch_xml_toxml_r` prints it (src/switch_xml.c:2619-2720): two spaces
/// of indent per level; an element made by `switch_xml_add_child` has text `""`, never
/// none (:2979), so even an empty one is printed `<x ...></x>` (:2671), and each closing
/// tag ends its line.
fn element(
    out: &mut String,
    depth: usize,
    name: &str,
    attrs: &[(&str, String)],
    children: &[String],
) {
    if out.ends_with('>') {
        out.push('\n');
    }
    out.push_str(&"  ".repeat(depth));
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        out.push_str(&format!(" {k}=\"{}\"", amp(v)));
    }
    out.push('>');
    for c in children {
        if out.ends_with('>') {
            out.push('\n');
        }
        out.push_str(c);
    }
    if out.ends_with('\n') {
        out.push_str(&"  ".repeat(depth));
    }
    out.push_str(&format!("</{name}>\n"));
}

impl Fifo {
    pub const fn new() -> Self {
        Self {
            nodes: BTreeMap::new(),
        }
    }

    /// Pushes a caller into slot `slot` of fifo `name` (made on first use); returns its
    /// `fifo_position`, the size of its slot after the push (:2753-2760).
    pub fn push(&mut self, name: &str, importance: u32, slot: usize, mut caller: Caller) -> usize {
        let node = self.nodes.entry(name.to_string()).or_insert_with(|| Node {
            importance,
            ..Node::default()
        });
        let list = &mut node.slots[slot.min(MAX_PRI - 1)];
        caller.position = list.len() + 1;
        list.push(caller);
        list.len()
    }

    /// `node_remove_uuid` (:506-520): the caller leaves whatever slot it is in; the
    /// callers behind it move up (`fifo_queue_popfly` renumbers like `fifo_queue_pop`).
    pub fn remove(&mut self, name: &str, uuid: &str) {
        if let Some(node) = self.nodes.get_mut(name) {
            for list in &mut node.slots {
                if let Some(i) = list.iter().position(|c| c.uuid == uuid) {
                    list.remove(i);
                    renumber(list, i);
                }
            }
        }
    }

    /// A consumer (`fifo <name> out`) takes the next caller: the first of slot 0, else of
    /// slot 1, ... (:3151-3157, `fifo_queue_pop` :223-263, which moves each caller behind
    /// up one place, `change_pos`). Returns its uuid.
    pub fn pop(&mut self, name: &str) -> Option<String> {
        let node = self.nodes.get_mut(name)?;
        let list = node.slots.iter_mut().find(|l| !l.is_empty())?;
        let c = list.remove(0);
        renumber(list, 0);
        Some(c.uuid)
    }

    /// The `fifo` API (`fifo_api_function`, :4171-4314): `list [<fifo>]` and `count
    /// [<fifo>]`; anything else modelled as mod_fifo's usage error.
    pub fn api(&self, arg: &str) -> String {
        let argv: Vec<&str> = arg.split(' ').filter(|w| !w.is_empty()).take(5).collect();
        let Some(cmd) = argv.first() else {
            return format!("{SYNTAX}\n");
        };
        if cmd.eq_ignore_ascii_case("list") {
            // :4222-4247: every fifo, or the one named (none when unknown), as XML, then "\n".
            let nodes: Vec<(&String, &Node)> = match argv.get(1) {
                None => self.nodes.iter().collect(),
                Some(n) => self.nodes.get_key_value(*n).into_iter().collect(),
            };
            let fifos: Vec<String> = nodes
                .into_iter()
                .map(|(n, node)| list_node(n, node))
                .collect();
            let mut out = String::new();
            element(&mut out, 0, "fifo_report", &[], &fifos);
            return format!("{out}\n");
        }
        if cmd.eq_ignore_ascii_case("count") {
            // :4262-4282: name:consumers:callers:members:ringing:idle consumers, or "none".
            let line = |n: &str, node: &Node| format!("{n}:0:{}:0:0:0\n", node.caller_count());
            return match argv.get(1) {
                None if self.nodes.is_empty() => "none\n".into(),
                None => self.nodes.iter().map(|(n, node)| line(n, node)).collect(),
                Some(n) => self
                    .nodes
                    .get(*n)
                    .map_or_else(|| "none\n".into(), |node| line(n, node)),
            };
        }
        format!("-ERR Usage: {SYNTAX}\n")
    }
}

/// `FIFO_API_SYNTAX` (:4171).
const SYNTAX: &str =
    "list|list_verbose|count|debug|status|has_outbound|importance [<fifo name>]|reparse [del_all]";

fn renumber(list: &mut [Caller], from: usize) {
    for (i, c) in list.iter_mut().enumerate().skip(from) {
        c.set_position(i + 1);
    }
}

/// `list_node` (:4071-4112) for a fifo with no consumers, members or bridges: its
/// attributes, then `<outbound>`, `<callers>` (each `<caller>` of `xml_caller`,
/// :3986-4068, slot by slot), `<consumers>` and `<bridges>`.
fn list_node(name: &str, node: &Node) -> String {
    let count = node.caller_count().to_string();
    let attrs = [
        ("name", name.to_string()),
        ("consumer_count", "0".into()),
        ("caller_count", count.clone()),
        ("waiting_count", count),
        ("importance", node.importance.to_string()),
        ("outbound_per_cycle", "0".into()),
        ("outbound_per_cycle_min", "0".into()),
        ("ring_timeout", "0".into()),
        ("default_lag", "0".into()),
        ("outbound_priority", "0".into()),
        ("outbound_strategy", "ringall".into()),
    ];
    let depth = 1;
    let mut callers = Vec::new();
    for (slot, list) in node.slots.iter().enumerate() {
        for c in list {
            let mut a = vec![("uuid", c.uuid.clone()), ("status", c.status.clone())];
            if let Some(n) = &c.caller_id_name {
                a.push(("caller_id_name", url_encode(n)));
            }
            if let Some(n) = &c.caller_id_number {
                a.push(("caller_id_number", url_encode(n)));
            }
            a.push(("timestamp", c.timestamp.clone()));
            a.push(("position", c.position.to_string()));
            a.push(("slot", slot.to_string()));
            let mut e = String::new();
            element(&mut e, depth + 2, "caller", &a, &[]);
            callers.push(e);
        }
    }
    let mut parts = Vec::new();
    for (tag, kids) in [
        ("outbound", Vec::new()),
        ("callers", callers),
        ("consumers", Vec::new()),
        ("bridges", Vec::new()),
    ] {
        let mut e = String::new();
        element(&mut e, depth + 1, tag, &[], &kids);
        parts.push(e);
    }
    let mut out = String::new();
    element(&mut out, depth, "fifo", &attrs, &parts);
    out
}

/// The `fifo` application for a caller, `fifo <name>[!<importance>] in [announce] [music]
/// [noans|early]` (`fifo_function`, :2555-2894). The caller is pushed into its slot and
/// waits; what the test scripted for the call ends the wait after `sim_queue_wait_secs`
/// (default 60) of the simulator's clock: a key of `fifo_caller_exit_key` (others are
/// ignored, `moh_on_dtmf` :468-489), a hangup, or — with nothing scripted — the orbit's
/// timeout when `fifo_orbit_exten` sets one (:2703-2716, default 60 s) and otherwise the
/// caller hanging up. Returns whether the application ran.
pub fn caller_waits(s: &std::sync::Arc<crate::core::SimSession>, arg: &str) -> bool {
    use crate::core::{self, lock, state, Act};
    // :2592-2605: a name and `in` (or `out`, not modelled) are required.
    let argv: Vec<&str> = arg.split(' ').filter(|w| !w.is_empty()).collect();
    let (Some(name_arg), Some(inout)) = (argv.first(), argv.get(1)) else {
        return true;
    };
    if !inout.eq_ignore_ascii_case("in") || name_arg.contains(',') {
        return true;
    }
    // :2621-2629: `name!importance`.
    let (name, importance) = match name_arg.rsplit_once('!') {
        Some((n, i)) => (n.to_string(), i.parse::<i64>().unwrap_or(0).max(0) as u32),
        None => (name_arg.to_string(), 0),
    };
    // :2586: cleared on entry.
    lock(&s.vars).remove("fifo_hangup_check");
    let answer = argv
        .get(4)
        .is_none_or(|a| !a.eq_ignore_ascii_case("noans") && !a.eq_ignore_ascii_case("early"));
    if answer {
        // :2725-2727.
        s.answered.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let exit_keys = s.var("fifo_caller_exit_key").unwrap_or_default();
    // :2703-2716: `fifo_orbit_exten=<exten>[:<secs>]`, 60 s when no (or a negative) number.
    let orbit = s.var("fifo_orbit_exten").map(|o| match o.split_once(':') {
        Some((ext, secs)) => {
            let to = secs.trim().parse::<i64>().unwrap_or(0);
            (ext.to_string(), if to < 0 { 60 } else { to })
        }
        None => (o, 60),
    });
    let priority = s.var("fifo_priority");
    let slot = slot_of(priority.as_deref());
    let stamp = local_stamp(core::now());
    let position = state().fifo.push(
        &name,
        importance,
        slot,
        Caller {
            uuid: s.uuid(),
            caller_id_name: s.var("caller_id_name"),
            caller_id_number: s.var("caller_id_number"),
            status: "WAITING".into(),
            timestamp: stamp.clone(),
            position: 0,
            session: Some(s.clone()),
        },
    );
    // :2757-2775.
    s.set("fifo_position", &position.to_string());
    if priority.is_none() {
        s.set("fifo_priority", &slot.to_string());
    }
    s.set("fifo_status", "WAITING");
    s.set("fifo_timestamp", &stamp);
    s.set("fifo_push_timestamp", &stamp);
    lock(&s.vars).remove("fifo_serviced_uuid");

    let wait: i64 = s
        .var("sim_queue_wait_secs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut do_orbit = false;
    match &orbit {
        // The orbit's timeout comes before the caller acts (:547-560, checked on each frame).
        Some((_, to)) if *to < wait => {
            core::advance(chrono::Duration::seconds(*to));
            do_orbit = true;
        }
        _ => {
            // While the caller waits, mod_fifo plays the hold music with `moh_on_dtmf` as
            // the input callback (:2789-2830; without music, `collect_digits_callback`,
            // :2817); broadcasts and queued keys as in [`crate::hold`], a queued exit key
            // ending the wait as a pressed one does (:475-480, :2825-2828). Not modelled:
            // the private events mod_fifo flushes each time its music restarts (:2812),
            // which endless `local_stream` music avoids.
            let by_key = crate::hold::wait_on_hold(s, wait, &exit_keys);
            if let Some(k) = by_key {
                s.set("fifo_caller_exit_key", &k.to_string());
            }
            while by_key.is_none() {
                let act = lock(&s.acts).pop_front();
                match act {
                    Some(Act::Press(keys)) => {
                        // :2825-2828: the key pressed replaces the variable's list of keys.
                        if let Some(k) = keys.chars().find(|k| exit_keys.contains(*k)) {
                            s.set("fifo_caller_exit_key", &k.to_string());
                            break;
                        }
                    }
                    Some(Act::Hangup) => {
                        s.hang_up();
                        break;
                    }
                    // Nothing more scripted: the orbit's timeout, else the caller gives up.
                    None => {
                        match &orbit {
                            Some((_, to)) => {
                                core::advance(chrono::Duration::seconds(to - wait));
                                do_orbit = true;
                            }
                            None => s.hang_up(),
                        }
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
    }
    // :2857-2879: left without being served: ABORTED (TIMEOUT for the orbit), the time it
    // left, and out of the fifo.
    s.set("fifo_status", if do_orbit { "TIMEOUT" } else { "ABORTED" });
    s.set("fifo_timestamp", &local_stamp(core::now()));
    state().fifo.remove(&name, &s.uuid());
    // :2882-2890: to the orbit extension (after the key with `fifo_caller_exit_to_orbit`);
    // `_continue_` goes on with the dialplan. A transfer elsewhere is not modelled: noted.
    let to_orbit = do_orbit
        || s.var("fifo_caller_exit_to_orbit").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
        });
    if let Some((ext, _)) = orbit.filter(|_| to_orbit) {
        if ext != "_continue_" {
            s.set("sim_transferred_to", &ext);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uuid: &str, stamp: &str) -> Caller {
        Caller {
            uuid: uuid.into(),
            caller_id_name: Some("Ann Lee".into()),
            caller_id_number: Some("+12125550161".into()),
            status: "WAITING".into(),
            timestamp: stamp.into(),
            position: 0,
            session: None,
        }
    }

    #[test]
    fn fifo_list_prints_the_report_as_switch_xml_toxml_does() {
        // Indented by two spaces, empty containers as open/close pairs, url-encoded caller
        // ID, slot 0's callers before slot 3's, and the API's own trailing newline.
        let mut f = Fifo::new();
        f.push("support", 0, 3, caller("b", "2026-11-23 14:00:05"));
        f.push("support", 0, 0, caller("a", "2026-11-23 14:00:09"));
        let want = "<fifo_report>\n  <fifo name=\"support\" consumer_count=\"0\" caller_count=\"2\" waiting_count=\"2\" importance=\"0\" outbound_per_cycle=\"0\" outbound_per_cycle_min=\"0\" ring_timeout=\"0\" default_lag=\"0\" outbound_priority=\"0\" outbound_strategy=\"ringall\">\n    <outbound></outbound>\n    <callers>\n      <caller uuid=\"a\" status=\"WAITING\" caller_id_name=\"Ann%20Lee\" caller_id_number=\"%2B12125550161\" timestamp=\"2026-11-23 14:00:09\" position=\"1\" slot=\"0\"></caller>\n      <caller uuid=\"b\" status=\"WAITING\" caller_id_name=\"Ann%20Lee\" caller_id_number=\"%2B12125550161\" timestamp=\"2026-11-23 14:00:05\" position=\"1\" slot=\"3\"></caller>\n    </callers>\n    <consumers></consumers>\n    <bridges></bridges>\n  </fifo>\n</fifo_report>\n\n";
        assert_eq!(f.api("list support"), want);
        assert_eq!(f.api("list nosuch"), "<fifo_report></fifo_report>\n\n");
        assert_eq!(f.api("count support"), "support:0:2:0:0:0\n");
        assert_eq!(f.api("count nosuch"), "none\n");
    }

    #[test]
    fn a_consumer_takes_the_lowest_slot_first_and_the_callers_behind_move_up() {
        // Slot 0 before slot 1; in a slot the first pushed; positions renumbered.
        let mut f = Fifo::new();
        f.push("q", 0, 1, caller("late-low", "t"));
        f.push("q", 0, 0, caller("first", "t"));
        f.push("q", 0, 0, caller("second", "t"));
        assert_eq!(f.pop("q").as_deref(), Some("first"));
        assert_eq!(f.nodes["q"].slots[0][0].position, 1);
        assert_eq!(f.pop("q").as_deref(), Some("second"));
        assert_eq!(f.pop("q").as_deref(), Some("late-low"));
        assert_eq!(f.pop("q"), None);
    }
}
