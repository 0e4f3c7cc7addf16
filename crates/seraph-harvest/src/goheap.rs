//! Binary min-heap operations with exactly the sift steps of Go's
//! `container/heap`.
//!
//! The payloads list reservoir, error and trace entries in their storage
//! order, so reproducing Go's swaps keeps our payload order identical to the
//! Go daemon's for the same input sequence (handy when comparing captures),
//! which `std::collections::BinaryHeap` would not.

/// Restores the heap property over the whole slice (`heap.Init`).
pub fn init<T>(h: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = h.len();
    if n < 2 {
        return;
    }
    for i in (0..n / 2).rev() {
        down(h, i, n, &less);
    }
}

/// Appends `x` and sifts it up (`heap.Push`).
pub fn push<T>(h: &mut Vec<T>, x: T, less: impl Fn(&T, &T) -> bool) {
    h.push(x);
    let last = h.len() - 1;
    up(h, last, &less);
}

/// Removes and returns the minimum (`heap.Pop`).
pub fn pop<T>(h: &mut Vec<T>, less: impl Fn(&T, &T) -> bool) -> Option<T> {
    let n = h.len().checked_sub(1)?;
    h.swap(0, n);
    down(h, 0, n, &less);
    h.pop()
}

fn up<T>(h: &mut [T], mut j: usize, less: &impl Fn(&T, &T) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn down<T>(h: &mut [T], i0: usize, n: usize, less: &impl Fn(&T, &T) -> bool) {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_ascending_order() {
        let less = |a: &i32, b: &i32| a < b;
        let mut h = vec![5, 3, 9, 1, 7, 2, 8];
        init(&mut h, less);
        push(&mut h, 0, less);
        push(&mut h, 6, less);
        let mut out = Vec::new();
        while let Some(x) = pop(&mut h, less) {
            out.push(x);
        }
        assert_eq!(out, vec![0, 1, 2, 3, 5, 6, 7, 8, 9]);
        assert_eq!(pop(&mut Vec::<i32>::new(), less), None);
    }

    /// The storage order Go's `heap.Init` leaves for `[5 3 9 1 7 2 8]`:
    /// down(2): 9 vs children 2,8 → swap with 2 → [5 3 2 1 7 9 8];
    /// down(1): 3 vs 1,7 → swap with 1 → [5 1 2 3 7 9 8];
    /// down(0): 5 vs 1,2 → swap 1, then 5 vs 3,7 → swap 3 → [1 3 2 5 7 9 8].
    #[test]
    fn init_reproduces_go_storage_order() {
        let mut h = vec![5, 3, 9, 1, 7, 2, 8];
        init(&mut h, |a: &i32, b: &i32| a < b);
        assert_eq!(h, vec![1, 3, 2, 5, 7, 9, 8]);
    }
}
