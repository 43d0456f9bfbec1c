//! Connections over the cap: each is answered 503 and counted, but a flood must not write a
//! log line per connection, so the warning comes at most once a second and says how many
//! connections were refused since the last one.

use std::time::Instant;

use crate::tftp::refusals::RefusalBudget;

/// The log side of the refusals: TFTP's token bucket, spent on lines instead of replies.
#[derive(Debug, Clone)]
pub struct BusyLog {
    lines: RefusalBudget,
    /// Refusals since the last line.
    unlogged: u64,
}

impl Default for BusyLog {
    fn default() -> Self {
        BusyLog {
            lines: RefusalBudget::new(1, 1),
            unlogged: 0,
        }
    }
}

impl BusyLog {
    /// Notes one refusal at `now`. When a line is due, the refusals it reports: those since
    /// the last line, this one included.
    pub fn refused(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        self.lines
            .allow(now)
            .then(|| std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_line_a_second_carrying_the_count() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut log = BusyLog::default();
        assert_eq!(
            log.refused(t0),
            Some(1),
            "the first refusal is logged at once"
        );
        for i in 0..99 {
            assert_eq!(log.refused(t0 + ms(i * 9)), None);
        }
        assert_eq!(log.refused(t0 + ms(1000)), Some(100));
        assert_eq!(log.refused(t0 + ms(1001)), None);
        // After a quiet spell, the next refusal is logged at once again.
        assert_eq!(log.refused(t0 + ms(60_000)), Some(2));
    }
}
