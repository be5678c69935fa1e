//! Integration tests: the real `wdo` binary, real components, real HTTP on loopback.

mod admin_access;
mod alarms;
mod bank;
mod cargo_component;
mod cli;
mod cloudflare_seed;
mod counter;
mod dev;
mod edge_limits;
mod front;
mod harness;
mod lifecycle;
mod notes;
mod probe;
mod ratelimit;
mod sdk;
mod socket_lifecycle;
mod sql;
mod websockets;
