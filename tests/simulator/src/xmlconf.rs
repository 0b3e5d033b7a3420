//! FreeSWITCH's XML configuration registry, as far as a module reading its own
//! configuration sees it (`switch_xml_open_cfg`, src/switch_xml.c:2499-2513 at v1.10.12):
//!
//! - a binding (mod_xml_curl) is asked first (`switch_xml_locate`, :1757-1800): here a text
//!   a test sets with [`crate::Sim::xml_binding`];
//! - otherwise the registry made at start from `<conf_dir>/freeswitch.xml` by the
//!   preprocessor (`preprocess`, :1424-1640): lines of `<include>`, `</include>` and
//!   `<?...?>` are dropped (:1473-1476), lines of `<X-PRE-PROCESS cmd="set"
//!   data="name=value"/>` set a global variable (:1536-1553), `cmd="include"` inlines the
//!   files a glob names relative to the conf directory (:1561-1562, `preprocess_glob`
//!   :1380-1420), and every line has its `$${name}` replaced by the global's value
//!   (`expand_vars`, :1270-1330; an unknown name becomes empty). The stock freeswitch.xml
//!   includes `vars.xml` and then `autoload_configs/*.xml` inside the configuration section
//!   (conf/vanilla/freeswitch.xml:39-42); without a freeswitch.xml the simulator reads
//!   those two the same way;
//! - then the `<configuration name="...">` element is found in the configuration section.
//!
//! Not modelled: `exec`, `exec-set`, `stun-set`, `env-set` and `<!--#...-->` commands, and
//! `reloadxml` (the registry is read at each lookup, which is what a `reloadxml` before the
//! lookup gives).

use crate::core::{global_var, state};
use std::path::Path;

/// The text of `<configuration name="{name}">`, or `None`.
pub fn open_cfg(name: &str) -> Option<String> {
    let binding = state().xml_binding.clone();
    if let Some(text) = binding {
        return find_configuration(&text, name);
    }
    let conf = global_var("conf_dir")?;
    let conf = Path::new(&conf);
    let mut text = String::new();
    if conf.join("freeswitch.xml").is_file() {
        preprocess(conf, &conf.join("freeswitch.xml"), &mut text, 0);
    } else {
        preprocess_glob(conf, "vars.xml", &mut text, 0);
        preprocess_glob(conf, "autoload_configs/*.xml", &mut text, 0);
    }
    find_configuration(&text, name)
}

/// The include depth FreeSWITCH allows (`rlevel > 100` is refused, :1432).
const MAX_DEPTH: usize = 100;

fn preprocess(cwd: &Path, file: &Path, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    for raw in text.lines() {
        // Each line is expanded first (:1461-1465), so a `set` or `include` sees the values.
        let line = expand_vars(raw);
        // `<include>`, `</include>` and `<?xml ...?>` lines are dropped (:1473-1476).
        if line.contains("<include>") || line.contains("</include>") || line.contains("<?") {
            continue;
        }
        if let Some((cmd, data)) = pre_process(&line) {
            match cmd.to_ascii_lowercase().as_str() {
                "set" => {
                    if let Some((k, v)) = data.split_once('=') {
                        let mut st = state();
                        st.globals
                            .insert(k.trim().to_string(), v.trim_start().to_string());
                    }
                }
                "include" => preprocess_glob(cwd, &data, out, depth + 1),
                _ => {}
            }
            continue;
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// `<X-PRE-PROCESS cmd="..." data="..."/>` on a line: its command and data.
fn pre_process(line: &str) -> Option<(String, String)> {
    let at = line.find("<X-PRE-PROCESS")?;
    let rest = &line[at..];
    let attr = |name: &str| {
        let start = rest.find(&format!("{name}=\""))? + name.len() + 2;
        let end = rest[start..].find('"')? + start;
        Some(rest[start..end].to_string())
    };
    Some((attr("cmd")?, attr("data").unwrap_or_default()))
}

/// Includes the files `pattern` names (relative to `cwd` unless absolute), in name order;
/// `*` in the file name part matches any run of characters.
fn preprocess_glob(cwd: &Path, pattern: &str, out: &mut String, depth: usize) {
    let full = if Path::new(pattern).is_absolute() {
        Path::new(pattern).to_path_buf()
    } else {
        cwd.join(pattern)
    };
    let (Some(dir), Some(file)) = (full.parent(), full.file_name().and_then(|f| f.to_str())) else {
        return;
    };
    if !file.contains('*') {
        preprocess(cwd, &full, out, depth);
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| glob_match(file, n))
        .collect();
    names.sort();
    for n in names {
        preprocess(cwd, &dir.join(n), out, depth);
    }
}

fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            if tail.contains('*') {
                (0..=rest.len())
                    .filter(|i| rest.is_char_boundary(*i))
                    .any(|i| glob_match(tail, &rest[i..]))
            } else {
                rest.len() >= tail.len() && rest.ends_with(tail)
            }
        }
    }
}

/// `$${name}` replaced by the global's value (empty when unset).
fn expand_vars(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("$${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&global_var(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `<configuration name="{name}" ...>...</configuration>` element of `text`.
fn find_configuration(text: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = text[from..].find("<configuration") {
        let start = from + at;
        let tag_end = start + text[start..].find('>')?;
        let tag = &text[start..=tag_end];
        if tag.contains(&format!("name=\"{name}\"")) {
            let end = start + text[start..].find("</configuration>")? + "</configuration>".len();
            return Some(text[start..end].to_string());
        }
        from = tag_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_the_stock_includes_use_them() {
        // autoload_configs/*.xml takes every .xml file and nothing else.
        assert!(glob_match("*.xml", "callback.conf.xml"));
        assert!(!glob_match("*.xml", "callback.conf.xml.bak"));
        assert!(glob_match("vars.xml", "vars.xml"));
        assert!(glob_match("a*b*c", "aXXbYc"));
    }

    #[test]
    fn the_configuration_element_is_found_by_name() {
        // Only the element whose name matches is returned, whole.
        let text = "<document><section name=\"configuration\">\
            <configuration name=\"x.conf\"><a/></configuration>\n\
            <configuration name=\"callback.conf\" description=\"d\"><settings/></configuration>\
            </section></document>";
        assert_eq!(
            find_configuration(text, "callback.conf").as_deref(),
            Some("<configuration name=\"callback.conf\" description=\"d\"><settings/></configuration>")
        );
        assert_eq!(find_configuration(text, "nosuch.conf"), None);
    }
}
