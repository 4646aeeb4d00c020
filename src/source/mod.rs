//! Listeners: sockets in, decoded records out to the router. All I/O lives here.
