//! The segment recorder: the hot path every observed PHP function goes
//! through.
//!
//! Design (see the crate docs for the reasoning):
//! - An open call is only a [`Frame`] on a stack: its start tick, its
//!   function and, once something needs it, the index of its node. `enter`
//!   writes one frame; `leave` of a call that is fast (shorter than
//!   `expensive_node_min`) and never got a node pops it and is done. Most
//!   calls of a call-heavy script never touch the node arena at all.
//! - A frame gets its node lazily ("materialised"): when it turns out to be
//!   slow, when a descendant is kept (a kept node needs its parent's
//!   index), or when an API marks the current segment. Materialising a
//!   frame materialises its unmaterialised ancestors first, so a node's
//!   parent always exists.
//! - Every segment node, open or closed, is a fixed-size [`Node`] in one
//!   arena (`Vec<Node>` plus a free list), so nothing allocates once the
//!   arena has grown to the transaction's working size. The frame stack has
//!   a fixed maximum depth; calls deeper than that are only counted.
//! - A closed node is linked into its parent's intrusive child list only if
//!   it is kept. Unremarkable ones (fast, nothing attached) are dropped: their
//!   kept children are spliced into the parent in O(1) list operations plus
//!   a parent-pointer update per child.
//! - Kept segments sit in a bounded min-heap keyed by (priority flags,
//!   duration). When it is full, a new segment either loses to the current
//!   minimum (and is dropped) or evicts it; an evicted segment's children
//!   take its place in its parent's list, so the tree stays consistent and
//!   chronological.
//!
//! Exclusive times are not tracked here; they are computed at finish over
//! the kept tree, so time spent in dropped children counts as the parent's
//! exclusive time, as it does in the agent.

use crate::attrs::AttrList;
use crate::Ticks;
use std::collections::HashMap;

/// "No node".
pub(crate) const NIL: u32 = u32::MAX;
/// The root segment's index.
pub(crate) const ROOT: u32 = 0;

/// Keep/priority flags. Higher bits win when the kept set is full.
pub(crate) mod flag {
    /// The transaction's root segment.
    pub const ROOT: u16 = 1 << 15;
    /// A distributed-trace payload was created from this segment.
    pub const DT: u16 = 1 << 14;
    /// Its span id was handed out (logs, errors, trace metadata).
    pub const LOG: u16 = 1 << 13;
    /// It carries attributes or an error.
    pub const ATTR: u16 = 1 << 12;
    /// A datastore, external or custom-tracer segment.
    pub const INSTRUMENTED: u16 = 1 << 11;
    /// Closed by the end of the transaction rather than by `leave`.
    pub const UNWOUND: u16 = 1 << 10;
    /// The bits that rank segments when only some can be kept.
    pub const PRIORITY: u16 = ROOT | DT | LOG | ATTR | INSTRUMENTED;
}

mod frames;

/// An open call. Only what `leave` needs to drop a fast call: 32 bytes.
#[derive(Clone, Copy, Debug)]
struct Frame {
    start: Ticks,
    func: usize,
    /// The PHP frame (`zend_execute_data` address) that opened the call, or
    /// 0; an odd value marks an orphan (see `frames.rs`).
    id: usize,
    /// Its node, or [`NIL`] while nothing needed one.
    node: u32,
}

/// One segment. 56 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    pub start: Ticks,
    pub stop: Ticks,
    pub func: usize,
    pub parent: u32,
    pub first_child: u32,
    pub last_child: u32,
    pub prev: u32,
    pub next: u32,
    heap_pos: u32,
    pub extra: u32,
    pub flags: u16,
}

impl Node {
    const EMPTY: Node = Node {
        start: 0,
        stop: 0,
        func: 0,
        parent: NIL,
        first_child: NIL,
        last_child: NIL,
        prev: NIL,
        next: NIL,
        heap_pos: NIL,
        extra: NIL,
        flags: 0,
    };

    pub fn duration(&self) -> Ticks {
        self.stop.saturating_sub(self.start)
    }
}

/// What kind of segment a node is, beyond a plain function call.
#[derive(Clone, Debug, Default)]
pub(crate) enum SegKind {
    /// A user function or custom segment.
    #[default]
    Generic,
    /// A datastore call.
    Datastore(Box<DatastoreSeg>),
    /// An external (HTTP) call.
    External(Box<ExternalSeg>),
    /// A message broker call (`message.rs`).
    Message(Box<crate::message::MessageSeg>),
}

/// Datastore segment data, as the trace and span need it.
#[derive(Clone, Debug, Default)]
pub(crate) struct DatastoreSeg {
    pub product: String,
    pub host: Option<String>,
    pub port_path_or_id: Option<String>,
    pub database_name: Option<String>,
    /// Raw SQL (record_sql = raw).
    pub sql: Option<String>,
    /// Obfuscated SQL (record_sql = obfuscated).
    pub sql_obfuscated: Option<String>,
    /// Backtrace JSON array.
    pub backtrace: Option<String>,
    /// Explain plan JSON (`[[columns], [rows]]`).
    pub explain_plan: Option<String>,
}

