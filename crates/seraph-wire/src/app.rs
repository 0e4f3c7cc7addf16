//! The App query (agent → daemon) and AppReply (daemon → agent), as owned
//! values that can be encoded and decoded.

use crate::fb;
use flatbuffers::FlatBufferBuilder;

/// Connection state of an application, as reported to agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AppStatus {
    /// Not connected (yet): the agent retries later.
    #[default]
    Unknown,
    /// The collector disconnected the application (410): give up.
    Disconnected,
    /// The collector refused the license key (401): give up.
    InvalidLicense,
    /// Connected; the reply carries the connect reply.
    Connected,
    /// The agent's run id is still live: keep using it.
    StillValid,
}

impl AppStatus {
    /// The wire value.
    pub fn to_wire(self) -> i8 {
        match self {
            AppStatus::Unknown => 0,
            AppStatus::Disconnected => 1,
            AppStatus::InvalidLicense => 2,
            AppStatus::Connected => 3,
            AppStatus::StillValid => 4,
        }
    }

    /// Reads a wire value; out-of-range values count as `Unknown`, which is
    /// what an agent does with them.
    pub fn from_wire(v: i8) -> Self {
        match v {
            1 => AppStatus::Disconnected,
            2 => AppStatus::InvalidLicense,
            3 => AppStatus::Connected,
            4 => AppStatus::StillValid,
            _ => AppStatus::Unknown,
        }
    }
}

/// Everything an agent says about its application in an App query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    /// License key.
    pub license: String,
    /// Application name(s), `;`-separated.
    pub app_name: String,
    /// Always `php` for the PHP agent.
    pub agent_language: String,
    /// Agent version string.
    pub agent_version: String,
    /// `newrelic.high_security`.
    pub high_security: bool,
    /// `newrelic.daemon.collector_host`.
    pub redirect_collector: String,
    /// JSON array of `[key, value]` pairs.
    pub environment: String,
    /// JSON object of INI settings.
    pub settings: String,
    /// JSON array of `{label_type, label_value}`; empty when none.
    pub labels: String,
    /// `newrelic.process_host.display_name`.
    pub display_host: String,
    /// `newrelic.security_policies_token`.
    pub security_policy_token: String,
    /// JSON object `{policy: {enabled, supported}}`.
    pub supported_security_policies: String,
    /// The system host name.
    pub host: String,
    /// Infinite-tracing observer host.
    pub trace_observer_host: String,
    /// Infinite-tracing observer port.
    pub trace_observer_port: u16,
    /// Infinite-tracing queue size.
    pub span_queue_size: u64,
    /// `newrelic.span_events.max_samples_stored`.
    pub span_events_max_samples_stored: u64,
    /// JSON object of `NEW_RELIC_METADATA_*` variables.
    pub metadata: String,
    /// Log events limit.
    pub log_events_max_samples_stored: u64,
    /// Custom events limit.
    pub custom_events_max_samples_stored: u64,
    /// Docker container id, if any.
    pub docker_id: String,
}

impl AppInfo {
    /// Copies a verified App table into an owned value. Absent strings
    /// become empty.
    pub fn from_fb(app: &fb::App<'_>) -> Self {
        let s = |v: Option<&str>| v.unwrap_or_default().to_owned();
        AppInfo {
            license: s(app.license()),
            app_name: s(app.app_name()),
            agent_language: s(app.agent_language()),
            agent_version: s(app.agent_version()),
            high_security: app.high_security(),
            redirect_collector: s(app.redirect_collector()),
            environment: s(app.environment()),
            settings: s(app.settings()),
            labels: s(app.labels()),
            display_host: s(app.display_host()),
            security_policy_token: s(app.security_policy_token()),
            supported_security_policies: s(app.supported_security_policies()),
            host: s(app.host()),
            trace_observer_host: s(app.trace_observer_host()),
            trace_observer_port: app.trace_observer_port(),
            span_queue_size: app.span_queue_size(),
            span_events_max_samples_stored: app.span_events_max_samples_stored(),
            metadata: s(app.metadata()),
            log_events_max_samples_stored: app.log_events_max_samples_stored(),
            custom_events_max_samples_stored: app.custom_events_max_samples_stored(),
            docker_id: s(app.docker_id()),
        }
    }

