//! Feeds arbitrary bytes through the daemon's read path: the frame decoder
//! (in random-sized chunks, as a socket delivers them), then message
//! verification and every typed accessor the daemon uses. Nothing may
//! panic, loop or read out of bounds.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use seraph_wire::message::Body;
use seraph_wire::{decode, json, AppInfo, FrameDecoder, TransactionData};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the read size, so short reads are covered too.
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    let mut scratch = Vec::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let _ = seraph_wire::peek(&frame.body);
                    if let Ok(msg) = decode(&frame.body, &mut scratch) {
                        let _ = json::to_json(&msg);
                        match msg.body {
                            Body::App(app) => {
                                let _ = AppInfo::from_fb(&app);
                            }
                            Body::Transaction(txn) => {
                                let _ = TransactionData::from_fb(&txn);
                            }
                            _ => {}
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    // Bodies on their own, without framing.
    if let Ok(msg) = decode(stream, &mut scratch) {
        let _ = json::to_json(&msg);
    }
});
