//! Building FreeSWITCH command lines for a leg. The dial string is code: `,` `|` `:` `^`
//! `{}` `[]` `<>` quotes, spaces and `${...}` all change its meaning. So every piece is
//! checked against a narrow alphabet *before* anything is assembled, and a refused piece
//! names the field; free text never gets here (the agent-leg application reads it from the
//! store by callback id).

use callback_core::config::endpoint_problem;
use callback_core::host::{LegRequest, Target};
use callback_core::number::is_e164;

/// A piece of a leg that must not go into a command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to build a dial string: {field} {why}")]
pub struct DialError {
    pub field: String,
    pub why: &'static str,
}

fn refuse(field: impl Into<String>, why: &'static str) -> DialError {
    DialError {
        field: field.into(),
        why,
    }
}

fn check(
    field: &str,
    value: &str,
    max: usize,
    ok: impl Fn(u8) -> bool,
    why: &'static str,
) -> Result<(), DialError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(ok) {
        return Err(refuse(field, why));
    }
    Ok(())
}

fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'@')
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A configured endpoint such as `user/1001`, `sofia/internal/1001@10.0.0.5:5060` or
/// `loopback/9000`: the admin's, checked by the same rule the configuration used
/// ([`endpoint_problem`]), again here because this is where the line is assembled.
fn endpoint(field: &str, value: &str) -> Result<(), DialError> {
    match endpoint_problem(value) {
        Some(why) => Err(refuse(field, why)),
        None => Ok(()),
    }
}

/// An agent's name (configured, or mod_callcenter's `1001@default`): a short token, so
/// it can be one word of a command line.
pub fn check_agent(id: &str) -> Result<(), DialError> {
    check("agent id", id, 64, token_byte, "must be a short token")
}

/// A call uuid: hex digits and dashes.
pub fn check_uuid(uuid: &str) -> Result<(), DialError> {
    check(
        "uuid",
        uuid,
        64,
        |b| b.is_ascii_hexdigit() || b == b'-',
        "must be hex digits and dashes",
    )
}

/// A hangup cause: `NORMAL_CLEARING`, `USER_BUSY`, ...
pub fn check_cause(cause: &str) -> Result<(), DialError> {
    check(
        "cause",
        cause,
        48,
        |b| b.is_ascii_uppercase() || b == b'_',
        "must be an upper-case cause name",
    )
}

/// An application and its argument for a command line: a name of letters, digits and
/// `_`, and digits (a callback id) or nothing.
pub fn check_app(name: &str, arg: &str) -> Result<(), DialError> {
    check(
        "application",
        name,
        64,
        name_byte,
        "must be letters, digits and _",
    )?;
    if !arg.is_empty() {
        check(
            "application argument",
            arg,
            20,
            |b| b.is_ascii_digit(),
            "must be digits",
        )?;
    }
    Ok(())
}

/// The dial target of a leg, from a configured template and validated digits.
///
/// Customer gateways: `{e164}` in the template is replaced by the number with its `+`,
/// `{digits}` without it; a template without either gets the E.164 number appended.
pub fn target(t: &Target) -> Result<String, DialError> {
    match t {
        Target::Agent { id, dial } => {
            check_agent(id)?;
            endpoint("agent dial template", dial)?;
            Ok(dial.clone())
        }
        Target::Customer { e164, gateway } => {
            if !is_e164(e164) {
                return Err(refuse(
                    "customer number",
                    "must be E.164 (+ and 8-15 digits)",
                ));
            }
            let digits = &e164[1..];
            let dial = if gateway.contains("{e164}") || gateway.contains("{digits}") {
                gateway.replace("{e164}", e164).replace("{digits}", digits)
            } else {
                format!("{gateway}{e164}")
            };
            // The number is E.164 digits, so whatever the whole fails on is the template's.
            endpoint("gateway template", &dial)?;
            Ok(dial)
        }
    }
}

/// The argument of the `bridge` application for a customer `leg`: `{vars}target`, with
/// `uuid` as the leg's `origination_uuid`.
pub fn bridge_args(leg: &LegRequest, uuid: &str) -> Result<String, DialError> {
    let line = originate_args(leg, uuid)?;
    // The same checked pieces, without the application part.
    match line.rsplit_once(' ') {
        Some((dial, _app)) => Ok(dial.to_string()),
        None => Err(refuse("dial string", "has no target")),
    }
}

