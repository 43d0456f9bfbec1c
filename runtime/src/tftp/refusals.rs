//! A budget for ERROR replies from the listening port. Each refusal is a datagram sent to
//! whatever source address a request claims, and a two-byte junk packet earns a forty-byte
//! error, so without a bound the server would amplify a spoofed flood at a victim on the LAN.
//! Refusals over budget are dropped silently (the log still counts them).

use std::time::{Duration, Instant};

/// A token bucket: `burst` refusals at once, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct RefusalBudget {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RefusalBudget {
    pub fn new(burst: u32, per_second: u32) -> RefusalBudget {
        RefusalBudget {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_second),
            tokens: f64::from(burst.max(1)),
            last: None,
        }
    }

    /// Whether a refusal may be sent now; spends one if so.
    pub fn allow(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now
                .saturating_duration_since(last)
                .min(Duration::from_secs(3600));
            self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let t0 = Instant::now();
        let mut b = RefusalBudget::new(3, 10);
        assert!((0..3).all(|_| b.allow(t0)));
        assert!(!b.allow(t0), "burst spent");
        assert!(!b.allow(t0 + Duration::from_millis(50)), "half a token");
        assert!(b.allow(t0 + Duration::from_millis(110)));
        assert!(!b.allow(t0 + Duration::from_millis(110)));
        // A long quiet spell refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.allow(later)).count(), 3);
    }

    #[test]
    fn time_going_backwards_does_not_panic_or_mint_tokens() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = RefusalBudget::new(1, 1);
        assert!(b.allow(t0));
        assert!(!b.allow(t0 - Duration::from_secs(5)));
    }
}
