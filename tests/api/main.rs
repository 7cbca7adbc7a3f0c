//! Every endpoint group through its Lambda binary's router, fed API Gateway events, over real
//! MariaDB; plus the store conformance suite on MariaDB and the embedded SQLite.

mod admin;
mod authorization;
mod authorizer;
mod bootstrap;
mod chat;
mod conformance;
mod content;
mod dependencies;
mod e2e;
mod events;
mod faults;
mod gateway;
mod generated;
mod migrate;
mod moderation;
mod notifications;
mod openapi;
mod preflight;
mod reliability;
mod reports;
mod samples;
mod security;
mod siblings;
mod support;
mod template;
mod websocket;
