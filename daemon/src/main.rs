//! `newrelic-daemon`: placeholder until the worker lands.
fn main() {
    println!("newrelic-daemon (seraph) {}", env!("CARGO_PKG_VERSION"));
}
