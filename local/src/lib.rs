//! The local gateway: the whole API on localhost, WebSocket included, with no Docker and no AWS
//! account. See `gateway` for what it emulates; `token` mints and verifies local tokens; `seed`
//! loads sample content.

pub mod gateway;
pub mod sample_images;
pub mod seed;
pub mod stand_ins;
pub mod token;

pub use gateway::{Gateway, Options};
