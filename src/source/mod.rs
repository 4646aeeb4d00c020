//! Listeners: sockets in, decoded records out to the router. All socket I/O lives here.
//! Each listener binds to loopback by default and costs a bad sender only its own connection or datagram.

pub mod shutdown;

pub use shutdown::{Phase, Shutdown, ShutdownController};
