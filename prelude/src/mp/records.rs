//! `mp`'s part of the process-wide state ([`MpRecords`]): the children this
//! process started and has not reaped, its queue feeders, the fork spawner's
//! channel and the files and sockets it handed. The records hang off the
//! state, where the cell's end reaches them as a [`ChildRegistry`]; a
//! forked child's fresh state starts with none.

use std::any::Any;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::feeder::Feeder;
use super::fork::ForkRequest;
use super::process::ProcessShared;
use super::sharer::Shares;
use crate::state::{ChildRegistry, State};
use crate::sync::Mutex;

/// This process's records of `mp` (see the module doc).
#[derive(Default)]
pub(crate) struct MpRecords {
    /// Started child processes not yet reaped.
    pub(super) processes: Mutex<Vec<Arc<ProcessShared>>>,
    /// The queue feeders (see `feeder`).
    pub(super) feeders: Mutex<Vec<Arc<Feeder>>>,
    /// The long-lived thread that forks on behalf of other threads.
    pub(super) spawner: Mutex<Option<Sender<ForkRequest>>>,
    /// Files and sockets handed and not yet given (see `sharer`).
    pub(super) fd_shares: Mutex<Shares>,
}

/// This process's [`MpRecords`], made on their first use in the process.
pub(super) fn records(state: &State) -> &'static MpRecords {
    let registry: &'static dyn ChildRegistry = *state
        .children
        .get_or_init(|| Box::leak(Box::<MpRecords>::default()));
    // Every cell's copy of the crate has the same `TypeId` for `MpRecords`.
    let registry: &'static dyn Any = registry;
    registry
        .downcast_ref()
        .expect("only `mp` fills `State::children`")
}

impl ChildRegistry for MpRecords {
    fn flush_feeders(&self) {
        let feeders: Vec<_> = self.feeders.lock().clone();
        for feeder in feeders {
            feeder.flush();
        }
    }

    fn end_at_exit(&self) {
        let processes: Vec<_> = self.processes.lock().clone();
        let (ordinary, daemons): (Vec<_>, Vec<_>) = processes
            .into_iter()
            .partition(|process| process.waits_at_exit());
        for process in &daemons {
            process.send_signal(libc::SIGTERM);
        }
        for process in &daemons {
            process.reap_after_signal();
        }
        for process in ordinary {
            process.wait_exit(None);
        }
    }

    fn kill_all(&self) {
        let processes: Vec<_> = self.processes.lock().clone();
        for process in &processes {
            process.send_signal(libc::SIGKILL);
        }
        for process in &processes {
            process.reap_after_signal();
        }
    }
}
