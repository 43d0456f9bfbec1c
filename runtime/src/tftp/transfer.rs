//! One read transfer as a state machine over datagrams and time, with no sockets in it.
//!
//! The driver feeds it the client's datagrams ([`Transfer::on_packet`]) and the passing of
//! its deadline ([`Transfer::on_timeout`]), and after each call sends what
//! [`Transfer::datagrams`] holds. Blocks are counted in `u64` here and only the wire sees the
//! 16-bit number, so a file of more than 65535 blocks simply wraps to 0 on the wire.
//!
//! Retransmission is driven by the timer alone: an ACK that does not acknowledge anything new
//! (a duplicate, a late one, or one for a block never sent) is dropped, so a duplicated ACK can
//! never double the traffic (the Sorcerer's Apprentice bug of RFC 1350), and a stream of junk
//! ACKs cannot keep a dead transfer alive.

use std::time::{Duration, Instant};

use super::backoff::backoff_factor;
pub use super::backoff::{patience, DEFAULT_RETRIES};
use super::options::Negotiated;
use super::packet::{self, ErrorCode, Packet};
use crate::body::Body;

/// Bytes served between checks that the file was not written to in place (a `fstat`): often
/// enough to stop a spoiled transfer early, rare enough to stay off the per-block path. The
/// window with the last block is always checked, so a client never completes a file whose
/// bytes changed under it.
const CHANGE_CHECK_BYTES: u64 = 1 << 20;

/// Largest window read ahead: one 65464-byte lockstep block, or 16 blocks of 1468 or 4096. It
/// is a second buffer per transfer, so larger windows (which amortise the read anyway) do not.
const READ_AHEAD_BYTES: usize = 64 << 10;

/// How a transfer ended badly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("client sent TFTP error {code}: {message}")]
    ClientError { code: u16, message: String },
    #[error("no answer after {retries} retransmissions")]
    GaveUp { retries: u32 },
    #[error("cannot read the file: {0}")]
    Read(String),
    #[error("client broke the protocol: {0}")]
    Protocol(String),
    #[error("file changed during transfer: {0}")]
    Changed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The OACK is out; the client's ACK 0 starts the data.
    AwaitingOackAck,
    Sending,
    Done,
    Failed(Failure),
}

/// A read transfer in progress.
#[derive(Debug)]
pub struct Transfer {
    body: Body,
    blksize: usize,
    windowsize: u64,
    timeout: Duration,
    max_retries: u32,
    /// No retransmission is scheduled, and the transfer gives up, this long after
    /// `quiet_since`, the start or the client's last progress: however long the negotiated
    /// timeout, a silent client holds its place for a bounded time.
    give_up_after: Duration,
    quiet_since: Instant,
    /// Number of the final block: it is shorter than `blksize`, possibly empty.
    last_block: u64,
    /// Highest block the client has acknowledged.
    acked: u64,
    /// Highest block of the window now in flight.
    window_last: u64,
    /// Last block of the window that was last checked against changes to the file.
    checked: u64,
    /// The datagrams of the window in flight (or the OACK), back to back, kept for
    /// retransmission; `ends[i]` is where datagram `i` ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The next window, read ahead while the client's ACK is on its way (see
    /// [`Transfer::prefetch`]), laid out like `out`; `ahead` is its first block, 0 for none.
    next: Vec<u8>,
    next_ends: Vec<usize>,
    ahead: u64,
    /// Whether the last event asks the driver to send `out`.
    send: bool,
    retries: u32,
    deadline: Option<Instant>,
    state: State,
    /// Whether the client has acknowledged anything (the OACK or a block).
    answered: bool,
}

impl Transfer {
    /// Starts serving `body` with the negotiated settings: the first datagrams (OACK or the
    /// first window) are ready in [`Transfer::datagrams`].
    pub fn start(body: Body, settings: &Negotiated, max_retries: u32, now: Instant) -> Transfer {
        let blksize = usize::from(settings.blksize.max(1));
        let mut t = Transfer {
            last_block: body.len() / blksize as u64 + 1,
            body,
            blksize,
            windowsize: u64::from(settings.windowsize.max(1)),
            timeout: settings.timeout,
            max_retries,
            give_up_after: settings.give_up_after,
            quiet_since: now,
            acked: 0,
            window_last: 0,
            checked: 0,
            out: Vec::new(),
            ends: Vec::new(),
            next: Vec::new(),
            next_ends: Vec::new(),
            ahead: 0,
            send: false,
            retries: 0,
            deadline: None,
            state: State::Sending,
            answered: false,
        };
        if settings.oack.is_empty() {
            t.send_window(now);
        } else {
            packet::put_oack(&mut t.out, &settings.oack);
            t.ends.push(t.out.len());
            t.state = State::AwaitingOackAck;
            t.arm(now);
        }
        t
    }