/// External segment data.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExternalSeg {
    pub uri: String,
    pub library: String,
    pub procedure: String,
    pub status: Option<u16>,
}

/// Side data for the few segments that need more than a node.
#[derive(Clone, Debug, Default)]
pub(crate) struct Extra {
    /// Segment name when it is not `Custom/<function>`.
    pub name: Option<String>,
    pub kind: SegKind,
    /// Span guid, once assigned.
    pub span_id: Option<String>,
    /// `(class, message)` of an error seen in this segment.
    pub error: Option<(String, String)>,
    /// User attributes for this segment's span.
    pub user_attrs: AttrList,
}

/// The recorder. See the module docs.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Open calls; `frames[..depth]` are live. The vector only grows (up to
    /// `max_depth`), so `enter` is a store into existing memory.
    frames: Vec<Frame>,
    depth: usize,
    /// Calls made, the root excluded (`Supportability/execute/user/call_count`).
    pub calls: u64,
    min_keep: Ticks,
    overflow: u64,
    pub nodes: Vec<Node>,
    free: u32,
    max_depth: usize,
    /// Calls made while the stack was full (never recorded).
    pub overflowed_calls: u64,
    heap: Vec<u32>,
    heap_cap: usize,
    /// Segments that were kept when they ended (the agent's
    /// `allocated_segment_count` minus the root).
    pub kept_total: u64,
    /// Kept segments later evicted to make room.
    pub evicted: u64,
    extras: Vec<Option<Extra>>,
    free_extras: Vec<u32>,
    scratch: Vec<u32>,
    fibers: Fibers,
    /// Set by [`Recorder::stop`]: nothing that ends later is kept.
    stopped: bool,
    /// Calls shorter than this are "short" for demotion (a quarter of
    /// `min_keep`).
    short_max: Ticks,
    /// Orphan frames on the stack (see `frames.rs`).
    orphans: usize,
    /// Tells whether a PHP frame still runs (set by the extension).
    live: Option<fn(usize) -> bool>,
}

/// Open calls of fibers (PHP 8.1): see [`Recorder::switch_context`].
#[derive(Debug, Default)]
struct Fibers {
    /// Contexts running one inside the other (the main context first), each
    /// with the stack depth its own frames start at and the overflowed
    /// calls of the context below it (its resumer) while it runs.
    running: Vec<(usize, usize, u64)>,
    /// The open frames (and overflowed calls) of suspended contexts.
    suspended: HashMap<usize, (Vec<Frame>, u64)>,
}

/// Suspended fibers whose open calls are kept; beyond this their calls
/// are forgotten (they still end, as unbalanced leaves, which are ignored).
pub(crate) const SUSPENDED_FIBER_LIMIT: usize = 65_536;

impl Recorder {
    /// A recorder whose root starts at `start`. `min_keep` is the
    /// expensive-node threshold in ticks, `heap_cap` the number of non-root
    /// segments kept at most, `max_depth` the open-segment stack size.
    pub fn new(start: Ticks, min_keep: Ticks, heap_cap: usize, max_depth: usize) -> Self {
        let mut nodes = Vec::with_capacity(256.min(heap_cap + max_depth + 1).max(16));
        nodes.push(Node {
            start,
            flags: flag::ROOT,
            ..Node::EMPTY
        });
        Recorder {
            frames: Vec::with_capacity(max_depth.min(64)),
            depth: 0,
            calls: 0,
            min_keep,
            overflow: 0,
            nodes,
            free: NIL,
            max_depth,
            overflowed_calls: 0,
            heap: Vec::with_capacity(heap_cap.min(4096)),
            heap_cap,
            kept_total: 0,
            evicted: 0,
            extras: Vec::new(),
            free_extras: Vec::new(),
            scratch: Vec::new(),
            fibers: Fibers::default(),
            stopped: false,
            short_max: min_keep / 4,
            orphans: 0,
            live: None,
        }
    }

