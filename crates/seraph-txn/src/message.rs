//! Message broker calls (RabbitMQ through php-amqplib), as New Relic's
//! agent records them:
//!
//! * metrics `MessageBroker/all` and `MessageBroker/<library>/all`
//!   (unscoped), and the scoped
//!   `MessageBroker/<library>/<type>/<Produce|Consume>/Named/<name>`, which
//!   names the segment; `MessageBroker/allWeb` or `allOther` at the end;
//! * the span is `generic` with `span.kind` `producer` or `consumer` and,
//!   with `message_tracer.segment_parameters.enabled`, the attributes
//!   `messaging.destination.name`, `messaging.system`, `server.address`,
//!   `server.port` and `messaging.rabbitmq.destination.routing_key`.

use crate::json;
use crate::recorder::{flag, SegKind};
use crate::txn::Transaction;
use crate::Ticks;

/// Sending or receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageAction {
    /// A message sent.
    #[default]
    Produce,
    /// A message received.
    Consume,
}

impl MessageAction {
    fn metric_word(self) -> &'static str {
        match self {
            MessageAction::Produce => "Produce",
            MessageAction::Consume => "Consume",
        }
    }

    pub(crate) fn span_kind(self) -> &'static str {
        match self {
            MessageAction::Produce => "producer",
            MessageAction::Consume => "consumer",
        }
    }
}

/// A message broker call ended by [`Transaction::leave_message`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageCall {
    /// `RabbitMQ`.
    pub library: String,
    /// `Exchange`, `Queue`, `Topic`.
    pub destination_type: String,
    /// Produce or consume.
    pub action: MessageAction,
    /// The exchange (or queue) name; empty is `<unknown>`.
    pub destination_name: String,
    /// `rabbitmq`.
    pub messaging_system: Option<String>,
    /// The broker's host.
    pub server_address: Option<String>,
    /// The broker's port.
    pub server_port: Option<u64>,
    /// The routing key.
    pub routing_key: Option<String>,
}

/// What a message span carries.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageSeg {
    pub(crate) action: MessageAction,
    destination_name: Option<String>,
    messaging_system: Option<String>,
    server_address: Option<String>,
    server_port: Option<u64>,
    routing_key: Option<String>,
}

impl MessageSeg {
    pub(crate) fn write_span_attrs(&self, a: &mut json::Obj<'_>) {
        let mut s = |k: &str, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                a.str(k, v);
            }
        };
        s("messaging.destination.name", &self.destination_name);
        s("messaging.system", &self.messaging_system);
        s("server.address", &self.server_address);
        s(
            "messaging.rabbitmq.destination.routing_key",
            &self.routing_key,
        );
        if let Some(p) = self.server_port.filter(|p| *p > 0) {
            a.u64("server.port", p);
        }
    }
}

impl Transaction {
    /// The innermost call ends as a message broker call: it is always
    /// kept and gets the message metrics.
    pub fn leave_message(&mut self, now: Ticks, m: MessageCall) {
        let popped = self.rec.pop(now);
        let dur_us = popped.map_or(0, |i| self.node_dur_us(i));
        let library = if m.library.is_empty() {
            "<unknown>"
        } else {
            &m.library
        };
        let name = if m.destination_name.is_empty() {
            "<unknown>"
        } else {
            &m.destination_name
        };
        self.metrics.add("MessageBroker/all", false, true, dur_us);
        self.metrics
            .add(&format!("MessageBroker/{library}/all"), false, true, dur_us);
        let scoped = format!(
            "MessageBroker/{library}/{}/{}/Named/{name}",
            m.destination_type,
            m.action.metric_word()
        );
        self.metrics.add(&scoped, true, false, dur_us);
        let Some(i) = popped else { return };
        self.rec.drop_children(i);
        let params = self.cfg.message_segment_parameters_enabled;
        let seg = MessageSeg {
            action: m.action,
            destination_name: params.then_some(m.destination_name),
            messaging_system: m.messaging_system.filter(|_| params),
            server_address: m.server_address.filter(|_| params),
            server_port: m.server_port.filter(|_| params),
            routing_key: m.routing_key.filter(|_| params),
        };
        let extra = self.rec.extra_mut(i);
        extra.name = Some(scoped);
        extra.kind = SegKind::Message(Box::new(seg));
        self.rec.mark(i, flag::INSTRUMENTED);
        self.rec.settle(i);
    }
}
