//! Gives the shared library the soname programs record when they link it
//! (`libnewrelic.so`), so an installed copy is found by that name.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnewrelic.so");
    println!("cargo:rerun-if-changed=build.rs");
}
