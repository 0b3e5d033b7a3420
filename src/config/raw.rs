//! `callback.conf.xml` read into plain key/values, in FreeSWITCH's autoload_configs form:
//!
//! ```xml
//! <configuration name="callback.conf" description="Customer callbacks">
//!   <settings><param name="default-region" value="DE"/></settings>
//!   <queues><queue name="sales"><param name="hours" value="mon-fri 09:00-17:00"/></queue></queues>
//! </configuration>
//! ```
//!
//! Only the shape is checked here; the meaning of each key is checked in [`super::Config`].

use super::ConfigError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// One `<param name=".." value=".."/>`, with the line it stands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// A named item of a group, e.g. `<queue name="sales">` inside `<queues>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The group element: `queues`.
    pub group: String,
    /// The item element: `queue`.
    pub kind: String,
    pub name: String,
    pub params: Vec<Param>,
    pub line: usize,
}

/// The file as key/values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    pub settings: Vec<Param>,
    pub sections: Vec<Section>,
}

/// Line numbers of byte positions, counted incrementally: the reader only moves forward,
/// so each position costs the bytes since the last one, and the whole file is read once
/// (counting from the start for every element made a file of 20,000 queues take minutes).
struct Lines<'t> {
    text: &'t [u8],
    pos: usize,
    line: usize,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte `pos`.
    fn at(&mut self, pos: u64) -> usize {
        let end = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if end < self.pos {
            // Backwards (never in practice): count again from the start.
            self.pos = 0;
            self.line = 1;
        }
        self.line += self.text[self.pos..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.pos = end;
        self.line
    }
}

fn attr(e: &BytesStart<'_>, key: &str, line: usize) -> Result<Option<String>, ConfigError> {
    for a in e.attributes() {
        let a = a.map_err(|err| ConfigError::new(format!("line {line}"), err.to_string()))?;
        if a.key.as_ref() == key {
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| ConfigError::new(format!("line {line}"), err.to_string()))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn param(e: &BytesStart<'_>, line: usize) -> Result<Param, ConfigError> {
    let at = format!("line {line}");
    let name = attr(e, "name", line)?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ConfigError::new(&at, "<param> needs a name attribute"))?;
    let value = attr(e, "value", line)?.ok_or_else(|| {
        ConfigError::new(
            &at,
            format!("<param name=\"{name}\"> needs a value attribute"),
        )
    })?;
    if value.contains("$${") {
        return Err(ConfigError::new(
            &at,
            format!("param '{name}': preprocessor variables ($${{...}}) are not expanded in this file; write the value itself"),
        ));
    }
    Ok(Param {
        name: name.trim().to_string(),
        value: value.trim().to_string(),
        line,
    })
}

/// Reads the file's text into key/values, or says where it is malformed.
pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut raw = RawConfig::default();
    let mut lines = Lines::new(text);
    // The open elements, outermost first.
    let mut path: Vec<String> = Vec::new();
    let mut saw_root = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            ConfigError::new(
                format!("line {}", lines.at(reader.error_position())),
                format!("malformed XML: {e}"),
            )
        })?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof => break,
            Event::Text(t) if !t.as_ref().trim().is_empty() => {
                return Err(ConfigError::new(
                    format!("line {}", lines.at(pos)),
                    "unexpected text outside an element's attributes",
                ))
            }
            _ => continue,
        };
        let Some(e) = start else { continue };
        // Trimmed whitespace makes the position before the read point at the previous
        // element: the element's own '<' is the last one before the end of the event.
        let end = usize::try_from(reader.buffer_position())
            .unwrap_or(usize::MAX)
            .min(text.len());
        // In bytes: the reader's position may fall inside a multi-byte character of a
        // broken file (found by fuzzing), where slicing the str would panic.
        let pos = text.as_bytes()[..end]
            .iter()
            .rposition(|b| *b == b'<')
            .map_or(pos, |p| p as u64);
        let name = e.name().as_ref().to_string();
        let line = lines.at(pos);
        let at = format!("line {line}");
        match (path.len(), name.as_str()) {
            (0, "configuration") => saw_root = true,
            (0, other) => {
                return Err(ConfigError::new(
                    at,
                    format!("the root element must be <configuration>, not <{other}>"),
                ))
            }
            (1, "settings") => {}
            (1, _group) => {}
            (2, "param") if path[1] == "settings" => raw.settings.push(param(&e, line)?),
            (2, kind) if path[1] != "settings" => {
                let item = attr(&e, "name", line)?
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| {
                        ConfigError::new(
                            &at,
                            format!("<{kind}> in <{}> needs a name attribute", path[1]),
                        )
                    })?;
                raw.sections.push(Section {
                    group: path[1].clone(),
                    kind: kind.to_string(),
                    name: item.trim().to_string(),
                    params: Vec::new(),
                    line,
                });
            }
            (3, "param") if path[1] != "settings" => {
                let p = param(&e, line)?;
                if let Some(section) = raw.sections.last_mut() {
                    section.params.push(p);
                }
            }
            (_, other) => {
                let parent = path.last().map(String::as_str).unwrap_or("");
                return Err(ConfigError::new(
                    at,
                    format!("unexpected <{other}> inside <{parent}>"),
                ));
            }
        }
        if !empty {
            path.push(name);
        }
    }
    if !saw_root {
        return Err(ConfigError::new(
            "line 1",
            "no <configuration> element found",
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_named_sections() {
        // The autoload_configs shape becomes settings plus named sections with line numbers.
        let raw = parse(
            r#"<configuration name="callback.conf">
  <!-- a comment -->
  <settings>
    <param name="default-region" value=" DE "/>
  </settings>
  <queues>
    <queue name="sales">
      <param name="hours" value="mon-fri 09:00-17:00"/>
    </queue>
    <queue name="support"/>
  </queues>
</configuration>"#,
        )
        .unwrap();
        assert_eq!(
            raw.settings,
            vec![Param {
                name: "default-region".into(),
                value: "DE".into(),
                line: 4
            }]
        );
        assert_eq!(raw.sections.len(), 2);
        assert_eq!(raw.sections[0].group, "queues");
        assert_eq!(raw.sections[0].kind, "queue");
        assert_eq!(raw.sections[0].name, "sales");
        assert_eq!(raw.sections[0].params[0].value, "mon-fri 09:00-17:00");
        assert_eq!(raw.sections[0].params[0].line, 8);
        assert!(raw.sections[1].params.is_empty());
    }

    #[test]
    fn malformed_files_say_where() {
        // Broken XML, a nameless param and preprocessor variables are refused with a line.
        let e = parse("<configuration><settings><param name=\"x\" value=\"1\"></settings>")
            .unwrap_err();
        assert!(e.to_string().contains("malformed XML"), "{e}");
        let e =
            parse("<configuration>\n<settings>\n<param value=\"1\"/></settings></configuration>")
                .unwrap_err();
        assert_eq!(e.to_string(), "line 3: <param> needs a name attribute");
        let e = parse("<configuration><settings><param name=\"db-path\" value=\"$${db_dir}/cb.db\"/></settings></configuration>").unwrap_err();
        assert!(e.to_string().contains("preprocessor variables"), "{e}");
        let e = parse("<config/>").unwrap_err();
        assert!(
            e.to_string()
                .contains("root element must be <configuration>"),
            "{e}"
        );
        let e = parse("<configuration><queues><queue/></queues></configuration>").unwrap_err();
        assert!(
            e.to_string().contains("<queue> in <queues> needs a name"),
            "{e}"
        );
    }
}
