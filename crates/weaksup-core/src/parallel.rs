//! Ordered parallel map over numbered work items on scoped OS threads.
//!
//! The LF applier calls into code that uses its own thread pools (polars kernels, users' frame
//! LFs). Run from a rayon worker, such a call blocks in rayon's cross-pool wait, which executes
//! other queued work items of the outer pool *on the same stack* while it waits; with thousands
//! of chunks the stack grows with every chunk until it overflows (a crash seen with two polars
//! SQL expressions per chunk from ~1,250 chunks on 2 threads). Plain scoped threads pulling item
//! numbers from a counter never nest work: each item runs on a fresh frame of its worker.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{Error, Result, panic_message};

/// Stack size of each worker: room for deeply nested user expressions and dependencies' recursion.
const WORKER_STACK: usize = 16 << 20;

/// `f(0), f(1), …, f(count - 1)` on `threads` workers, results in item order. After the first
/// error no new item starts, and the error of the lowest-numbered failing item is returned (the
/// same one at any thread count, since items are handed out in order). A panic in `f` becomes an
/// error carrying its message.
pub fn map_ordered<T: Send>(
    count: usize,
    threads: usize,
    f: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let threads = threads.clamp(1, count.max(1));
    let call = |k: usize| -> Result<T> {
        catch_unwind(AssertUnwindSafe(|| f(k)))
            .unwrap_or_else(|p| Err(Error::invalid("worker", format!("panicked: {}", panic_message(&p)))))
    };
    if threads == 1 {
        return (0..count).map(call).collect();
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<T>)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::with_capacity(threads);
        for w in 0..threads {
            let (next, stop, results, call) = (&next, &stop, &results, &call);
            let h = std::thread::Builder::new()
                .name(format!("weaksup-worker-{w}"))
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, move || {
                    while !stop.load(Ordering::Relaxed) {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= count {
                            break;
                        }
                        let r = call(k);
                        if r.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        results.lock().unwrap_or_else(|p| p.into_inner()).push((k, r));
                    }
                })
                .map_err(|e| Error::invalid("worker", format!("cannot start a thread: {e}")))?;
            handles.push(h);
        }
        for h in handles {
            h.join().map_err(|p| Error::invalid("worker", format!("panicked: {}", panic_message(&p))))?;
        }
        Ok(())
    })?;
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(k, _)| *k);
    if let Some(pos) = results.iter().position(|(_, r)| r.is_err()) {
        let (_, r) = results.swap_remove(pos);
        return Err(r.err().expect("an error"));
    }
    Ok(results.into_iter().map(|(_, r)| r.expect("no errors")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_at_any_thread_count_and_first_error_wins() {
        for t in [1, 2, 3, 8] {
            assert_eq!(
                map_ordered(100, t, |k| Ok(k * k)).unwrap(),
                (0..100).map(|k| k * k).collect::<Vec<_>>()
            );
            let e = map_ordered(100, t, |k| {
                if k == 37 || k == 90 { Err(Error::Config(format!("item {k}"))) } else { Ok(k) }
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "config: item 37", "{t} threads");
            let e = map_ordered(10, t, |k| if k == 4 { panic!("boom at {k}") } else { Ok(k) }).unwrap_err();
            assert!(e.to_string().contains("boom at 4"), "{e}");
        }
        assert!(map_ordered(0, 4, Ok).unwrap().is_empty());
    }
}
