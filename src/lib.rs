//! multitask-kernel: a Jupyter kernel for Rust, on evcxr, with a prelude of
//! real processes and threads (`multitask`). See ARCHITECTURE.md for the map.

pub mod cache;
pub mod cell;
pub mod diagnostic;
pub mod dispatch;
pub mod engine;
pub mod history;
pub mod install;
pub mod kernel;
pub mod media;
pub mod ports;
pub mod pump;
pub mod runtime;
pub mod seed;
pub mod std_sources;
pub mod syntax;
pub mod transport;
pub mod wire;
