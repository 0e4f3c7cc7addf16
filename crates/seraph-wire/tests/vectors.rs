//! Every frame captured from New Relic's PHP agent 12.9.0
//! (`tests/vectors/`) must decode, and decode to exactly the
//! JSON stored beside it.

use seraph_wire::frame::{FrameDecoder, PREAMBLE_LEN};
use seraph_wire::message::Body;
use seraph_wire::{decode, json, AppInfo, AppReplyInfo, TransactionData};
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn frames() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("vectors dir readable") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "bin") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&vectors_dir(), &mut out);
    out.sort();
    out
}

#[test]
fn every_captured_frame_decodes_to_its_json() {
    let frames = frames();
    assert!(
        frames.len() >= 30,
        "expected the captured vectors, found {} frames under {}",
        frames.len(),
        vectors_dir().display()
    );
    for path in frames {
        let bytes = std::fs::read(&path).unwrap();
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        let frame = FrameDecoder::default()
            .decode(&mut buf)
            .unwrap()
            .unwrap_or_else(|| panic!("{}: incomplete frame", path.display()));
        assert!(buf.is_empty(), "{}: trailing bytes", path.display());
        assert_eq!(frame.format, 2);
        assert_eq!(frame.body.len() + PREAMBLE_LEN, bytes.len());
        let mut scratch = Vec::new();
        let msg =
            decode(&frame.body, &mut scratch).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
        let got = json::to_json(&msg);
        assert_eq!(got, want, "{}", path.display());
        // The unverified envelope agrees with the verified message.
        let envelope = seraph_wire::peek(&frame.body).unwrap();
        assert_eq!(
            envelope.agent_run_id,
            msg.agent_run_id,
            "{}",
            path.display()
        );
        assert_eq!(
            json::to_json(&msg)["data_type"],
            serde_json::Value::from(match envelope.kind {
                1 => "App",
                2 => "AppReply",
                3 => "Transaction",
                _ => "?",
            })
        );
    }
}

#[test]
fn captured_frames_survive_an_owned_round_trip() {
    for path in frames() {
        let bytes = std::fs::read(&path).unwrap();
        let mut scratch = Vec::new();
        let msg = decode(&bytes[PREAMBLE_LEN..], &mut scratch).unwrap();
        let reencoded = match msg.body {
            Body::App(a) => AppInfo::from_fb(&a).encode(msg.agent_run_id),
            Body::AppReply(r) => AppReplyInfo::from_fb(&r).encode(),
            Body::Transaction(t) => seraph_wire::encode_transaction(
                msg.agent_run_id.unwrap(),
                &TransactionData::from_fb(&t),
            ),
            other => panic!("{}: unexpected {}", path.display(), other.kind()),
        };
        let mut scratch2 = Vec::new();
        let again = decode(&reencoded, &mut scratch2).unwrap();
        assert_eq!(
            json::to_json(&again),
            json::to_json(&msg),
            "{}",
            path.display()
        );
    }
}

#[test]
fn truncated_and_corrupted_frames_are_errors() {
    for path in frames() {
        let bytes = std::fs::read(&path).unwrap();
        let body = &bytes[PREAMBLE_LEN..];
        // Every truncation is either refused or still a consistent message.
        for cut in (0..body.len()).step_by(97) {
            let _ = decode(&body[..cut], &mut Vec::new());
        }
        // Flip bytes one at a time through the vtable region: never a panic.
        let mut copy = body.to_vec();
        for i in 0..copy.len().min(256) {
            copy[i] ^= 0x5a;
            let _ = seraph_wire::peek(&copy);
            let mut scratch = Vec::new();
            if let Ok(msg) = decode(&copy, &mut scratch) {
                let _ = json::to_json(&msg);
            }
            copy[i] ^= 0x5a;
        }
    }
}
