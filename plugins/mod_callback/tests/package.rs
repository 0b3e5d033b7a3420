//! The Debian package (`package/build-deb.sh`): built from the debug `.so` this test build
//! made, then read back with `dpkg-deb` as apt would see it: where every file goes, the
//! module under the name FreeSWITCH loads, the control fields, the conffiles.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `libmod_callback.so` of this build (`MOD_CALLBACK_SO` overrides): the newest next
/// to this test binary (cargo builds the cdylib with the library it links).
fn built_module() -> PathBuf {
    if let Some(p) = std::env::var_os("MOD_CALLBACK_SO") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = exe
        .ancestors()
        .skip(1)
        .take(3)
        .flat_map(|d| {
            [
                d.join("libmod_callback.so"),
                d.join("deps/libmod_callback.so"),
            ]
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .expect("libmod_callback.so next to the test binary")
}

/// Outside CI a missing tool skips the test (said on stderr); under `CI=true` it fails
/// (`.ci/setup` installs them).
fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing (bash .ci/setup installs it)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_installs_where_a_debian_freeswitch_looks() {
    // One command builds the package; its file list puts mod_callback.so in FreeSWITCH's
    // module directory (never libmod_callback.so), the sample configuration and two
    // dialplans live under /etc/freeswitch as conffiles, every prompt as an 8 kHz file
    // under the default voice's callback/8000/, the examples under the documentation; its
    // control fields name the package, version, architecture, dependencies and how to load
    // it; the installed module still exports the table FreeSWITCH looks up.
    if !["dpkg-deb", "strip", "nm", "espeak-ng", "sox"]
        .iter()
        .all(|t| have(t))
    {
        return;
    }
    let out = std::env::temp_dir().join(format!("callback-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let so = built_module();
    let printed = run(Command::new("sh")
        .arg(root().join("plugins/mod_callback/package/build-deb.sh"))
        .arg("--so")
        .arg(&so)
        .arg("--out")
        .arg(&out)
        // The debug module is large; the test reads the package, it need not be small.
        .env("DEB_COMPRESSION", "none"));
    let deb = PathBuf::from(printed.trim());
    let version = env!("CARGO_PKG_VERSION");
    let arch = run(Command::new("dpkg").arg("--print-architecture"));
    assert_eq!(
        deb,
        out.join(format!(
            "freeswitch-mod-callback_{version}_{}.deb",
            arch.trim()
        ))
    );

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: BTreeSet<String> = listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches('.').to_string())
        .collect();
    for l in listing.lines() {
        assert!(l.contains(" root/root "), "not owned by root: {l}");
    }
    let sounds = "/usr/share/freeswitch/sounds/en/us/callie/callback/8000";
    let doc = "/usr/share/doc/freeswitch-mod-callback";
    let mut wanted: Vec<String> = vec![
        "/usr/lib/freeswitch/mod/mod_callback.so".into(),
        "/etc/freeswitch/autoload_configs/callback.conf.xml".into(),
        "/etc/freeswitch/dialplan/default/callback_ivr.xml".into(),
        "/etc/freeswitch/dialplan/default/callback_capture.xml".into(),
        format!("{doc}/copyright"),
        format!("{doc}/examples/callback.conf.xml"),
        format!("{doc}/examples/make-prompts.sh"),
        format!("{doc}/examples/dialplan/README.md"),
        format!("{sounds}/custom-menu.wav"),
    ];
    for f in [
        "callback_ivr",
        "callback_capture",
        "callback_agent",
        "custom_ivr",
    ] {
        wanted.push(format!("{doc}/examples/dialplan/{f}.xml"));
    }
    for (n, _) in callback_core::ivr::PROMPTS {
        wanted.push(format!("{sounds}/{n}.wav"));
    }
    for (n, _) in callback_core::dispatch::preview::AGENT_PROMPTS {
        wanted.push(format!("{sounds}/agent-{n}.wav"));
    }
    for w in &wanted {
        assert!(files.contains(w), "{w} is not in the package:\n{listing}");
    }
    assert!(
        !files.iter().any(|f| f.contains("libmod_callback")),
        "{listing}"
    );
    assert!(
        files.iter().all(|f| !f.starts_with("/usr/local")),
        "{listing}"
    );

    let field = |name: &str| run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name));
    assert_eq!(field("Package").trim(), "freeswitch-mod-callback");
    assert_eq!(field("Version").trim(), version);
    assert_eq!(field("Architecture").trim(), arch.trim());
    let depends = field("Depends");
    for d in ["libfreeswitch1 (>= 1.10)", "libc6"] {
        assert!(depends.contains(d), "Depends: {depends}");
    }
    let description = field("Description");
    for d in [
        "load mod_callback",
        "<load module=\"mod_callback\"/>",
        "/etc/freeswitch/autoload_configs/modules.conf.xml",
        "/etc/freeswitch/autoload_configs/callback.conf.xml",
    ] {
        assert!(description.contains(d), "{d} not in: {description}");
    }
    let installed: u64 = field("Installed-Size").trim().parse().unwrap();
    assert!(installed > 100, "Installed-Size {installed}");

    let conffiles = run(Command::new("dpkg-deb")
        .arg("--info")
        .arg(&deb)
        .arg("conffiles"));
    let conffiles: BTreeSet<&str> = conffiles.lines().collect();
    assert_eq!(
        conffiles,
        BTreeSet::from([
            "/etc/freeswitch/autoload_configs/callback.conf.xml",
            "/etc/freeswitch/dialplan/default/callback_capture.xml",
            "/etc/freeswitch/dialplan/default/callback_ivr.xml",
        ])
    );

    // The stripped module keeps the data symbol the core looks up (`<name>_module_interface`)
    // and the prompts are what FreeSWITCH plays on a narrowband call.
    let x = out.join("tree");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x));
    let symbols = run(Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(x.join("usr/lib/freeswitch/mod/mod_callback.so")));
    assert!(
        symbols
            .lines()
            .any(|l| l.ends_with(" mod_callback_module_interface")),
        "mod_callback_module_interface is not exported"
    );
    let menu = hound::WavReader::open(x.join(&sounds[1..]).join("agent-menu.wav")).unwrap();
    assert_eq!((menu.spec().sample_rate, menu.spec().channels), (8000, 1));
    let _ = std::fs::remove_dir_all(&out);
}
