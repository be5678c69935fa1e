//! Integration tests: the real `wdo` binary, real components, real HTTP on loopback.

mod admin;
mod admin_access;
mod alarms;
mod bank;
mod cargo_component;
mod cli;
mod cloudflare_seed;
mod counter;
mod deploy;
mod dev;
mod edge_limits;
mod faults;
mod front;
mod harness;
mod hostile;
mod lifecycle;
mod metrics;
mod migrations;
mod notes;
mod probe;
mod ratelimit;
mod sdk;
mod slow_reader;
mod socket_lifecycle;
mod sql;
mod websockets;
