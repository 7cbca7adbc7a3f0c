//! The WebSocket API: its wire format ([`frames`], used by everything that posts to sockets) and,
//! with the `ws` feature, the handlers of `$connect`, `$disconnect` and the message routes, fed
//! API Gateway WebSocket events (the same shapes in AWS, the local gateway and the tests).

pub mod frames;

#[cfg(all(feature = "ws", feature = "cognito"))]
pub mod authorizer;
#[cfg(feature = "ws")]
mod handlers;
#[cfg(feature = "ws")]
pub mod tokens;

#[cfg(feature = "ws")]
pub use handlers::{ConnectHandler, DisconnectHandler, MessageHandler, identity_of};
#[cfg(feature = "ws")]
pub use tokens::{TokenCheckError, TokenVerifier};
