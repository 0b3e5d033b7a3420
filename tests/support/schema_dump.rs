//! A database's schema as plain text, one line per object, so two databases (or a database
//! and a fixture) compare line by line: what a migration step built, not how its text was
//! spelled.
//!
//! SQLite: every `sqlite_master` row (type, name, table, its SQL with comments dropped and
//! white space folded: SQLite keeps the text as it was written, and ALTER TABLE edits that
//! text) and `pragma table_info` of every table. PostgreSQL: every column (type, nullability,
//! default, identity), every index as `pg_indexes` writes it, every constraint as
//! `pg_get_constraintdef` writes it, all from the catalog; the schema's own name is cut out,
//! and the version table (the migration runner's, not a step's) is left out.

#![allow(dead_code)]

use std::path::Path;

/// The SQL text as SQLite keeps it, with what does not change its meaning taken out:
/// `--` comments, and white space (folded to one space, none inside parentheses).
pub fn fold_sql(sql: &str) -> String {
    let no_comments: Vec<&str> = sql
        .lines()
        .map(|l| l.find("--").map_or(l, |at| &l[..at]))
        .collect();
    let folded = no_comments
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    folded
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
}

/// The schema of the SQLite file at `path`.
pub fn sqlite(path: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    let objects: Vec<(String, String, String, Option<String>)> = c
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name, table, sql) in &objects {
        let sql = sql.as_deref().map_or("NULL".to_string(), fold_sql);
        out.push(format!("{kind} {name} on {table}: {sql}"));
    }
    for (kind, table, _, _) in objects.iter().map(|(k, n, t, s)| (k, n, t, s)) {
        if kind != "table" {
            continue;
        }
        let cols: Vec<String> = c
            .prepare(&format!(
                "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .unwrap()
            .query_map([], |r| {
                Ok(format!(
                    "column {table}.{} #{} type={} notnull={} default={} pk={}",
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?.unwrap_or_else(|| "NULL".into()),
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.extend(cols);
    }
    out
}

/// The schema `schema` of the PostgreSQL database `client` is connected to.
pub fn postgres(client: &mut postgres::Client, schema: &str) -> Vec<String> {
    let cut = |s: String| s.replace(&format!("{schema}."), "");
    let mut out = Vec::new();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, ordinal_position::int8, data_type::text,
                    is_nullable::text, column_default::text, is_identity::text,
                    identity_generation::text
             FROM information_schema.columns
             WHERE table_schema = $1 AND table_name <> 'callback_schema'
             ORDER BY table_name, ordinal_position",
            &[&schema],
        )
        .unwrap();
    for r in columns {
        let default: Option<String> = r.get(5);
        let generation: Option<String> = r.get(7);
        out.push(format!(
            "column {}.{} #{} type={} nullable={} default={} identity={} {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i64>(2),
            r.get::<_, String>(3),
            r.get::<_, String>(4),
            cut(default.unwrap_or_else(|| "NULL".into())),
            r.get::<_, String>(6),
            generation.unwrap_or_else(|| "-".into()),
        ));
    }
    let indexes = client
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes
             WHERE schemaname = $1 AND tablename <> 'callback_schema' ORDER BY indexname",
            &[&schema],
        )
        .unwrap();
    for r in indexes {
        out.push(format!(
            "index {}: {}",
            r.get::<_, String>(0),
            cut(r.get::<_, String>(1))
        ));
    }
    let constraints = client
        .query(
            "SELECT t.relname::text, c.conname::text, c.contype::text, pg_get_constraintdef(c.oid)
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = $1 AND t.relname <> 'callback_schema'
             ORDER BY t.relname, c.conname",
            &[&schema],
        )
        .unwrap();
    for r in constraints {
        out.push(format!(
            "constraint {}.{} {}: {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            cut(r.get::<_, String>(3))
        ));
    }
    out
}

/// A fixture of per-step schemas: `== after step N ==` then that schema's lines.
pub fn parse_sections(text: &str) -> Vec<Vec<String>> {
    let mut sections: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("== after step ") {
            sections.push(Vec::new());
        } else if let Some(last) = sections.last_mut() {
            if !line.is_empty() {
                last.push(line.to_string());
            }
        }
    }
    sections
}

/// One section of such a fixture.
pub fn section(step: usize, lines: &[String]) -> String {
    let mut s = format!("== after step {step} ==\n");
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s.push('\n');
    s
}
