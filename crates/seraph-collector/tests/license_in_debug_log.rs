//! The license key never reaches the log, even at trace level. Its own test
//! binary: tracing's per-thread subscriber misses events when other tests
//! register the same callsites concurrently in the same process.

use std::sync::{Arc, Mutex};

use collector_standin::{Fault, StandinConfig};
use seraph_collector::{Method, Outcome};

mod common;
use common::*;

#[test]
fn the_license_key_never_reaches_the_debug_log() {
    use std::io::Write;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let f = Fixture::new(StandinConfig::default()).await;
        let client = f.client();
        let a = connect(&client, &f.app()).await;
        assert!(a.outcome.is_success());
        f.standin.inject(Fault::status(401));
        let mut ep = f.endpoint();
        ep.run_id = Some("1".into());
        let r = client.invoke(&ep, Method::MetricData, b"[]").await;
        assert!(matches!(r.outcome, Outcome::LicenseInvalid));
    });
    let logged = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("license_key=eu..gh"),
        "debug log lacks the obfuscated URL:\n{logged}"
    );
    assert!(
        !logged.contains(LICENSE),
        "full license key logged:\n{logged}"
    );
}