    /// PHP switched from execution context `from` to `to` (fibers). The
    /// frames of a context are the top of the stack while it runs; left on
    /// the shared stack across a switch, the calls of the context that runs
    /// next would pop them, so each call would end with another's time and
    /// parent. So: a context switching back to the one that started or
    /// resumed it (a suspend, or the fiber's end) takes its open frames off
    /// the stack and keeps them; a context that is started or resumed gets
    /// its kept frames back on top of its resumer's.
    ///
    /// Parent links stay within the stack: the lowest frame taken off that
    /// has a node is re-parented to the root (its old parent may end, and be
    /// freed, while the fiber sleeps), and on resume to the resumer's
    /// innermost segment.
    pub fn switch_context(&mut self, from: usize, to: usize) {
        if self.fibers.running.is_empty() {
            self.fibers.running.push((from, 0, 0));
        }
        let n = self.fibers.running.len();
        let returning =
            n >= 2 && self.fibers.running[n - 1].0 == from && self.fibers.running[n - 2].0 == to;
        if returning {
            let Some((ctx, base, resumer_overflow)) = self.fibers.running.pop() else {
                return;
            };
            let base = base.min(self.depth);
            let frames: Vec<Frame> = self.frames[base..self.depth].to_vec();
            if let Some(low) = frames.iter().find(|f| f.node != NIL) {
                self.nodes[low.node as usize].parent = ROOT;
            }
            self.depth = base;
            let overflow = std::mem::replace(&mut self.overflow, resumer_overflow);
            if frames.is_empty() && overflow == 0 {
                self.fibers.suspended.remove(&ctx);
            } else if self.fibers.suspended.len() < SUSPENDED_FIBER_LIMIT
                || self.fibers.suspended.contains_key(&ctx)
            {
                self.fibers.suspended.insert(ctx, (frames, overflow));
            }
            return;
        }
        let resumer_overflow = std::mem::take(&mut self.overflow);
        self.fibers.running.push((to, self.depth, resumer_overflow));
        let Some((frames, overflow)) = self.fibers.suspended.remove(&to) else {
            return;
        };
        if let Some(low) = frames.iter().find(|f| f.node != NIL) {
            let parent = self.current();
            self.nodes[low.node as usize].parent = parent;
        }
        for f in frames {
            if self.depth < self.max_depth && self.overflow == 0 {
                match self.frames.get_mut(self.depth) {
                    Some(slot) => *slot = f,
                    None => self.frames.push(f),
                }
                self.depth += 1;
            } else {
                self.overflow += 1;
            }
        }
        self.overflow += overflow;
    }

    /// PHP freed an execution context: forget its kept frames, if any.
    pub fn context_destroyed(&mut self, ctx: usize) {
        self.fibers.suspended.remove(&ctx);
    }

    /// The innermost open segment's node (the root when none is open),
    /// materialised if it had none.
    pub fn current(&mut self) -> u32 {
        if self.orphans > 0 {
            self.prune_orphans();
        }
        match self.depth.checked_sub(1) {
            Some(d) => self.materialize(d),
            None => ROOT,
        }
    }

    /// The start of the innermost open call (the root's when none is open).
    pub fn current_start(&self) -> Ticks {
        match self.depth.checked_sub(1) {
            Some(d) => self.frames[d].start,
            None => self.nodes[ROOT as usize].start,
        }
    }

    /// Open segments, root excluded.
    #[cfg(test)]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Gives frame `d` (and any unmaterialised ancestors) a node; returns
    /// frame `d`'s node.
    fn materialize(&mut self, d: usize) -> u32 {
        let node = self.frames[d].node;
        if node != NIL {
            return node;
        }
        let mut k = d;
        while k > 0 && self.frames[k - 1].node == NIL {
            k -= 1;
        }
        let mut parent = if k == 0 {
            ROOT
        } else {
            self.frames[k - 1].node
        };
        for j in k..=d {
            let f = self.frames[j];
            parent = self.alloc(Node {
                start: f.start,
                func: f.func,
                parent,
                ..Node::EMPTY
            });
            self.frames[j].node = parent;
        }
        parent
    }

    #[inline]
    fn alloc(&mut self, node: Node) -> u32 {
        if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].next;
            self.nodes[i as usize] = node;
            i
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    #[inline]
    fn release(&mut self, i: u32) {
        let n = &mut self.nodes[i as usize];
        let extra = n.extra;
        *n = Node {
            next: self.free,
            ..Node::EMPTY
        };
        self.free = i;
        if extra != NIL {
            self.extras[extra as usize] = None;
            self.free_extras.push(extra);
        }
    }

    /// Opens a segment for `func` at `now`. Hot path: one frame store.
    #[inline]
    pub fn enter(&mut self, func: usize, now: Ticks) {
        self.enter_frame(func, 0, now);
    }

    /// [`Recorder::enter`] for the call PHP runs in frame `id` (even,
    /// nonzero), so that its end can be matched to it (see `frames.rs`).
    #[inline]
    pub fn enter_frame(&mut self, func: usize, id: usize, now: Ticks) {
        let d = self.depth;
        // `frames.len() <= max_depth`, and while calls overflow the stack is
        // full, so a free slot means a plain push.
        if let Some(f) = self.frames.get_mut(d) {
            *f = Frame {
                start: now,
                func,
                id,
                node: NIL,
            };
            self.depth = d + 1;
        } else {
            self.enter_slow(func, id, now);
        }
    }

