//! What a worker must know to carry on a run its predecessor connected:
//! the application's App, the collector's connect reply and where the run
//! posts. A respawned or restarted worker restores these runs before it
//! accepts agents, so Transactions carrying their run ids (New Relic's
//! agent keeps sending them for up to 20 s before it asks again) are
//! merged at once instead of being dropped as unknown.
//!
//! Records travel as one JSON object per line, to the watcher (kept in its
//! memory, license included) and into the disk spool's directory (license
//! removed: a record restored from disk waits for the application's next
//! App query to learn it, see the registry).

use super::registry::{AppKey, RunInfo};
use seraph_wire::message::{decode, Body};
use seraph_wire::AppInfo;
use serde::{Deserialize, Serialize};

/// One connected run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The application's opaque id ([`AppKey::spool_id`]): the same with
    /// or without the license in `app`.
    pub app: String,
    /// The agent's App message (FlatBuffers, hex).
    pub app_frame: String,
    /// The run id the collector handed out.
    pub run_id: String,
    /// Where the run's calls go (preconnect's `redirect_host`).
    pub collector_host: String,
    /// The connect reply (`return_value`), verbatim.
    pub connect_reply: String,
    /// `{policy: enabled}` from preconnect, for the AppReply.
    pub security_policies: String,
    /// Unix seconds of the connect.
    pub connect_timestamp: u64,
    /// The `User-Agent` of the run's calls.
    pub user_agent: Option<String>,
}

/// A record that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("unusable run record: {0}")]
pub struct BadRecord(&'static str);

impl RunRecord {
    /// A record of `run`, connected for `info`'s application.
    pub fn new(
        key: &AppKey,
        info: &AppInfo,
        run: &RunInfo,
        collector_host: &str,
        user_agent: Option<&str>,
    ) -> Self {
        RunRecord {
            app: key.spool_id(),
            app_frame: hex(&info.encode(None)),
            run_id: run.run_id.to_string(),
            collector_host: collector_host.to_owned(),
            connect_reply: run.connect_reply.clone(),
            security_policies: run.security_policies.clone(),
            connect_timestamp: run.connect_timestamp,
            user_agent: user_agent.map(str::to_owned),
        }
    }

    /// The App it was connected for (the license is empty in a record read
    /// from disk).
    pub fn app_info(&self) -> Result<AppInfo, BadRecord> {
        let body = unhex(&self.app_frame).ok_or(BadRecord("app_frame is not hex"))?;
        let mut scratch = Vec::new();
        let msg =
            decode(&body, &mut scratch).map_err(|_| BadRecord("app_frame does not decode"))?;
        match msg.body {
            Body::App(app) => Ok(AppInfo::from_fb(&app)),
            _ => Err(BadRecord("app_frame is not an App")),
        }
    }

    /// The same record without the license key, for the disk.
    pub fn without_license(&self) -> Result<RunRecord, BadRecord> {
        let mut info = self.app_info()?;
        info.license.clear();
        Ok(RunRecord {
            app_frame: hex(&info.encode(None)),
            ..self.clone()
        })
    }

    /// One line of JSON (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a line written by [`RunRecord::to_line`].
    pub fn from_line(line: &str) -> Option<RunRecord> {
        serde_json::from_str(line).ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_loses_only_the_license_on_disk() {
        let info = AppInfo {
            license: "0123456789012345678901234567890123456789".into(),
            app_name: "shop;all".into(),
            agent_language: "php".into(),
            settings: r#"{"newrelic.distributed_tracing_enabled":true}"#.into(),
            ..Default::default()
        };
        let key = AppKey::of(&info);
        let run = RunInfo {
            run_id: "R1".into(),
            connect_reply: "{}".into(),
            security_policies: "{}".into(),
            connect_timestamp: 7,
            harvest_frequency: 60,
            sampling_target: 10,
        };
        let rec = RunRecord::new(&key, &info, &run, "c:1", Some("ua"));
        let back = RunRecord::from_line(&rec.to_line()).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.app_info().unwrap(), info);
        let disk = rec.without_license().unwrap();
        let line = disk.to_line();
        assert!(!line.contains(&hex(info.license.as_bytes())));
        let restored = disk.app_info().unwrap();
        assert!(restored.license.is_empty());
        assert_eq!(restored.app_name, info.app_name);
        assert_eq!(disk.app, rec.app, "the app id keeps identifying it");
        assert!(RunRecord::from_line("{").is_none());
        let bad = RunRecord {
            app_frame: "zz".into(),
            ..rec
        };
        assert!(bad.app_info().is_err());
    }
}
