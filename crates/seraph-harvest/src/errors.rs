//! Error traces (protocol.md §4.7): the highest-priority errors,
//! kept as the agent's JSON.

use crate::goheap;

#[derive(Debug, Clone, PartialEq)]
struct ErrorTrace {
    priority: i32,
    data: Box<str>,
}

fn lower(a: &ErrorTrace, b: &ErrorTrace) -> bool {
    a.priority < b.priority
}

/// A min-heap on the agent's error priority, bounded at `max`. A newcomer
/// must beat the minimum strictly: on ties the earlier error stays.
/// Error traces are never retried after a failed post.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorTraces {
    max: usize,
    heap: Vec<ErrorTrace>,
}

impl ErrorTraces {
    /// An empty collection holding at most `max` errors.
    pub fn new(max: usize) -> Self {
        ErrorTraces {
            max,
            heap: Vec::new(),
        }
    }

    /// Observes an error, copying `data` only if it is kept.
    pub fn add(&mut self, priority: i32, data: &str) {
        if self.heap.len() >= self.max {
            match self.heap.first() {
                Some(min) if priority > min.priority => {
                    goheap::pop(&mut self.heap, lower);
                }
                _ => return,
            }
        }
        goheap::push(
            &mut self.heap,
            ErrorTrace {
                priority,
                data: data.into(),
            },
            lower,
        );
    }

    /// Moves about half of the errors into a new collection, for a payload
    /// the collector refused as too large (413). `None` (and nothing moved)
    /// for fewer than two errors.
    pub fn split_off_half(&mut self) -> Option<ErrorTraces> {
        if self.heap.len() < 2 {
            return None;
        }
        let mut moved = self.heap.split_off(self.heap.len() / 2);
        goheap::init(&mut self.heap, lower);
        goheap::init(&mut moved, lower);
        Some(ErrorTraces {
            max: self.max,
            heap: moved,
        })
    }

    /// Errors held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no error is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The errors' JSON in payload (heap storage) order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.heap.iter().map(|e| &*e.data)
    }

    /// The errors with their priorities, in payload order.
    pub fn iter_with_priority(&self) -> impl ExactSizeIterator<Item = (i32, &str)> + '_ {
        self.heap.iter().map(|e| (e.priority, &*e.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(e: &ErrorTraces) -> Vec<(i32, &str)> {
        let mut v: Vec<_> = e.iter_with_priority().collect();
        v.sort();
        v
    }

    #[test]
    fn keeps_highest_priorities_and_ties_favour_earlier() {
        let mut e = ErrorTraces::new(2);
        e.add(50, "a");
        e.add(40, "b");
        e.add(40, "tie"); // not strictly greater than the minimum 40
        assert_eq!(kept(&e), vec![(40, "b"), (50, "a")]);
        e.add(45, "c"); // evicts b
        assert_eq!(kept(&e), vec![(45, "c"), (50, "a")]);
        e.add(10, "low");
        assert_eq!(kept(&e), vec![(45, "c"), (50, "a")]);
        e.add(100, "d");
        assert_eq!(kept(&e), vec![(50, "a"), (100, "d")]);
    }

    #[test]
    fn split_off_half_keeps_every_error_once() {
        let mut e = ErrorTraces::new(20);
        for i in 0..7 {
            e.add(i, &format!("e{i}"));
        }
        let mut a = e.clone();
        let b = a.split_off_half().unwrap();
        assert_eq!((a.len(), b.len()), (3, 4));
        let mut all: Vec<_> = kept(&a).into_iter().chain(kept(&b)).collect();
        all.sort();
        assert_eq!(all, kept(&e));
        let mut one = ErrorTraces::new(20);
        one.add(1, "x");
        assert!(one.split_off_half().is_none());
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn default_cap_is_respected() {
        let mut e = ErrorTraces::new(20);
        for i in 0..50 {
            e.add(i, "x");
        }
        assert_eq!(e.len(), 20);
        assert_eq!(kept(&e)[0].0, 30);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut e = ErrorTraces::new(0);
        e.add(100, "x");
        assert!(e.is_empty());
    }

    #[test]
    fn storage_order_is_go_heap_order() {
        let mut e = ErrorTraces::new(20);
        for (p, d) in [(50, "a"), (40, "b"), (100, "c"), (30, "d")] {
            e.add(p, d);
        }
        // push a: [a]; push b: up → [b a]; push c: [b a c];
        // push d: at 3, parent 1 (a 50) → swap → [b d c a], parent 0 (b 40) → swap → [d b c a].
        assert_eq!(e.iter().collect::<Vec<_>>(), vec!["d", "b", "c", "a"]);
    }
}
