//! Randomness comes in from outside (the extension passes an [`IdSource`]),
//! so every guid, trace id and priority is reproducible under test.

/// A source of random numbers for guids and priorities.
pub trait IdSource {
    /// A uniformly random 64-bit value.
    fn next_u64(&mut self) -> u64;
    /// A uniformly random value in `[0, 1)`.
    fn next_f64(&mut self) -> f64;
}

/// SplitMix64: tiny, fast, statistically fine for ids, and seedable.
#[derive(Clone, Debug)]
pub struct SeededIds {
    state: u64,
}

impl SeededIds {
    /// A generator that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        SeededIds { state: seed }
    }
}

impl IdSource for SeededIds {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl<T: IdSource + ?Sized> IdSource for &mut T {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
    fn next_f64(&mut self) -> f64 {
        (**self).next_f64()
    }
}

/// A 16-hex-digit guid, as the agent makes them for transactions and spans.
pub fn guid(ids: &mut impl IdSource) -> String {
    // By hand: every span event of a transaction gets one, and `format!`
    // costs several times more.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = ids.next_u64();
    let mut s = String::with_capacity(16);
    for i in 0..16 {
        s.push(char::from(HEX[((v >> (60 - 4 * i)) & 0xf) as usize]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_stay_in_range() {
        let mut a = SeededIds::new(7);
        let mut b = SeededIds::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let f = a.next_f64();
            b.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        let g = guid(&mut a);
        assert_eq!(g.len(), 16);
        assert!(g
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn guids_are_the_zero_padded_lowercase_hex_of_the_next_number() {
        let (mut a, mut b) = (SeededIds::new(3), SeededIds::new(3));
        for _ in 0..1000 {
            assert_eq!(guid(&mut a), format!("{:016x}", b.next_u64()));
        }
    }
}
