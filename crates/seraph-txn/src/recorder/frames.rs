//! Matching the end of a call to its start by PHP frame, and orphans.
//!
//! The extension can stop observing a function while calls of it are open
//! (demotion: a recursive function is demoted from inside itself). Those
//! calls then end without an end event. Left on the stack, they would be
//! popped by the next end event, which would take their start and their
//! function: every later segment would be mis-paired. So each frame
//! records the PHP frame (`zend_execute_data` address) that opened it, an
//! end event names its PHP frame, and the frames above the matching one
//! are calls that ended unseen ("orphans"): they are popped and dropped,
//! their time folding into the parent's, as for any dropped call.
//!
//! When the extension demotes a function it marks that function's open
//! frames as orphans (the low bit of the frame id; PHP frames are aligned,
//! so real ids are even): the hot path never matches one, and `current()`
//! (attributes, errors, trace payloads attach to the current segment) first
//! drops the marked frames on top that no longer run, asking the
//! extension's liveness check, so nothing attaches to a call that already
//! returned.

use super::{Recorder, NIL};
use crate::Ticks;

impl Recorder {
    /// Installs the check that tells whether a PHP frame still runs.
    pub fn set_liveness(&mut self, live: fn(usize) -> bool) {
        self.live = Some(live);
    }

    /// Closes the call PHP ran in frame `id` and decides whether to keep
    /// it. Hot path: the innermost frame matches and the call was fast.
    /// Returns whether the call was short: under a quarter of `min_keep`,
    /// nothing attached (what demotion counts).
    #[inline]
    pub fn leave_frame(&mut self, id: usize, now: Ticks) -> bool {
        if self.overflow == 0 {
            let d = self.depth.wrapping_sub(1);
            if let Some(f) = self.frames.get(d) {
                // `d < depth <= frames.len()`: a live frame.
                if f.id == id && f.node == NIL {
                    let dur = now.saturating_sub(f.start);
                    if dur < self.min_keep {
                        self.depth = d;
                        return dur < self.short_max;
                    }
                }
            }
        }
        self.leave_frame_slow(id, now);
        false
    }

    /// [`Recorder::leave_frame`] for everything but a fast, matching call.
    #[cold]
    #[inline(never)]
    fn leave_frame_slow(&mut self, id: usize, now: Ticks) {
        if self.align(id, now) {
            if let Some(i) = self.pop(now) {
                self.settle(i);
            }
        }
    }

    /// Makes the call of PHP frame `id` the innermost open call: the calls
    /// above it ended unseen and are dropped. False when no open call has
    /// that frame (its start was not seen, e.g. the function's handlers
    /// were added while it ran): the end is to be ignored. While calls
    /// overflow the stack the end is an overflowed call's, unless an open
    /// frame is the one ending (then the overflow count was off by calls
    /// that ended unseen, and is reset).
    pub fn align(&mut self, id: usize, now: Ticks) -> bool {
        let top = self.depth.checked_sub(1).map(|d| self.frames[d].id);
        if top == Some(id) {
            self.overflow = 0;
            return true;
        }
        // Searching costs the depth: while calls overflow, only when
        // orphans may have made the count wrong.
        if self.overflow > 0 && self.orphans == 0 {
            return true;
        }
        let Some(p) = self.frames[..self.depth].iter().rposition(|f| f.id == id) else {
            return self.overflow > 0;
        };
        self.overflow = 0;
        while self.depth > p + 1 {
            self.pop_orphan(now);
        }
        true
    }

    /// Pops the innermost frame, a call that ended unseen. Its end is
    /// unknown: it is dropped unless something was attached to it (then it
    /// is kept, ending with its last kept child, or `now` at the latest).
    pub(super) fn pop_orphan(&mut self, now: Ticks) {
        let Some(d) = self.depth.checked_sub(1) else {
            return;
        };
        let f = self.frames[d];
        if f.id & 1 == 1 {
            self.orphans = self.orphans.saturating_sub(1);
        }
        self.depth = d;
        if f.node == NIL {
            return;
        }
        let i = f.node;
        let n = self.nodes[i as usize];
        let stop = if n.last_child != NIL {
            self.nodes[n.last_child as usize].stop.min(now)
        } else {
            n.start
        };
        self.nodes[i as usize].stop = stop.max(n.start);
        if self.stopped || n.flags == 0 {
            self.dissolve(i);
        } else {
            self.keep(i);
        }
    }