    /// `enter` when the frame vector must grow or the stack is full.
    #[cold]
    #[inline(never)]
    fn enter_slow(&mut self, func: usize, id: usize, now: Ticks) {
        if self.depth >= self.max_depth || self.overflow > 0 {
            self.overflow += 1;
            self.overflowed_calls += 1;
            return;
        }
        self.frames.push(Frame {
            start: now,
            func,
            id,
            node: NIL,
        });
        self.depth = self.frames.len();
    }

    /// The function of the innermost open call (none while calls overflow
    /// the stack or nothing is open).
    pub fn current_func(&self) -> Option<usize> {
        if self.overflow > 0 {
            return None;
        }
        self.frames.get(self.depth.checked_sub(1)?).map(|f| f.func)
    }

    /// Closes the innermost segment and returns its node, not yet settled.
    /// `None` when the call was beyond the stack capacity or nothing is
    /// open.
    pub fn pop(&mut self, now: Ticks) -> Option<u32> {
        if self.overflow > 0 {
            self.overflow -= 1;
            return None;
        }
        let d = self.depth.checked_sub(1)?;
        let i = self.materialize(d);
        self.depth = d;
        let n = &mut self.nodes[i as usize];
        n.stop = now.max(n.start);
        Some(i)
    }

    /// Closes the innermost segment and decides whether to keep it. Hot
    /// path: a fast call that never got a node is just popped.
    #[inline]
    pub fn leave(&mut self, now: Ticks) {
        if self.overflow == 0 {
            let d = self.depth.wrapping_sub(1);
            if let Some(f) = self.frames.get(d) {
                // `d < depth <= frames.len()`: a live frame.
                if f.node == NIL && now.saturating_sub(f.start) < self.min_keep {
                    self.depth = d;
                    return;
                }
            }
        }
        self.leave_slow(now);
    }

    /// `leave` for everything but a fast call without a node.
    #[cold]
    #[inline(never)]
    fn leave_slow(&mut self, now: Ticks) {
        if let Some(i) = self.pop(now) {
            self.settle(i);
        }
    }

    /// Decides the fate of a closed segment.
    #[inline]
    pub fn settle(&mut self, i: u32) {
        let n = &self.nodes[i as usize];
        if self.stopped || (n.flags == 0 && n.duration() < self.min_keep) {
            self.dissolve(i);
        } else {
            self.keep(i);
        }
    }

    /// Drops a closed, unlinked segment; its children move to its parent.
    fn dissolve(&mut self, i: u32) {
        let n = self.nodes[i as usize];
        if n.first_child != NIL {
            let p = n.parent;
            let mut c = n.first_child;
            while c != NIL {
                self.nodes[c as usize].parent = p;
                c = self.nodes[c as usize].next;
            }
            let last = self.nodes[p as usize].last_child;
            if last == NIL {
                self.nodes[p as usize].first_child = n.first_child;
            } else {
                self.nodes[last as usize].next = n.first_child;
                self.nodes[n.first_child as usize].prev = last;
            }
            self.nodes[p as usize].last_child = n.last_child;
        }
        self.release(i);
    }

    fn key(&self, i: u32) -> (u16, Ticks) {
        let n = &self.nodes[i as usize];
        (n.flags & flag::PRIORITY, n.duration())
    }

    fn keep(&mut self, i: u32) {
        if self.heap.len() >= self.heap_cap {
            let min = match self.heap.first() {
                Some(&m) if self.key(i) > self.key(m) => m,
                _ => {
                    self.dissolve(i);
                    return;
                }
            };
            self.heap_remove(min);
            self.evict(min);
        }
        self.kept_total += 1;
        let p = self.nodes[i as usize].parent;
        let last = self.nodes[p as usize].last_child;
        {
            let n = &mut self.nodes[i as usize];
            n.prev = last;
            n.next = NIL;
        }
        if last == NIL {
            self.nodes[p as usize].first_child = i;
        } else {
            self.nodes[last as usize].next = i;
        }
        self.nodes[p as usize].last_child = i;
        self.heap_push(i);
    }

    /// Removes a kept segment from the tree; its children take its place.
    fn evict(&mut self, m: u32) {
        self.evicted += 1;
        let n = self.nodes[m as usize];
        let p = n.parent;
        let mut c = n.first_child;
        while c != NIL {
            self.nodes[c as usize].parent = p;
            c = self.nodes[c as usize].next;
        }
        let (first, last) = if n.first_child == NIL {
            (n.next, n.prev)
        } else {
            self.nodes[n.first_child as usize].prev = n.prev;
            self.nodes[n.last_child as usize].next = n.next;
            (n.first_child, n.last_child)
        };
        if n.prev == NIL {
            self.nodes[p as usize].first_child = first;
        } else {
            self.nodes[n.prev as usize].next = first;
        }
        if n.next == NIL {
            self.nodes[p as usize].last_child = last;
        } else {
            self.nodes[n.next as usize].prev = last;
        }
        self.release(m);
    }

