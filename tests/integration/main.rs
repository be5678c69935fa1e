//! Integration tests: the real `wdo` binary, real components, real HTTP on loopback.

mod alarms;
mod bank;
mod cargo_component;
mod cli;
mod cloudflare_seed;
mod counter;
mod dev;
mod front;
mod harness;
mod hostile;
mod lifecycle;
mod notes;
mod probe;
mod ratelimit;
mod sdk;
mod sql;
mod websockets;