    /// The datagrams the last event produced, in order; empty when there is nothing to send.
    /// They stay here until the next event, so a driver sends them once, right after the call
    /// that produced them.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        let ends = if self.send { &self.ends[..] } else { &[] };
        let mut start = 0;
        ends.iter().map(move |&end| {
            let d = &self.out[start..end];
            start = end;
            d
        })
    }

    /// The same datagrams as [`Transfer::datagrams`], as one buffer and the offset where each
    /// ends: they lie back to back, which lets the driver hand a window to the kernel at once.
    pub fn outgoing(&self) -> (&[u8], &[usize]) {
        if self.send {
            (
                &self.out[..self.ends.last().copied().unwrap_or(0)],
                &self.ends,
            )
        } else {
            (&[], &[])
        }
    }

    /// When [`Transfer::on_timeout`] is due; `None` once the transfer is over.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the transfer is over, either way.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done | State::Failed(_))
    }

    /// `None` while running, then how it ended.
    pub fn outcome(&self) -> Option<Result<(), &Failure>> {
        match &self.state {
            State::Done => Some(Ok(())),
            State::Failed(f) => Some(Err(f)),
            _ => None,
        }
    }

    pub fn blksize(&self) -> usize {
        self.blksize
    }

    pub fn windowsize(&self) -> u64 {
        self.windowsize
    }

    /// Size of the file being served.
    pub fn len(&self) -> u64 {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Bytes the client has acknowledged.
    pub fn bytes_acked(&self) -> u64 {
        (self.acked * self.blksize as u64).min(self.body.len())
    }

    /// Whether the client has acknowledged anything yet (the OACK or a block): until then a
    /// repeat of its request is a retransmission, after it a new request.
    pub fn client_answered(&self) -> bool {
        self.answered
    }

    /// Whether the final block has been sent at least once (acknowledged or not).
    pub fn last_block_sent(&self) -> bool {
        self.window_last == self.last_block
    }

    /// Retransmissions made so far without progress.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// A datagram from the client's address and port.
    pub fn on_packet(&mut self, datagram: &[u8], now: Instant) {
        self.send = false;
        if self.is_finished() {
            return;
        }
        match packet::parse(datagram) {
            Ok(Packet::Ack { block }) => self.on_ack(block, now),
            Ok(Packet::Error { code, message }) => {
                self.finish(State::Failed(Failure::ClientError { code, message }));
            }
            // Noise too short to be a packet: dropped, the timer still runs.
            Err(packet::PacketError::Truncated(_)) => {}
            Ok(other) => self.fail_protocol(&format!("unexpected {}", kind(&other))),
            Err(e) => self.fail_protocol(&e.to_string()),
        }
    }

    /// Reads ahead the window a full ACK of the one in flight will ask for, so that ACK is
    /// answered without waiting for a read: a transfer goes at one window per round trip, and
    /// for lockstep (windowsize 1, what PXE ROMs speak) the read is a good part of it. Windows
    /// up to `READ_AHEAD_BYTES` only. Call it after sending, while the client has the turn;
    /// what [`Transfer::datagrams`] holds is unchanged.
    pub fn prefetch(&mut self) {
        let first = self.window_last + 1;
        let small = self.windowsize as usize * self.blksize <= READ_AHEAD_BYTES;
        let idle = self.is_finished() || !small || first > self.last_block;
        if idle || self.ahead == first {
            return;
        }
        let last = (self.window_last + self.windowsize).min(self.last_block);
        let (next, ends) = (&mut self.next, &mut self.next_ends);
        // A failed read is left for the real one, which reports it.
        self.ahead = match lay_out(&self.body, self.blksize, first, last, next, ends) {
            Ok(()) => first,
            Err(_) => 0,
        };
    }

    /// The deadline passed: retransmit what is in flight, or give up.
    pub fn on_timeout(&mut self, now: Instant) {
        self.send = false;
        match self.deadline {
            Some(d) if d <= now => {}
            _ => return,
        }
        if self.retries >= self.max_retries || now >= self.give_up_at() {
            let retries = self.retries;
            self.reply_error(ErrorCode::NotDefined, "timed out waiting for an ACK");
            self.finish(State::Failed(Failure::GaveUp { retries }));
            return;
        }
        self.retries += 1;
        self.send = true;
        self.arm(now);
    }

    fn on_ack(&mut self, wire: u16, now: Instant) {
        if self.state == State::AwaitingOackAck {
            if wire == 0 {
                self.state = State::Sending;
                self.answered = true;
                self.progress(now);
                self.send_window(now);
            }
            return;
        }
        // The only blocks an ACK can name are `acked..=window_last`, fewer than 65536 of them,
        // so the 16-bit number maps back to exactly one candidate.
        let offset = u64::from(wire.wrapping_sub(self.acked as u16));
        let block = self.acked + offset;
        if offset == 0 || block > self.window_last {
            return;
        }
        self.acked = block;
        self.answered = true;
        self.progress(now);
        if block == self.last_block {
            self.finish(State::Done);
        } else {
            // RFC 7440: after a partial ACK the next window starts right after it.
            self.send_window(now);
        }
    }

    /// Lays out blocks `acked+1 ..` (up to a window) as DATA datagrams in `out`, from the window
    /// read ahead when it starts there (after a full ACK; it then ends where this one would),
    /// else with one read.
    fn send_window(&mut self, now: Instant) {
        let first = self.acked + 1;
        let last = (self.acked + self.windowsize).min(self.last_block);
        if self.ahead != 0 && self.ahead == first {
            std::mem::swap(&mut self.out, &mut self.next);
            std::mem::swap(&mut self.ends, &mut self.next_ends);
        } else if let Err(msg) = lay_out(
            &self.body,
            self.blksize,
            first,
            last,
            &mut self.out,
            &mut self.ends,
        ) {
            return self.fail_read(msg);
        }
        self.ahead = 0;
        // Checked after the bytes were read, so any write before the read is seen.
        let spacing = last.saturating_sub(self.checked) * self.blksize as u64;
        if last == self.last_block || spacing >= CHANGE_CHECK_BYTES {
            self.checked = last;
            if let Some(why) = self.body.changed_since_open() {
                return self.fail_changed(why);
            }
        }
        self.window_last = last;
        self.arm(now);
    }

    /// The client acknowledged something new.
    fn progress(&mut self, now: Instant) {
        self.retries = 0;
        self.quiet_since = now;
    }

    fn give_up_at(&self) -> Instant {
        self.quiet_since + self.give_up_after
    }

    /// Sends now and sets the deadline for the current attempt.
    fn arm(&mut self, now: Instant) {
        self.send = true;
        let due = now + self.timeout * backoff_factor(self.retries);
        self.deadline = Some(due.min(self.give_up_at()));
    }

    fn fail_read(&mut self, message: String) {
        self.reply_error(ErrorCode::NotDefined, "cannot read the file");
        self.finish(State::Failed(Failure::Read(message)));
    }

    /// RFC 1350 has no code for this; 0 ("not defined, see the message") says it without
    /// misleading the client: 1 would claim the name is wrong, 2 a permission problem.
    fn fail_changed(&mut self, why: String) {
        self.reply_error(ErrorCode::NotDefined, "file changed during transfer");
        self.finish(State::Failed(Failure::Changed(why)));
    }

    fn fail_protocol(&mut self, message: &str) {
        self.reply_error(ErrorCode::IllegalOperation, message);
        self.finish(State::Failed(Failure::Protocol(message.to_owned())));
    }

    fn reply_error(&mut self, code: ErrorCode, message: &str) {
        self.out.clear();
        packet::put_error(&mut self.out, code, message);
        self.ends.clear();
        self.ends.push(self.out.len());
        self.send = true;
    }

    fn finish(&mut self, state: State) {
        self.state = state;
        self.deadline = None;
        // The window buffer can be large; a finished transfer keeps only an error to send.
        if !self.send {
            self.out = Vec::new();
            self.ends = Vec::new();
        }
        self.next = Vec::new();
        self.next_ends = Vec::new();
        self.ahead = 0;
    }
}

