// Only the module table is a global dynamic symbol of mod_callback.so: everything else
// (Rust's own exported symbols included) stays local, so the module cannot interpose on
// anything the PBX or another module defines.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=exports.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/exports.map");
}