    /// The extension stopped observing `func` while calls of it are open:
    /// their ends will not be seen. Marks their frames as orphans.
    pub fn mark_orphans(&mut self, func: usize) {
        for f in &mut self.frames[..self.depth] {
            if f.func == func && f.id != 0 && f.id & 1 == 0 {
                f.id |= 1;
                self.orphans += 1;
            }
        }
    }

    /// Drops the orphans on top of the stack that no longer run.
    pub(super) fn prune_orphans(&mut self) {
        let Some(live) = self.live else {
            return;
        };
        if self.overflow > 0 {
            return;
        }
        while let Some(d) = self.depth.checked_sub(1) {
            let f = self.frames[d];
            if f.id & 1 == 0 || live(f.id & !1) {
                break;
            }
            self.pop_orphan(f.start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Recorder, ROOT};

    const MS: u64 = 1_000_000;

    fn names(r: &Recorder, i: u32) -> Vec<usize> {
        r.children(i).map(|c| r.nodes[c as usize].func).collect()
    }

    #[test]
    fn ends_match_their_frames_and_orphans_fold_into_the_parent() {
        let mut r = Recorder::new(0, 2 * MS, 100, 64);
        r.enter_frame(1, 0x100, 0); // main()
        r.enter_frame(2, 0x200, 10); // fib()
        r.enter_frame(2, 0x300, 20); // fib(), demoted from here on
        assert!(r.leave_frame(0x300, 30));
        r.mark_orphans(2); // 0x200 is now an orphan: its end is not seen
        r.enter_frame(3, 0x300, 40); // slow(): same PHP frame address
        assert!(!r.leave_frame(0x300, 40 + 5 * MS));
        assert!(!r.leave_frame(0x100, 50 + 5 * MS));
        assert_eq!(r.depth(), 0);
        // slow() was kept under main(), not under the orphaned fib().
        assert_eq!(names(&r, ROOT), vec![1]);
        let main = r.children(ROOT).next().unwrap();
        assert_eq!(names(&r, main), vec![3]);
        assert_eq!(r.nodes[main as usize].start, 0);
        assert_eq!(r.nodes[main as usize].stop, 50 + 5 * MS);
    }

    #[test]
    fn an_end_without_a_start_is_ignored() {
        let mut r = Recorder::new(0, 2 * MS, 100, 64);
        r.enter_frame(1, 0x100, 0);
        assert!(!r.leave_frame(0x900, 10));
        assert_eq!(r.depth(), 1);
        assert!(r.leave_frame(0x100, 20));
        assert_eq!(r.depth(), 0);
    }

    #[test]
    fn short_means_a_quarter_of_the_threshold() {
        let mut r = Recorder::new(0, 4 * MS, 100, 64);
        r.enter_frame(1, 0x100, 0);
        assert!(r.leave_frame(0x100, MS - 1));
        r.enter_frame(1, 0x100, 0);
        assert!(!r.leave_frame(0x100, MS));
        assert_eq!(r.kept(), 0);
    }

    #[test]
    fn current_skips_orphans_that_returned() {
        fn nothing_runs(_: usize) -> bool {
            false
        }
        let mut r = Recorder::new(0, 2 * MS, 100, 64);
        r.set_liveness(nothing_runs);
        r.enter_frame(1, 0x100, 0);
        r.enter_frame(2, 0x200, 10);
        r.mark_orphans(2);
        let cur = r.current();
        assert_eq!(r.nodes[cur as usize].func, 1);
        assert_eq!(r.depth(), 1);
    }

    #[test]
    fn orphans_are_dropped_by_unwind_and_overflow_recovers() {
        let mut r = Recorder::new(0, 2 * MS, 100, 2);
        r.enter_frame(1, 0x100, 0);
        r.enter_frame(2, 0x200, 10);
        r.enter_frame(2, 0x300, 20); // overflowed
        r.mark_orphans(2);
        // fib's overflowed call ends unseen; main's end resets the count.
        assert!(!r.leave_frame(0x100, 30 + 5 * MS));
        assert_eq!(r.depth(), 0);
        assert_eq!(names(&r, ROOT), vec![1]);
        r.enter_frame(1, 0x100, 0);
        r.enter_frame(2, 0x200, 10);
        r.mark_orphans(2);
        r.unwind(20);
        assert_eq!(r.depth(), 0);
    }
}