/// Reads blocks `first..=last` of `body` with one read and lays them out as DATA datagrams in
/// `out`, datagram `i` ending at `ends[i]`. The buffers are reused: nothing is allocated once
/// they have grown to a window.
fn lay_out(
    body: &Body,
    blksize: usize,
    first: u64,
    last: u64,
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), String> {
    let count = (last - first + 1) as usize;
    let start = (first - 1) * blksize as u64;
    let want = ((last * blksize as u64).min(body.len()) - start) as usize;
    // Read the window after room for every header, then slide each block down to sit behind
    // its header.
    let headers = 4 * count;
    out.clear();
    out.resize(headers + want, 0);
    match body.read_at(start, &mut out[headers..]) {
        Ok(n) if n == want => {}
        Ok(n) => {
            let len = body.len();
            return Err(format!(
                "file ended after {} of {len} bytes",
                start + n as u64
            ));
        }
        Err(e) => return Err(e.to_string()),
    }
    ends.clear();
    let mut pos = 0;
    for i in 0..count {
        let src = headers + i * blksize;
        let len = blksize.min(headers + want - src);
        let block = first + i as u64;
        out[pos..pos + 2].copy_from_slice(&packet::OP_DATA.to_be_bytes());
        out[pos + 2..pos + 4].copy_from_slice(&(block as u16).to_be_bytes());
        out.copy_within(src..src + len, pos + 4);
        pos += 4 + len;
        ends.push(pos);
    }
    out.truncate(pos);
    Ok(())
}

