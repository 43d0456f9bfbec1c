//! How long a transfer waits for a silent client: retransmission delays that double from the
//! negotiated timeout, and the total a transfer holds its slot before giving up. Shared by the
//! option negotiation (which must not promise more than this) and the transfer itself.

use std::time::Duration;

/// Retransmission delays double from the negotiated timeout up to this many times it.
const MAX_BACKOFF_FACTOR: u32 = 8;

/// Retransmissions without progress before a transfer is abandoned, unless configured.
pub const DEFAULT_RETRIES: u32 = 5;

/// How long `retries` retransmissions take without an answer, starting at `timeout` and
/// backing off as a transfer does: the time a silent client holds its transfer.
pub fn patience(timeout: Duration, retries: u32) -> Duration {
    (0..=retries)
        .map(|retry| timeout * backoff_factor(retry))
        .sum()
}

/// The multiple of the timeout to wait before retransmission number `retries` (0-based).
pub fn backoff_factor(retries: u32) -> u32 {
    (1u32 << retries.min(16)).min(MAX_BACKOFF_FACTOR)
}