    /// Encodes an App query message body (no preamble). `labels` is left
    /// out when empty, as New Relic's agent does.
    pub fn encode(&self, agent_run_id: Option<&str>) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::with_capacity(1024 + self.settings.len());
        let mut st = |v: &str| Some(fbb.create_string(v));
        let license = st(&self.license);
        let app_name = st(&self.app_name);
        let agent_language = st(&self.agent_language);
        let agent_version = st(&self.agent_version);
        let redirect_collector = st(&self.redirect_collector);
        let environment = st(&self.environment);
        let settings = st(&self.settings);
        let labels = if self.labels.is_empty() {
            None
        } else {
            st(&self.labels)
        };
        let display_host = st(&self.display_host);
        let security_policy_token = st(&self.security_policy_token);
        let supported_security_policies = st(&self.supported_security_policies);
        let host = st(&self.host);
        let trace_observer_host = st(&self.trace_observer_host);
        let metadata = st(&self.metadata);
        let docker_id = st(&self.docker_id);
        let run_id = agent_run_id.map(|r| fbb.create_string(r));
        let app = fb::App::create(
            &mut fbb,
            &fb::AppArgs {
                license,
                app_name,
                agent_language,
                agent_version,
                high_security: self.high_security,
                redirect_collector,
                environment,
                settings,
                labels,
                display_host,
                security_policy_token,
                supported_security_policies,
                host,
                trace_observer_host,
                trace_observer_port: self.trace_observer_port,
                span_queue_size: self.span_queue_size,
                span_events_max_samples_stored: self.span_events_max_samples_stored,
                metadata,
                log_events_max_samples_stored: self.log_events_max_samples_stored,
                custom_events_max_samples_stored: self.custom_events_max_samples_stored,
                docker_id,
            },
        );
        let msg = fb::Message::create(
            &mut fbb,
            &fb::MessageArgs {
                agent_run_id: run_id,
                data_type: fb::MessageBody::App,
                data: Some(app.as_union_value()),
            },
        );
        fbb.finish(msg, None);
        fbb.finished_data().to_vec()
    }
}

/// The daemon's answer to an App query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppReplyInfo {
    /// Application state.
    pub status: AppStatus,
    /// The collector's connect reply (`return_value` object), verbatim;
    /// only with [`AppStatus::Connected`].
    pub connect_reply: Option<String>,
    /// JSON object `{policy: enabled}` from preconnect.
    pub security_policies: Option<String>,
    /// When the connect happened, unix seconds.
    pub connect_timestamp: u64,
    /// Seconds between harvests (the sampling target period).
    pub harvest_frequency: u16,
    /// Sampling target per period.
    pub sampling_target: u16,
}

impl AppReplyInfo {
    /// A reply that carries only a status.
    pub fn status(status: AppStatus) -> Self {
        AppReplyInfo {
            status,
            ..Default::default()
        }
    }

    /// Copies a verified AppReply table into an owned value.
    pub fn from_fb(reply: &fb::AppReply<'_>) -> Self {
        AppReplyInfo {
            status: AppStatus::from_wire(reply.status().0),
            connect_reply: reply.connect_reply().map(str::to_owned),
            security_policies: reply.security_policies().map(str::to_owned),
            connect_timestamp: reply.connect_timestamp(),
            harvest_frequency: reply.harvest_frequency(),
            sampling_target: reply.sampling_target(),
        }
    }

    /// Encodes an AppReply message body (no preamble).
    pub fn encode(&self) -> Vec<u8> {
        let extra = self.connect_reply.as_ref().map_or(0, String::len);
        let mut fbb = FlatBufferBuilder::with_capacity(128 + extra);
        let connect_reply = self.connect_reply.as_deref().map(|s| fbb.create_string(s));
        let security_policies = self
            .security_policies
            .as_deref()
            .map(|s| fbb.create_string(s));
        let reply = fb::AppReply::create(
            &mut fbb,
            &fb::AppReplyArgs {
                status: fb::AppStatus(self.status.to_wire()),
                connect_reply,
                security_policies,
                connect_timestamp: self.connect_timestamp,
                harvest_frequency: self.harvest_frequency,
                sampling_target: self.sampling_target,
            },
        );
        let msg = fb::Message::create(
            &mut fbb,
            &fb::MessageArgs {
                agent_run_id: None,
                data_type: fb::MessageBody::AppReply,
                data: Some(reply.as_union_value()),
            },
        );
        fbb.finish(msg, None);
        fbb.finished_data().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{decode, Body};

    #[test]
    fn app_round_trip() {
        let app = AppInfo {
            license: "x".repeat(40),
            app_name: "a;b".into(),
            agent_language: "php".into(),
            agent_version: "1.0".into(),
            high_security: true,
            labels: r#"[{"label_type":"a","label_value":"b"}]"#.into(),
            trace_observer_port: 443,
            span_events_max_samples_stored: 2000,
            ..Default::default()
        };
        let body = app.encode(Some("run"));
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch).unwrap();
        assert_eq!(msg.agent_run_id, Some("run"));
        let Body::App(fb_app) = msg.body else {
            panic!("not an App")
        };
        assert_eq!(AppInfo::from_fb(&fb_app), app);
    }

    #[test]
    fn reply_round_trip() {
        let reply = AppReplyInfo {
            status: AppStatus::Connected,
            connect_reply: Some(r#"{"agent_run_id":"1"}"#.into()),
            security_policies: Some("{}".into()),
            connect_timestamp: 1_700_000_000,
            harvest_frequency: 60,
            sampling_target: 10,
        };
        let body = reply.encode();
        let mut scratch = Vec::new();
        let Body::AppReply(r) = decode(&body, &mut scratch).unwrap().body else {
            panic!("not an AppReply")
        };
        assert_eq!(AppReplyInfo::from_fb(&r), reply);
        for status in [
            AppStatus::Unknown,
            AppStatus::Disconnected,
            AppStatus::InvalidLicense,
            AppStatus::StillValid,
        ] {
            assert_eq!(AppStatus::from_wire(status.to_wire()), status);
        }
    }
}