fn kind(p: &Packet<'_>) -> &'static str {
    match p {
        Packet::Read(_) => "read request",
        Packet::Write(_) => "write request",
        Packet::Data { .. } => "DATA",
        Packet::Ack { .. } => "ACK",
        Packet::Error { .. } => "ERROR",
        Packet::Oack => "OACK",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tftp::options::{negotiate, Limits};
    use std::sync::Arc;

    fn body(len: usize) -> Body {
        Body::Memory(
            (0..len)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<_>>()
                .into(),
        )
    }

    fn settings(blksize: u16, windowsize: u16, oack: bool) -> Negotiated {
        Negotiated {
            blksize,
            windowsize,
            timeout: Duration::from_secs(1),
            give_up_after: Limits::default().give_up_after,
            oack: if oack {
                vec![("blksize", blksize.to_string())]
            } else {
                vec![]
            },
        }
    }

    fn ack(block: u16) -> Vec<u8> {
        let mut p = packet::OP_ACK.to_be_bytes().to_vec();
        p.extend_from_slice(&block.to_be_bytes());
        p
    }

    /// (block, payload) of every DATA datagram queued, panicking on anything else.
    fn data(t: &Transfer) -> Vec<(u16, Vec<u8>)> {
        t.datagrams()
            .map(|d| {
                assert_eq!(&d[..2], &packet::OP_DATA.to_be_bytes(), "not DATA: {d:?}");
                (u16::from_be_bytes([d[2], d[3]]), d[4..].to_vec())
            })
            .collect()
    }

    fn blocks(t: &Transfer) -> Vec<u16> {
        data(t).into_iter().map(|(b, _)| b).collect()
    }

    fn error_code(t: &Transfer) -> u16 {
        let all: Vec<&[u8]> = t.datagrams().collect();
        assert_eq!(all.len(), 1, "expected exactly one ERROR");
        assert_eq!(&all[0][..2], &packet::OP_ERROR.to_be_bytes());
        u16::from_be_bytes([all[0][2], all[0][3]])
    }

    #[test]
    fn lockstep_transfer_ends_with_a_short_block() {
        let now = Instant::now();
        let b = body(1000);
        let mut t = Transfer::start(b.clone(), &settings(512, 1, false), 5, now);
        let first = data(&t);
        assert!(!t.last_block_sent());
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0, 1);
        assert_eq!(first[0].1.len(), 512);
        t.on_packet(&ack(1), now);
        let second = data(&t);
        assert_eq!(second[0].0, 2);
        assert_eq!(second[0].1.len(), 488);
        let mut whole = first[0].1.clone();
        whole.extend_from_slice(&second[0].1);
        let mut expect = vec![0; 1000];
        b.read_at(0, &mut expect).unwrap();
        assert_eq!(whole, expect);
        t.on_packet(&ack(2), now);
        assert!(t.last_block_sent());
        assert_eq!(t.outcome(), Some(Ok(())));
        assert_eq!(t.datagrams().count(), 0);
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.bytes_acked(), 1000);
    }

    #[test]
    fn exact_multiple_ends_with_an_empty_block_and_empty_file_is_one_empty_block() {
        let now = Instant::now();
        let mut t = Transfer::start(body(1024), &settings(512, 8, false), 5, now);
        let d = data(&t);
        assert_eq!(
            d.iter().map(|x| x.1.len()).collect::<Vec<_>>(),
            [512, 512, 0]
        );
        t.on_packet(&ack(3), now);
        assert_eq!(t.outcome(), Some(Ok(())));

        let mut t = Transfer::start(body(0), &settings(512, 1, false), 5, now);
        assert_eq!(data(&t), vec![(1, vec![])]);
        t.on_packet(&ack(1), now);
        assert_eq!(t.outcome(), Some(Ok(())));
    }

    #[test]
    fn oack_waits_for_ack_zero() {
        let now = Instant::now();
        let n = negotiate(
            &[(b"blksize", b"1000"), (b"tsize", b"0")],
            3000,
            &Limits::default(),
        );
        let mut t = Transfer::start(body(3000), &n, 5, now);
        let out: Vec<&[u8]> = t.datagrams().collect();
        assert_eq!(out, [&b"\x00\x06blksize\x001000\0tsize\x003000\0"[..]]);
        t.on_packet(&ack(1), now);
        assert_eq!(t.datagrams().count(), 0, "ACK 1 before any data is ignored");
        assert!(!t.client_answered());
        t.on_packet(&ack(0), now);
        assert!(t.client_answered());
        assert_eq!(blocks(&t), [1]);
        assert_eq!(data(&t)[0].1.len(), 1000);
        t.on_packet(&ack(0), now);
        assert_eq!(t.datagrams().count(), 0, "a second ACK 0 sends nothing");
    }

    #[test]
    fn windows_advance_on_full_and_partial_acks_and_ignore_everything_else() {
        let now = Instant::now();
        // 9.5 blocks of 512: blocks 1..=10, the last one 256 bytes.
        let mut t = Transfer::start(body(512 * 9 + 256), &settings(512, 4, false), 5, now);
        assert_eq!(blocks(&t), [1, 2, 3, 4]);
        t.on_packet(&ack(4), now);
        assert_eq!(blocks(&t), [5, 6, 7, 8]);
        // Sorcerer's Apprentice: the same ACK again must not send the window again.
        t.on_packet(&ack(4), now);
        assert_eq!(t.datagrams().count(), 0);
        // A late ACK from an older window.
        t.on_packet(&ack(2), now);
        assert_eq!(t.datagrams().count(), 0);
        // ACKs for blocks never sent.
        t.on_packet(&ack(9), now);
        t.on_packet(&ack(60000), now);
        assert_eq!(t.datagrams().count(), 0);
        // Partial ACK: block 7 was lost, the client acknowledges 6, the window restarts at 7.
        t.on_packet(&ack(6), now);
        assert_eq!(blocks(&t), [7, 8, 9, 10]);
        assert_eq!(data(&t)[3].1.len(), 256);
        t.on_packet(&ack(6), now);
        assert_eq!(t.datagrams().count(), 0);
        t.on_packet(&ack(10), now);
        assert_eq!(t.outcome(), Some(Ok(())));
    }

    #[test]
    fn timeouts_retransmit_the_same_window_with_backoff_then_give_up() {
        let t0 = Instant::now();
        let mut t = Transfer::start(body(5000), &settings(512, 3, false), 3, t0);
        let sent: Vec<Vec<u8>> = t.datagrams().map(<[u8]>::to_vec).collect();
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        t.on_timeout(t0 + Duration::from_millis(999));
        assert_eq!(t.datagrams().count(), 0, "not due yet");
        let mut now = t0 + Duration::from_secs(1);
        for (retry, wait) in [(1, 2), (2, 4), (3, 8)] {
            t.on_timeout(now);
            let again: Vec<Vec<u8>> = t.datagrams().map(<[u8]>::to_vec).collect();
            assert_eq!(again, sent, "retry {retry} resends the window unchanged");
            assert_eq!(t.retries(), retry);
            assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(wait)));
            now += Duration::from_secs(wait);
        }
        t.on_timeout(now);
        assert_eq!(error_code(&t), 0);
        assert_eq!(t.outcome(), Some(Err(&Failure::GaveUp { retries: 3 })));
        assert_eq!(t.next_deadline(), None);
        t.on_packet(&ack(3), now);
        assert_eq!(t.datagrams().count(), 0, "a finished transfer stays silent");
    }

    #[test]
    fn a_negotiated_timeout_sets_the_retransmission_interval() {
        let limits = Limits {
            timeout: Duration::from_secs(5),
            ..Limits::default()
        };
        let t0 = Instant::now();
        let n = negotiate(&[(b"timeout", b"1")], 5000, &limits);
        let mut t = Transfer::start(body(5000), &n, 5, t0);
        let oack: Vec<Vec<u8>> = t.datagrams().map(<[u8]>::to_vec).collect();
        assert_eq!(oack, [b"\x00\x06timeout\x001\0"]);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        t.on_timeout(t0 + Duration::from_millis(999));
        assert_eq!(t.datagrams().count(), 0, "not due yet");
        t.on_timeout(t0 + Duration::from_secs(1));
        let again: Vec<Vec<u8>> = t.datagrams().map(<[u8]>::to_vec).collect();
        assert_eq!(again, oack, "the OACK is resent after the client's 1 s");
        // The data goes by the same interval.
        let t1 = t0 + Duration::from_millis(1500);
        t.on_packet(&ack(0), t1);
        assert_eq!(blocks(&t), [1]);
        t.on_timeout(t1 + Duration::from_millis(999));
        assert_eq!(t.datagrams().count(), 0, "not due yet");
        t.on_timeout(t1 + Duration::from_secs(1));
        assert_eq!(blocks(&t), [1]);
        // Without the option, the server's own interval.
        let t = Transfer::start(body(5000), &negotiate(&[], 5000, &limits), 5, t0);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(5)));
    }

    /// Gives `t` every deadline it asks for, without an answer; returns when it gave up.
    fn silence(t: &mut Transfer) -> Instant {
        let mut end = None;
        while let Some(due) = t.next_deadline() {
            end = Some(due);
            t.on_timeout(due);
        }
        assert!(matches!(t.outcome(), Some(Err(Failure::GaveUp { .. }))));
        end.expect("the transfer was running")
    }

    #[test]
    fn a_long_negotiated_timeout_cannot_hold_a_transfer_past_the_servers_patience() {
        // The default server settings (1 s, five retries) give up after 1+2+4+8+8+8 = 31 s of
        // silence; before, a client's timeout=30 was waited for 31 times over (15 minutes).
        let patience = Duration::from_secs(31);
        let t0 = Instant::now();
        let n = negotiate(&[(b"timeout", b"30")], 5000, &Limits::default());
        assert_eq!(n.oack, vec![("timeout", "30".to_string())]);
        let mut t = Transfer::start(body(5000), &n, 5, t0);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(30)));
        assert_eq!(silence(&mut t) - t0, patience);
        // The same after progress, counted from it.
        let mut t = Transfer::start(body(5000), &n, 5, t0);
        let t1 = t0 + Duration::from_secs(20);
        t.on_packet(&ack(0), t1);
        assert_eq!(silence(&mut t) - t1, patience);
        // A timeout the server would not even wait once is declined: the client keeps its
        // own, and the server goes by its default schedule.
        let n = negotiate(&[(b"timeout", b"255")], 5000, &Limits::default());
        assert!(n.oack.is_empty(), "{:?}", n.oack);
        let mut t = Transfer::start(body(5000), &n, 5, t0);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(silence(&mut t) - t0, patience);
    }

    #[test]
    fn progress_resets_the_retry_count() {
        let now = Instant::now();
        let mut t = Transfer::start(body(5000), &settings(512, 1, false), 2, now);
        let later = now + Duration::from_secs(1);
        t.on_timeout(later);
        assert_eq!(t.retries(), 1);
        t.on_packet(&ack(1), later);
        assert_eq!(t.retries(), 0);
        assert_eq!(t.next_deadline(), Some(later + Duration::from_secs(1)));
    }

    #[test]
    fn client_error_ends_the_transfer_silently() {
        let now = Instant::now();
        let mut t = Transfer::start(body(5000), &settings(512, 4, false), 5, now);
        t.on_packet(b"\x00\x05\x00\x03disk full\0", now);
        assert_eq!(t.datagrams().count(), 0);
        assert_eq!(
            t.outcome(),
            Some(Err(&Failure::ClientError {
                code: 3,
                message: "disk full".into()
            }))
        );
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn protocol_violations_get_illegal_operation_and_runts_are_dropped() {
        let now = Instant::now();
        for bad in [
            &b"\x00\x03\x00\x01data"[..],
            b"\x00\x01f\0octet\0",
            b"\x00\x02f\0octet\0",
            b"\x00\x63\x00\x01",
        ] {
            let mut t = Transfer::start(body(5000), &settings(512, 1, false), 5, now);
            t.on_packet(bad, now);
            assert_eq!(error_code(&t), 4, "{bad:?}");
            assert!(matches!(t.outcome(), Some(Err(Failure::Protocol(_)))));
        }
        let mut t = Transfer::start(body(5000), &settings(512, 1, false), 5, now);
        t.on_packet(b"\x00\x04\x00", now);
        assert_eq!(t.datagrams().count(), 0);
        assert!(!t.is_finished());
    }

    #[test]
    fn block_numbers_wrap_to_zero_and_the_bytes_survive() {
        let now = Instant::now();
        let blocks_total = 70_000usize;
        let b = body(blocks_total * 8 + 3);
        let mut t = Transfer::start(b.clone(), &settings(8, 64, false), 5, now);
        let mut got = Vec::with_capacity(b.len() as usize);
        let mut expect_block: u64 = 1;
        let mut rounds = 0;
        while !t.is_finished() {
            let d = data(&t);
            assert!(!d.is_empty());
            for (wire, bytes) in &d {
                assert_eq!(*wire, expect_block as u16, "block {expect_block}");
                got.extend_from_slice(bytes);
                expect_block += 1;
            }
            let last = d.last().unwrap().0;
            // Stale ACKs from before the wrap must not confuse the mapping.
            t.on_packet(&ack(last.wrapping_sub(100)), now);
            assert_eq!(t.datagrams().count(), 0);
            t.on_packet(&ack(last), now);
            rounds += 1;
        }
        assert!(expect_block > 65536, "the transfer crossed the wrap");
        assert_eq!(rounds, (blocks_total + 1).div_ceil(64));
        assert_eq!(t.outcome(), Some(Ok(())));
        let mut expect = vec![0; b.len() as usize];
        b.read_at(0, &mut expect).unwrap();
        assert!(got == expect, "reassembled bytes differ");
    }

    #[test]
    fn a_file_that_shrank_is_an_error_not_a_short_transfer() {
        use std::io::Write;
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&[1u8; 10]).unwrap();
        let b = Body::File {
            file: Arc::new(tmp.reopen().unwrap()),
            len: 2000,
            modified: None,
        };
        let t = Transfer::start(b, &settings(512, 4, false), 5, Instant::now());
        assert_eq!(error_code(&t), 0);
        assert!(matches!(t.outcome(), Some(Err(Failure::Read(_)))));
    }

    /// A file on disk as a snapshot opens it, and a way to write into it in place.
    fn file_body(len: usize) -> (Body, std::fs::File, tempfile::NamedTempFile) {
        use std::io::Write;
        let bytes = body(len);
        let Body::Memory(bytes) = bytes else {
            unreachable!()
        };
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&bytes).unwrap();
        let file = tmp.reopen().unwrap();
        let modified = file.metadata().unwrap().modified().ok();
        let b = Body::File {
            file: Arc::new(file),
            len: len as u64,
            modified,
        };
        let writer = std::fs::OpenOptions::new()
            .write(true)
            .open(tmp.path())
            .unwrap();
        (b, writer, tmp)
    }

    /// Writes other bytes of the same length over the start of the file, and moves its
    /// mtime well away so the test does not hang on the clock's granularity.
    fn rewrite_in_place(writer: &std::fs::File) {
        use std::os::unix::fs::FileExt;
        writer.write_all_at(b"other bytes", 0).unwrap();
        let past = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        writer.set_modified(past).unwrap();
    }

    #[test]
    fn a_file_written_in_place_fails_the_transfer_before_its_last_block() {
        let (b, writer, _tmp) = file_body(512 * 10 + 5);
        let now = Instant::now();
        let mut t = Transfer::start(b, &settings(512, 2, false), 5, now);
        for block in [2, 4] {
            assert_eq!(*blocks(&t).last().unwrap(), block);
            t.prefetch();
            t.on_packet(&ack(block), now);
        }
        // Blocks 5 and 6 are out, 7 and 8 read ahead: then the file is written to.
        t.prefetch();
        rewrite_in_place(&writer);
        for block in [6, 8, 10] {
            assert_eq!(*blocks(&t).last().unwrap(), block);
            t.prefetch();
            t.on_packet(&ack(block), now);
        }
        // The window with the last block (11) is never handed out.
        assert_eq!(error_code(&t), 0);
        let message = t.datagrams().next().unwrap()[4..].to_vec();
        assert_eq!(message, b"file changed during transfer\0");
        assert!(matches!(t.outcome(), Some(Err(Failure::Changed(_)))));
        assert!(!t.last_block_sent());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn a_large_file_written_in_place_fails_within_a_check_interval() {
        let (b, writer, _tmp) = file_body(4 << 20);
        let now = Instant::now();
        let mut t = Transfer::start(b, &settings(8192, 1, false), 5, now);
        rewrite_in_place(&writer);
        let mut block = 1;
        while t.outcome().is_none() {
            t.on_packet(&ack(block), now);
            block += 1;
        }
        assert!(matches!(t.outcome(), Some(Err(Failure::Changed(_)))));
        let served = t.bytes_acked();
        assert!(
            served <= CHANGE_CHECK_BYTES,
            "{served} bytes served after the change"
        );
    }

    #[test]
    fn an_untouched_file_is_served_whole_with_checks_along_the_way() {
        let (b, _writer, _tmp) = file_body(3 << 20);
        let now = Instant::now();
        let mut t = Transfer::start(b, &settings(8192, 4, false), 5, now);
        while t.outcome().is_none() {
            let last = *blocks(&t).last().unwrap();
            t.prefetch();
            t.on_packet(&ack(last), now);
        }
        assert_eq!(t.outcome(), Some(Ok(())));
        assert_eq!(t.bytes_acked(), 3 << 20);
    }

    #[test]
    fn a_block_read_ahead_is_sent_on_the_next_ack_and_leaves_the_one_in_flight_alone() {
        let file = body(1300);
        let now = Instant::now();
        let mut t = Transfer::start(file.clone(), &settings(512, 1, false), 5, now);
        assert_eq!(blocks(&t), [1]);
        let first = data(&t);
        t.prefetch();
        // What is in flight is unchanged, and a timeout retransmits exactly it.
        assert_eq!(data(&t), first);
        t.on_timeout(now + Duration::from_secs(2));
        assert_eq!(data(&t), first);
        t.prefetch(); // already read ahead: nothing happens
        t.on_packet(&ack(1), now);
        let second = data(&t);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].0, 2);
        let mut expect = vec![0; 512];
        file.read_at(512, &mut expect).unwrap();
        assert_eq!(second[0].1, expect);
        // The last block is short, and after it there is nothing to read ahead.
        t.prefetch();
        t.on_packet(&ack(2), now);
        assert_eq!(data(&t)[0].1.len(), 1300 - 1024);
        t.prefetch();
        t.on_packet(&ack(3), now);
        assert_eq!(t.outcome(), Some(Ok(())));
    }

    #[test]
    fn a_window_read_ahead_is_used_after_a_full_ack_and_dropped_after_a_partial_one() {
        let file = body(10_000);
        let now = Instant::now();
        let fresh = |acks: &[u16]| {
            let mut t = Transfer::start(file.clone(), &settings(512, 4, false), 5, now);
            for &a in acks {
                t.on_packet(&ack(a), now);
            }
            t
        };
        for acks in [&[4u16][..], &[2], &[4, 6], &[4, 8, 12, 16]] {
            let mut ahead = fresh(acks);
            let mut plain = fresh(acks);
            ahead.prefetch();
            assert_eq!(
                data(&ahead),
                data(&plain),
                "prefetch changed what is in flight"
            );
            let next = acks.last().unwrap() + 4;
            ahead.on_packet(&ack(next), now);
            plain.on_packet(&ack(next), now);
            assert_eq!(data(&ahead), data(&plain), "after ACKs {acks:?}, {next}");
            ahead.on_packet(&ack(next - 2), now); // stale: changes nothing
            ahead.prefetch();
            ahead.on_packet(&ack(next + 2), now); // partial: the read-ahead is not it
            plain.on_packet(&ack(next + 2), now);
            assert_eq!(data(&ahead), data(&plain), "after a partial ACK");
        }
    }

    #[test]
    fn windows_larger_than_the_read_ahead_limit_are_not_read_ahead() {
        let s = settings(8192, 16, false);
        let mut t = Transfer::start(body(500_000), &s, 5, Instant::now());
        t.prefetch();
        assert_eq!(t.ahead, 0);
        assert!(t.next.is_empty());
    }

    #[test]
    fn a_read_ahead_that_fails_is_left_to_the_real_read_to_report() {
        use std::io::Write;
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&[1u8; 600]).unwrap();
        let b = Body::File {
            file: Arc::new(tmp.reopen().unwrap()),
            len: 2000,
            modified: None,
        };
        let now = Instant::now();
        let mut t = Transfer::start(b, &settings(512, 1, false), 5, now);
        assert_eq!(blocks(&t), [1]);
        t.prefetch();
        assert!(
            t.outcome().is_none(),
            "read-ahead failures are not the transfer's yet"
        );
        t.on_packet(&ack(1), now);
        assert!(matches!(t.outcome(), Some(Err(Failure::Read(_)))));
        assert_eq!(error_code(&t), 0);
    }

    /// A cheap stand-in for the fuzz target: random datagrams, many of them ACK-shaped, never
    /// panic the listener's classifier or a transfer, and a transfer never sends more than a
    /// window per event or a datagram larger than a block.
    #[test]
    fn random_datagrams_never_break_the_invariants() {
        use crate::tftp::request::classify;
        let mut rng = netboot_test_support::rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        let now = Instant::now();
        let file = body(100_000);
        let mut windowsize = 8;
        let mut t = Transfer::start(file.clone(), &settings(512, windowsize, true), 3, now);
        let mut clock = now;
        for round in 0..20_000 {
            let r = next();
            let len = (r % 40) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 2 {
                d[0] = 0;
                d[1] = (r >> 8) as u8 % 8;
            }
            let _ = classify(&d);
            if round % 7 == 0 {
                clock += Duration::from_millis(r % 3000);
                t.on_timeout(clock);
            } else {
                t.on_packet(&d, clock);
            }
            let out: Vec<&[u8]> = t.datagrams().collect();
            assert!(
                out.len() <= usize::from(windowsize),
                "more than a window at once"
            );
            assert!(out.iter().all(|d| d.len() <= 4 + 512));
            if r % 3 == 0 {
                t.prefetch();
            }
            if t.is_finished() {
                assert_eq!(t.next_deadline(), None);
                let oack = round % 2 == 0;
                windowsize = if round % 3 == 0 { 1 } else { 8 };
                t = Transfer::start(file.clone(), &settings(512, windowsize, oack), 3, clock);
            }
        }
    }

    /// A lossy, duplicating, reordering network between the state machine and a simple
    /// RFC 7440 client, on a virtual clock: every transfer completes with the right bytes, and
    /// the server's traffic stays within a small multiple of the file (RFC 7440 is go-back-N,
    /// so at 10% loss a large window resends much of itself; the bound catches runaways).
    #[test]
    fn transfers_complete_over_a_lossy_reordering_network() {
        for seed in 1..=12u64 {
            for windowsize in [1u16, 4, 16] {
                lossy_run(seed, windowsize);
            }
        }
    }

    fn lossy_run(seed: u64, windowsize: u16) {
        use std::collections::BTreeMap;
        let mut rng =
            netboot_test_support::rng::XorShift::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut rand = move |n: u64| rng.below(n);
        let file = body(200_000 + seed as usize * 37);
        let blksize = 512u16;
        let n = Negotiated {
            blksize,
            windowsize,
            timeout: Duration::from_millis(100),
            give_up_after: patience(Duration::from_millis(100), 20),
            oack: vec![("windowsize", windowsize.to_string())],
        };
        let t0 = Instant::now();
        let mut server = Transfer::start(file.clone(), &n, 20, t0);
        // In flight: (arrival time, sequence for a stable order) -> (to_client, datagram).
        let mut net: BTreeMap<(Instant, u64), (bool, Vec<u8>)> = BTreeMap::new();
        let mut seq = 0u64;
        let mut sent_by_server = 0usize;
        // 10% loss, 5% duplicated, and 2% held back 20 ms (which reorders them); the rest
        // arrive after 1 ms in the order sent, as on a LAN.
        let mut send = |net: &mut BTreeMap<_, _>, now: Instant, to_client: bool, d: Vec<u8>| {
            for _ in 0..if rand(100) < 5 { 2 } else { 1 } {
                if rand(100) < 10 {
                    continue;
                }
                let late = if rand(100) < 2 { 20 } else { 0 };
                let at = now + Duration::from_millis(1 + late);
                seq += 1;
                net.insert((at, seq), (to_client, d.clone()));
            }
        };
        // The client: the next block it wants, blocks taken in this window, bytes so far.
        let mut expect: u64 = 1;
        let mut in_window = 0u16;
        let mut got = Vec::new();
        let mut client_done = false;
        let mut gap_reported = false;
        let mut client_deadline = t0 + Duration::from_millis(300);
        let mut now = t0;
        let mut server_acted = false;
        for d in server.datagrams() {
            sent_by_server += 1;
            send(&mut net, now, true, d.to_vec());
        }
        for _ in 0..1_000_000 {
            if server.is_finished() {
                break;
            }
            let next_net = net.keys().next().map(|k| k.0);
            let candidates = [next_net, server.next_deadline(), Some(client_deadline)];
            now = candidates.into_iter().flatten().min().unwrap();
            if next_net == Some(now) {
                let (_, (to_client, d)) = net.pop_first().unwrap();
                if to_client {
                    let mut reply = None;
                    if d[..2] == packet::OP_OACK.to_be_bytes() && expect == 1 && in_window == 0 {
                        reply = Some(0u16);
                    } else if d[..2] == packet::OP_DATA.to_be_bytes() {
                        let wire = u16::from_be_bytes([d[2], d[3]]);
                        if wire == expect as u16 && !client_done {
                            gap_reported = false;
                            got.extend_from_slice(&d[4..]);
                            expect += 1;
                            in_window += 1;
                            let last = d.len() < 4 + usize::from(blksize);
                            client_done = last;
                            if last || in_window == windowsize {
                                reply = Some((expect - 1) as u16);
                                in_window = 0;
                            }
                        } else {
                            let behind = (expect as u16).wrapping_sub(wire);
                            if behind == 1 {
                                // Our last block again: the server missed our ACK.
                                reply = Some((expect - 1) as u16);
                            } else if behind > 0x8000 && !gap_reported {
                                // A block from beyond a gap: say once where we are.
                                reply = Some((expect - 1) as u16);
                                gap_reported = true;
                                in_window = 0;
                            }
                            // Older duplicates are dropped.
                        }
                    }
                    if let Some(b) = reply {
                        client_deadline = now + Duration::from_millis(300);
                        send(&mut net, now, false, ack(b));
                    }
                } else {
                    server.on_packet(&d, now);
                    server_acted = true;
                }
            } else if server.next_deadline() == Some(now) {
                server.on_timeout(now);
                server_acted = true;
            } else {
                client_deadline = now + Duration::from_millis(300);
                in_window = 0;
                send(&mut net, now, false, ack((expect - 1) as u16));
            }
            // What the server's last event produced is sent once, right after that event,
            // and the next block is read ahead while the client has the turn, as the driver does.
            if std::mem::take(&mut server_acted) {
                for d in server.datagrams() {
                    sent_by_server += 1;
                    send(&mut net, now, true, d.to_vec());
                }
                server.prefetch();
            }
        }
        assert_eq!(
            server.outcome(),
            Some(Ok(())),
            "seed {seed} window {windowsize}"
        );
        let mut expect_bytes = vec![0; file.len() as usize];
        file.read_at(0, &mut expect_bytes).unwrap();
        assert!(
            got == expect_bytes,
            "seed {seed} window {windowsize}: bytes differ"
        );
        let blocks = file.len() as usize / usize::from(blksize) + 1;
        assert!(
            sent_by_server < blocks * (3 + usize::from(windowsize) / 2),
            "seed {seed} window {windowsize}: {sent_by_server} datagrams for {blocks} blocks"
        );
    }
}
