//! Listeners: sockets in, decoded records out to the intake queue. All socket I/O lives here.
//! Each listener binds to loopback by default and costs a bad sender only its own connection or datagram.

pub mod budget;
pub mod http;
pub mod shutdown;
pub mod tcp;
pub mod udp;

pub use shutdown::{Phase, Shutdown, ShutdownController};
