//! `asyncio::gather`: many futures of one type awaited together, their
//! values in the order the futures were given.
//!
//! The futures are polled in place, not spawned, so they may borrow the
//! caller's locals. Each one gets a waker of its own that notes its index,
//! so a wake-up polls only the futures that were woken: 1,000 sleeps cost
//! 1,000 polls, not a million.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::sync::Mutex;

/// Runs all `futures` concurrently and returns their values in input order,
/// like Python's `await asyncio.gather(*coroutines)`.
///
/// ```
/// use multitask::asyncio;
///
/// let squares = asyncio::run(async {
///     asyncio::gather((1..=3).map(|i| async move { i * i })).await
/// });
/// assert_eq!(squares, [1, 4, 9]);
/// ```
pub fn gather<I>(futures: I) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let slots: Vec<Slot<I::Item>> = (futures.into_iter())
        .map(|future| Slot::Pending(Box::pin(future)))
        .collect();
    let woken = Arc::new(Woken {
        indices: Mutex::new((0..slots.len()).collect()),
        parent: Mutex::new(None),
    });
    let wakers = (0..slots.len())
        .map(|index| {
            Waker::from(Arc::new(ChildWaker {
                index,
                woken: Arc::clone(&woken),
            }))
        })
        .collect();
    Gather {
        left: slots.len(),
        slots,
        wakers,
        woken,
    }
}

/// The future [`gather`] returns; `.await` it for the `Vec` of values.
#[must_use = "gather does nothing unless it is awaited"]
pub struct Gather<F: Future> {
    slots: Vec<Slot<F>>,
    wakers: Vec<Waker>,
    woken: Arc<Woken>,
    left: usize,
}

// The futures are boxed and the values are only moved, never pinned.
impl<F: Future> Unpin for Gather<F> {}

enum Slot<F: Future> {
    Pending(Pin<Box<F>>),
    Done(F::Output),
    Taken,
}

/// Which futures were woken since the last poll, and who polls the gather.
struct Woken {
    indices: Mutex<Vec<usize>>,
    parent: Mutex<Option<Waker>>,
}

struct ChildWaker {
    index: usize,
    woken: Arc<Woken>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.indices.lock().push(self.index);
        if let Some(parent) = self.woken.parent.lock().as_ref() {
            parent.wake_by_ref();
        }
    }
}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = &mut *self;
        {
            let mut parent = this.woken.parent.lock();
            if !parent
                .as_ref()
                .is_some_and(|waker| waker.will_wake(context.waker()))
            {
                *parent = Some(context.waker().clone());
            }
        }
        let indices = std::mem::take(&mut *this.woken.indices.lock());
        for index in indices {
            let Slot::Pending(future) = &mut this.slots[index] else {
                continue; // woken twice, or after it finished
            };
            let mut child_context = Context::from_waker(&this.wakers[index]);
            if let Poll::Ready(value) = future.as_mut().poll(&mut child_context) {
                this.slots[index] = Slot::Done(value);
                this.left -= 1;
            }
        }
        if this.left > 0 {
            return Poll::Pending;
        }
        let values = (this.slots.iter_mut())
            .filter_map(|slot| match std::mem::replace(slot, Slot::Taken) {
                Slot::Done(value) => Some(value),
                Slot::Pending(_) | Slot::Taken => None,
            })
            .collect();
        Poll::Ready(values)
    }
}
