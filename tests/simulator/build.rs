// The simulator plays the FreeSWITCH core: mod_callback.so resolves its `switch_*` symbols
// against the executable at dlopen (RTLD_NOW), so they must be in its dynamic symbol table.
fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-arg-tests=-rdynamic");
    println!("cargo:rustc-link-arg-benches=-rdynamic");
}
