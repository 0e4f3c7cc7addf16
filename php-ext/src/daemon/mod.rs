//! Talking to the daemon: addresses, the socket, the App query cache and
//! (angelic mode) spawning a daemon when none answers.

pub mod address;
pub mod appcache;
pub mod appinfo;
pub mod client;
pub mod conn;
pub mod owner;
pub mod spawn;