/// The argument of the `originate` API command for `leg`, with `uuid` as the leg's
/// `origination_uuid`: `{vars}target &app(arg)`.
pub fn originate_args(leg: &LegRequest, uuid: &str) -> Result<String, DialError> {
    check_uuid(uuid)?;
    if leg.timeout_secs == 0 || leg.timeout_secs > 3600 {
        return Err(refuse("timeout", "must be 1-3600 seconds"));
    }
    check(
        "caller id name",
        &leg.caller_id_name,
        64,
        token_byte,
        "must be a short token (letters, digits, _ - . + @)",
    )?;
    let cid = leg
        .caller_id_number
        .strip_prefix('+')
        .unwrap_or(&leg.caller_id_number);
    check(
        "caller id number",
        cid,
        15,
        |b| b.is_ascii_digit(),
        "must be digits (optionally after +)",
    )?;
    let mut vars = vec![
        format!("origination_uuid={uuid}"),
        format!("originate_timeout={}", leg.timeout_secs),
        "ignore_early_media=true".to_string(),
        format!("origination_caller_id_name={}", leg.caller_id_name),
        format!("origination_caller_id_number={}", leg.caller_id_number),
        format!("callback_id={}", leg.callback_id),
        format!("callback_leg={}", leg.leg.as_str()),
    ];
    for (k, v) in &leg.variables {
        check(
            &format!("variable name '{k}'"),
            k,
            64,
            name_byte,
            "must be letters, digits and _",
        )
        .map_err(|e| refuse(e.field, e.why))?;
        check(
            &format!("variable {k}"),
            v,
            128,
            token_byte,
            "must be a short token (letters, digits, _ - . + @)",
        )?;
        vars.push(format!("{k}={v}"));
    }
    let target = target(&leg.target)?;
    let app = match &leg.application {
        Some((name, arg)) => {
            check_app(name, arg)?;
            format!("&{name}({arg})")
        }
        None => "&park()".to_string(),
    };
    let line = format!("{{{}}}{target} {app}", vars.join(","));
    // Belt and braces: nothing that expands or separates may have slipped through.
    if line.contains("${") || line.bytes().any(|b| b < 0x20 || b == b'\'' || b == b'"') {
        return Err(refuse(
            "dial string",
            "holds an expansion or control character",
        ));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use callback_core::model::Leg;

    const UUID: &str = "0b6c7c1e-1111-4222-8333-444455556666";

    fn leg(target: Target) -> LegRequest {
        LegRequest {
            callback_id: 42,
            leg: Leg::Customer,
            target,
            timeout_secs: 30,
            caller_id_name: "Callback".into(),
            caller_id_number: "+12125550100".into(),
            variables: vec![("callback_type".into(), "delayed".into())],
            application: Some(("callback_agent".into(), "42".into())),
            ringback: Some("%(2000,4000,440,480)".into()),
            uuid: None,
        }
    }

    fn customer(e164: &str, gateway: &str) -> Target {
        Target::Customer {
            e164: e164.into(),
            gateway: gateway.into(),
        }
    }

    /// Text an attacker would try: every one changes the meaning of a dial string.
    const ATTACKS: &[&str] = &[
        ",",
        "|",
        "^",
        "{",
        "}",
        "[",
        "]",
        "<",
        ">",
        "${system(rm -rf /)}",
        "'",
        "\"",
        " ",
        "\n",
        "\0",
        ":",
        "a,b=c",
        "x}sofia/gateway/evil/1{",
        "$${x}",
        "\r",
        "\t",
    ];

    #[test]
    fn a_clean_leg_becomes_one_originate_line() {
        // Validated digits and configured templates give the documented originate argument.
        let line = originate_args(
            &leg(customer("+12125550142", "sofia/gateway/pstn/{digits}")),
            UUID,
        )
        .unwrap();
        assert_eq!(
            line,
            "{origination_uuid=0b6c7c1e-1111-4222-8333-444455556666,originate_timeout=30,\
             ignore_early_media=true,origination_caller_id_name=Callback,\
             origination_caller_id_number=+12125550100,callback_id=42,callback_leg=customer,\
             callback_type=delayed}sofia/gateway/pstn/12125550142 &callback_agent(42)"
        );
        let agent = Target::Agent {
            id: "1001".into(),
            dial: "user/1001@default".into(),
        };
        let mut l = leg(agent);
        l.application = None;
        assert!(originate_args(&l, UUID)
            .unwrap()
            .ends_with("}user/1001@default &park()"));
        assert_eq!(
            target(&customer("+4930123456", "sofia/gateway/de/")).unwrap(),
            "sofia/gateway/de/+4930123456"
        );
    }

    #[test]
    fn the_endpoints_an_admin_writes_go_through_unchanged() {
        // Ports, domains, URI parameters, loopback and verto forms are the admin's to write.
        for dial in [
            "sofia/internal/1001@10.0.0.5:5060",
            "sofia/internal/sip:1001@pbx.example.com:5080;transport=tcp",
            "sofia/internal/1001%pbx.example.com",
            "user/1001@pbx.example.com",
            "loopback/9000/default",
            "verto.rtc/u:3f2a9c1e-0000-4000-8000-000000000001",
        ] {
            let t = Target::Agent {
                id: "1001".into(),
                dial: dial.into(),
            };
            assert_eq!(target(&t).unwrap(), dial);
            let mut l = leg(t);
            l.application = None;
            assert!(originate_args(&l, UUID)
                .unwrap()
                .ends_with(&format!("}}{dial} &park()")));
        }
        assert_eq!(
            target(&customer(
                "+12125550142",
                "sofia/external/{digits}@203.0.113.7:5080"
            ))
            .unwrap(),
            "sofia/external/12125550142@203.0.113.7:5080"
        );
        assert_eq!(
            target(&customer(
                "+12125550142",
                "sofia/external/{e164}@sip.carrier.example:5061;transport=tls"
            ))
            .unwrap(),
            "sofia/external/+12125550142@sip.carrier.example:5061;transport=tls"
        );
        // ...but not a second leg through the enterprise separator, nor a colon in the
        // customer's number.
        let err = target(&Target::Agent {
            id: "1001".into(),
            dial: "user/1001:_:user/1002".into(),
        })
        .unwrap_err();
        assert_eq!(err.field, "agent dial template");
        let err = target(&customer("+1212:5550142", "sofia/internal/{digits}@h:5060")).unwrap_err();
        assert_eq!(err.field, "customer number");
    }

    #[test]
    fn injection_attempts_are_refused_before_any_command_is_formed() {
        // Each dangerous character or expansion, in each field, is refused with the field named.
        for bad in ATTACKS {
            let cases: Vec<(&str, LegRequest)> = vec![
                (
                    "customer number",
                    leg(customer(
                        &format!("+1212555{bad}0142"),
                        "sofia/gateway/pstn/",
                    )),
                ),
                (
                    "gateway template",
                    leg(customer("+12125550142", &format!("sofia/gateway/{bad}/"))),
                ),
                (
                    "agent dial template",
                    leg(Target::Agent {
                        id: "a1".into(),
                        dial: format!("user/10{bad}01"),
                    }),
                ),
                (
                    "agent id",
                    leg(Target::Agent {
                        id: format!("a{bad}1"),
                        dial: "user/1001".into(),
                    }),
                ),
                ("caller id name", {
                    let mut l = leg(customer("+12125550142", "x/"));
                    l.caller_id_name = format!("Call{bad}back");
                    l
                }),
                ("caller id number", {
                    let mut l = leg(customer("+12125550142", "x/"));
                    l.caller_id_number = format!("+1212{bad}");
                    l
                }),
                ("variable", {
                    let mut l = leg(customer("+12125550142", "x/"));
                    l.variables = vec![("note".into(), format!("hi{bad}there"))];
                    l
                }),
                ("variable name", {
                    let mut l = leg(customer("+12125550142", "x/"));
                    l.variables = vec![(format!("n{bad}"), "v".into())];
                    l
                }),
                ("application", {
                    let mut l = leg(customer("+12125550142", "x/"));
                    l.application = Some((format!("app{bad}"), "1".into()));
                    l
                }),
                ("application argument", {
                    let mut l = leg(customer("+12125550142", "x/"));
                    l.application = Some(("callback_agent".into(), format!("1{bad}")));
                    l
                }),
            ];
            for (field, l) in cases {
                // An admin's endpoint may hold ':' (host:port, sip:, verto's u:...);
                // everywhere else it is refused.
                if *bad == ":" && field.ends_with("template") {
                    continue;
                }
                let err = originate_args(&l, UUID)
                    .expect_err(&format!("{field} with {bad:?} must be refused"));
                assert!(
                    err.field.starts_with(field),
                    "{field} with {bad:?}: blamed {}",
                    err.field
                );
            }
            assert!(originate_args(
                &leg(customer("+12125550142", "x/")),
                &format!("{UUID}{bad}")
            )
            .is_err());
            assert!(check_uuid(&format!("abc{bad}")).is_err());
            assert!(check_cause(&format!("NORMAL{bad}")).is_err());
        }
    }
}