    /// Frees every descendant of `i` (instrumented calls keep no children).
    pub fn drop_children(&mut self, i: u32) {
        let mut work = std::mem::take(&mut self.scratch);
        work.clear();
        let mut c = self.nodes[i as usize].first_child;
        while c != NIL {
            work.push(c);
            c = self.nodes[c as usize].next;
        }
        while let Some(d) = work.pop() {
            let mut c = self.nodes[d as usize].first_child;
            while c != NIL {
                work.push(c);
                c = self.nodes[c as usize].next;
            }
            if self.nodes[d as usize].heap_pos != NIL {
                self.heap_remove(d);
            }
            self.release(d);
        }
        self.scratch = work;
        let n = &mut self.nodes[i as usize];
        n.first_child = NIL;
        n.last_child = NIL;
    }

    /// Closes every open segment at `now` (the transaction is ending with
    /// calls still on the stack) and keeps them.
    pub fn unwind(&mut self, now: Ticks) {
        self.overflow = 0;
        while self.depth > 0 {
            // Orphans (calls that ended unseen) are not open calls.
            if self.frames[self.depth - 1].id & 1 == 1 {
                self.pop_orphan(now);
                continue;
            }
            let Some(i) = self.pop(now) else { break };
            self.nodes[i as usize].flags |= flag::UNWOUND;
            self.settle(i);
        }
    }

    /// Ends recording at `now` (`newrelic_end_of_transaction`): the open
    /// segments end there, and segments that end later are dropped.
    pub fn stop(&mut self, now: Ticks) {
        self.unwind(now);
        self.close_root(now);
        self.stopped = true;
    }

    /// Adds flags to a segment (making it worth keeping).
    pub fn mark(&mut self, i: u32, f: u16) {
        self.nodes[i as usize].flags |= f;
    }

    /// The side data of a segment, created on first use.
    pub fn extra_mut(&mut self, i: u32) -> &mut Extra {
        let mut e = self.nodes[i as usize].extra;
        if e == NIL {
            e = match self.free_extras.pop() {
                Some(slot) => {
                    self.extras[slot as usize] = Some(Extra::default());
                    slot
                }
                None => {
                    self.extras.push(Some(Extra::default()));
                    (self.extras.len() - 1) as u32
                }
            };
            self.nodes[i as usize].extra = e;
        }
        self.extras[e as usize].get_or_insert_with(Extra::default)
    }

    /// The side data of a segment, if any.
    pub fn extra(&self, i: u32) -> Option<&Extra> {
        let e = self.nodes[i as usize].extra;
        if e == NIL {
            None
        } else {
            self.extras[e as usize].as_ref()
        }
    }

    /// Closes the root.
    pub fn close_root(&mut self, now: Ticks) {
        let r = &mut self.nodes[ROOT as usize];
        r.stop = now.max(r.start);
    }

    /// Kept non-root segments.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.heap.len()
    }

    /// The children of `i`, in order.
    pub fn children(&self, i: u32) -> ChildIter<'_> {
        ChildIter {
            nodes: &self.nodes,
            next: self.nodes[i as usize].first_child,
        }
    }

    // --- the bounded min-heap ------------------------------------------

    fn heap_push(&mut self, i: u32) {
        self.heap.push(i);
        let pos = self.heap.len() - 1;
        self.nodes[i as usize].heap_pos = pos as u32;
        self.sift_up(pos);
    }

    fn heap_remove(&mut self, i: u32) {
        let pos = self.nodes[i as usize].heap_pos as usize;
        let last = self.heap.len() - 1;
        self.heap.swap(pos, last);
        self.heap.pop();
        self.nodes[i as usize].heap_pos = NIL;
        if pos < self.heap.len() {
            let moved = self.heap[pos];
            self.nodes[moved as usize].heap_pos = pos as u32;
            self.sift_down(pos);
            self.sift_up(pos);
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.key(self.heap[pos]) >= self.key(self.heap[parent]) {
                break;
            }
            self.heap_swap(pos, parent);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let l = 2 * pos + 1;
            let r = l + 1;
            let mut smallest = pos;
            if l < self.heap.len() && self.key(self.heap[l]) < self.key(self.heap[smallest]) {
                smallest = l;
            }
            if r < self.heap.len() && self.key(self.heap[r]) < self.key(self.heap[smallest]) {
                smallest = r;
            }
            if smallest == pos {
                break;
            }
            self.heap_swap(pos, smallest);
            pos = smallest;
        }
    }

    fn heap_swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        let (ia, ib) = (self.heap[a], self.heap[b]);
        self.nodes[ia as usize].heap_pos = a as u32;
        self.nodes[ib as usize].heap_pos = b as u32;
    }
}

