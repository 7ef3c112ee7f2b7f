//! The kernel over ZeroMQ: every test launches the real binary from a
//! connection file, as Jupyter does, and talks to it on loopback.

mod kernel {
    pub mod harness;
    pub mod pressure;
}

mod architecture;
mod cells;
mod crate_copies;
mod faults;
mod load;
mod prelude;
mod protocol;
mod timeline;
