//! A small seeded generator (splitmix64): reproducible kill points and cases. The seed comes
//! from `RHA_TEST_SEED` or the clock and is printed, so a failing run can be repeated.

use std::time::{SystemTime, UNIX_EPOCH};

/// Set to repeat a run's random choices.
pub const SEED_ENV: &str = "RHA_TEST_SEED";

#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    seed: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed, seed }
    }

    /// Seeded from `RHA_TEST_SEED`, else the clock; says which on stderr.
    pub fn from_env_or_clock(what: &str) -> Rng {
        let seed = std::env::var(SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
        });
        eprintln!("{what}: random seed {seed} (set {SEED_ENV}={seed} to repeat)");
        Rng::new(seed)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_spread() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        for k in 0..10 {
            assert!(xs.contains(&k), "{k} never drawn");
        }
        assert_eq!(a.below(0), 0);
    }
}