/// Iterates a child list.
pub(crate) struct ChildIter<'a> {
    nodes: &'a [Node],
    next: u32,
}

impl Iterator for ChildIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.next == NIL {
            return None;
        }
        let i = self.next;
        self.next = self.nodes[i as usize].next;
        Some(i)
    }
}

/// Exclusive time of `[start, stop)` minus the union of `children`'
/// intervals clipped to it. `children` is reordered.
pub(crate) fn exclusive(start: Ticks, stop: Ticks, children: &mut [(Ticks, Ticks)]) -> Ticks {
    children.sort_unstable();
    let mut covered = 0;
    let mut cur: Option<(Ticks, Ticks)> = None;
    for &(s, e) in children.iter() {
        let (s, e) = (s.max(start), e.min(stop));
        if s >= e {
            continue;
        }
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                covered += ce - cs;
                cur = Some((s, e));
            }
            None => cur = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = cur {
        covered += ce - cs;
    }
    stop.saturating_sub(start).saturating_sub(covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the kept tree as `func(children)` for compact assertions.
    fn shape(r: &Recorder, i: u32) -> String {
        let kids: Vec<String> = r.children(i).map(|c| shape(r, c)).collect();
        let me = if i == ROOT {
            "R".to_string()
        } else {
            r.nodes[i as usize].func.to_string()
        };
        if kids.is_empty() {
            me
        } else {
            format!("{me}({})", kids.join(","))
        }
    }

    fn check_links(r: &Recorder, i: u32) {
        let mut prev = NIL;
        for c in r.children(i) {
            assert_eq!(r.nodes[c as usize].parent, i, "parent of {c}");
            assert_eq!(r.nodes[c as usize].prev, prev, "prev of {c}");
            prev = c;
            check_links(r, c);
        }
        assert_eq!(r.nodes[i as usize].last_child, prev);
    }

    #[test]
    fn fast_calls_are_dropped_and_slow_ones_kept() {
        let mut r = Recorder::new(0, 10, 100, 64);
        r.enter(1, 0);
        r.leave(5); // fast: dropped
        r.enter(2, 5);
        r.leave(20); // slow: kept
        r.close_root(20);
        assert_eq!(shape(&r, ROOT), "R(2)");
        assert_eq!(r.kept_total, 1);
        check_links(&r, ROOT);
    }

    #[test]
    fn kept_grandchildren_are_reparented_through_dropped_parents() {
        let mut r = Recorder::new(0, 10, 100, 64);
        r.enter(1, 0); // fast wrapper
        r.enter(2, 1);
        r.enter(3, 2);
        r.leave(3); // dropped leaf
        let c = r.current();
        r.mark(c, flag::INSTRUMENTED);
        r.leave(4); // 2: flagged, kept although short
        r.leave(6); // 1: dropped, 2 moves to root
        r.enter(4, 6);
        r.leave(30);
        r.close_root(30);
        assert_eq!(shape(&r, ROOT), "R(2,4)");
        check_links(&r, ROOT);
    }

    #[test]
    fn fast_calls_never_touch_the_arena() {
        let mut r = Recorder::new(0, 10, 100, 64);
        for t in 0..1000 {
            r.enter(1, t);
            r.enter(2, t);
            r.leave(t + 1);
            r.leave(t + 1);
        }
        assert_eq!(r.nodes.len(), 1, "only the root has a node");
        assert_eq!(r.depth(), 0);
    }

    #[test]
    fn a_slow_call_deep_down_materialises_its_ancestors_in_order() {
        let mut r = Recorder::new(0, 10, 100, 64);
        r.enter(1, 0);
        r.enter(2, 1);
        r.enter(3, 2);
        r.enter(4, 3);
        r.leave(50); // 4 is slow: 1, 2, 3 get nodes, parents in order
        assert_eq!(r.nodes.len(), 5);
        r.leave(51); // 3: slow too (49 ticks), kept
        r.enter(5, 51);
        r.leave(52); // fast leaf under 2: no node
        assert_eq!(r.nodes.len(), 5);
        r.leave(53); // 2: slow
        r.leave(54); // 1: slow
        r.close_root(60);
        assert_eq!(shape(&r, ROOT), "R(1(2(3(4))))");
        check_links(&r, ROOT);
    }

    #[test]
    fn current_materialises_and_current_start_does_not() {
        let mut r = Recorder::new(7, 10, 100, 64);
        assert_eq!(r.current_start(), 7);
        r.enter(1, 8);
        r.enter(2, 9);
        assert_eq!(r.current_start(), 9);
        assert_eq!(r.nodes.len(), 1);
        let c = r.current();
        assert_eq!(r.nodes[c as usize].func, 2);
        let p = r.nodes[c as usize].parent;
        assert_eq!(r.nodes[p as usize].func, 1);
        assert_eq!(r.nodes[p as usize].parent, ROOT);
        assert_eq!(r.current(), c, "materialised once");
    }

    #[test]
    fn full_heap_evicts_the_fastest_and_splices_its_children() {
        let mut r = Recorder::new(0, 1, 2, 64);
        // a(0..100) contains b(10..20) and c(30..90)
        r.enter(1, 0);
        r.enter(2, 10);
        r.leave(20);
        r.enter(3, 30);
        r.leave(90);
        r.leave(100);
        // heap holds 2 of {a:100, b:10, c:60}: b was evicted when a closed.
        assert_eq!(r.kept(), 2);
        assert_eq!(shape(&r, ROOT), "R(1(3))");
        // A faster newcomer loses outright.
        r.enter(5, 100);
        r.leave(105);
        assert_eq!(shape(&r, ROOT), "R(1(3))");
        // A slower one evicts c; a keeps its place.
        r.enter(6, 105);
        r.leave(300);
        assert_eq!(shape(&r, ROOT), "R(1,6)");
        check_links(&r, ROOT);
        assert_eq!(r.evicted, 2);
    }

    #[test]
    fn eviction_keeps_chronological_order() {
        let mut r = Recorder::new(0, 1, 3, 64);
        r.enter(1, 0); // a 0..50 with x 1..40 (slow) inside
        r.enter(9, 1);
        r.leave(40);
        r.leave(50);
        r.enter(2, 50);
        r.leave(100);
        r.enter(3, 100);
        r.leave(160); // heap: x39, a50, b50 ... now c60 evicts x (39)
        assert_eq!(shape(&r, ROOT), "R(1,2,3)");
        r.enter(4, 160);
        r.leave(300); // evicts a or b (50 each): children stay in order
        check_links(&r, ROOT);
        let order: Vec<usize> = r.children(ROOT).map(|c| r.nodes[c as usize].func).collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted);
    }

    #[test]
    fn priority_flags_beat_duration() {
        let mut r = Recorder::new(0, 0, 1, 64);
        r.enter(1, 0);
        let c = r.current();
        r.mark(c, flag::LOG);
        r.leave(1);
        r.enter(2, 1);
        r.leave(1000);
        assert_eq!(shape(&r, ROOT), "R(1)");
    }

    #[test]
    fn deep_recursion_degrades_to_counting() {
        let mut r = Recorder::new(0, 0, 100, 4);
        for d in 0..10 {
            r.enter(d, d as u64);
        }
        assert_eq!(r.depth(), 4);
        assert_eq!(r.overflowed_calls, 6);
        for d in 0..10 {
            r.leave(100 - d as u64);
        }
        assert_eq!(r.depth(), 0);
        // Unbalanced leaves are ignored.
        r.leave(200);
        r.close_root(200);
        assert_eq!(shape(&r, ROOT), "R(0(1(2(3))))");
    }

    #[test]
    fn unwind_keeps_open_frames_and_drop_children_frees_them() {
        let mut r = Recorder::new(0, 50, 100, 64);
        r.enter(1, 0);
        r.enter(2, 1);
        r.enter(3, 2);
        r.leave(100); // kept
        r.unwind(101);
        assert_eq!(shape(&r, ROOT), "R(1(2(3)))");
        let one = r.children(ROOT).next().unwrap();
        r.drop_children(one);
        assert_eq!(shape(&r, ROOT), "R(1)");
        assert_eq!(r.kept(), 1);
        // Freed nodes are reused.
        let before = r.nodes.len();
        r.enter(7, 200);
        r.leave(201);
        assert_eq!(r.nodes.len(), before);
    }

    #[test]
    fn a_suspended_fiber_keeps_its_calls_off_the_stack() {
        const MAIN: usize = 1000;
        const FIBER: usize = 2000;
        let mut r = Recorder::new(0, 10, 100, 64);
        r.enter(1, 0); // outer(), which starts the fiber
        r.switch_context(MAIN, FIBER);
        r.enter(2, 5); // fiber_fn()
        r.switch_context(FIBER, MAIN); // Fiber::suspend()
        assert_eq!(r.depth(), 1);
        r.leave(70); // outer() ends: it is outer's frame that is popped
        r.enter(3, 200); // resumer()
        r.switch_context(MAIN, FIBER); // ->resume()
        assert_eq!(r.depth(), 2);
        r.leave(290); // fiber_fn() ends (285 ticks: kept)
        r.switch_context(FIBER, MAIN); // the fiber is done
        r.leave(300); // resumer() ends
        r.close_root(300);
        check_links(&r, ROOT);
        assert_eq!(shape(&r, ROOT), "R(1,3(2))");
        let durations: Vec<(usize, u64)> = r
            .children(ROOT)
            .map(|c| (r.nodes[c as usize].func, r.nodes[c as usize].duration()))
            .collect();
        assert_eq!(durations, [(1, 70), (3, 100)]);
        assert!(r.fibers.suspended.is_empty());
    }

    #[test]
    fn a_fiber_node_outlives_the_segment_it_started_under() {
        const MAIN: usize = 1000;
        const FIBER: usize = 2000;
        let mut r = Recorder::new(0, 10, 100, 64);
        r.enter(1, 0); // outer()
        r.switch_context(MAIN, FIBER);
        r.enter(2, 1); // fiber_fn()
        r.enter(4, 2); // db(): instrumented, kept: fiber_fn and outer get nodes
        let c = r.current();
        r.mark(c, flag::INSTRUMENTED);
        r.leave(3);
        r.switch_context(FIBER, MAIN); // suspended with fiber_fn materialised
        r.leave(5); // outer: short and plain, dropped: its node is freed...
        for t in 0..20 {
            // ...and reused by the next segments
            r.enter(9, 10 + t);
            let c = r.current();
            r.mark(c, flag::INSTRUMENTED);
            r.leave(10 + t);
        }
        r.enter(3, 100);
        r.switch_context(MAIN, FIBER);
        r.leave(200); // fiber_fn ends under the resumer
        r.switch_context(FIBER, MAIN);
        r.leave(210);
        r.close_root(210);
        check_links(&r, ROOT);
        let expected = format!("R({}3(2(4)))", "9,".repeat(20));
        assert_eq!(shape(&r, ROOT), expected);
    }

    #[test]
    fn overflowed_calls_stay_with_their_context() {
        let (main, fiber) = (1usize, 2usize);
        let mut r = Recorder::new(0, 1, 100, 2);
        r.enter(1, 0);
        r.enter(2, 1);
        r.enter(3, 2); // beyond the stack: counted
        r.switch_context(main, fiber); // resumed from deep down
        r.enter(10, 3); // the fiber's calls are beyond the stack too
        r.switch_context(fiber, main); // suspend
        r.leave(4); // main's overflowed call
        r.leave(5); // 2
        r.leave(6); // 1
        assert_eq!(r.depth(), 0);
        r.switch_context(main, fiber); // resumed at the top
        assert_eq!(r.depth(), 0, "its overflowed call is not a frame");
        r.leave(7); // 10, counted
        r.switch_context(fiber, main);
        r.close_root(8);
        check_links(&r, ROOT);
        assert_eq!(shape(&r, ROOT), "R(1(2))");
    }

    #[test]
    fn nested_fibers_and_a_fiber_destroyed_while_suspended() {
        let (main, a, b) = (1usize, 2usize, 3usize);
        let mut r = Recorder::new(0, 1, 100, 64);
        r.switch_context(main, a);
        r.enter(10, 1);
        r.switch_context(a, b); // a starts b
        r.enter(20, 2);
        r.switch_context(b, a); // b suspends back to a
        assert_eq!(r.depth(), 1);
        r.switch_context(a, main); // a suspends
        assert_eq!(r.depth(), 0);
        r.context_destroyed(b);
        r.switch_context(main, a); // a resumed, ends
        r.leave(30);
        r.switch_context(a, main);
        r.close_root(40);
        check_links(&r, ROOT);
        assert_eq!(shape(&r, ROOT), "R(10)");
        assert!(r.fibers.suspended.is_empty());
    }

    #[test]
    fn extras_are_created_and_released() {
        let mut r = Recorder::new(0, 1000, 10, 8);
        r.enter(1, 0);
        let i = r.current();
        r.extra_mut(i).name = Some("x".into());
        assert_eq!(r.extra(i).unwrap().name.as_deref(), Some("x"));
        // Unflagged and short: dropped, extra freed and reused.
        r.leave(1);
        r.enter(2, 1);
        let j = r.current();
        assert!(r.extra(j).is_none());
        r.extra_mut(j);
        assert_eq!(r.nodes[j as usize].extra, 0);
    }

    #[test]
    fn exclusive_time_subtracts_the_union_of_children() {
        assert_eq!(exclusive(0, 100, &mut []), 100);
        assert_eq!(exclusive(0, 100, &mut [(10, 20), (30, 40)]), 80);
        assert_eq!(exclusive(0, 100, &mut [(30, 60), (10, 40)]), 50);
        assert_eq!(exclusive(0, 100, &mut [(90, 150), (0, 5)]), 85);
        assert_eq!(exclusive(10, 10, &mut [(0, 20)]), 0);
    }
}
