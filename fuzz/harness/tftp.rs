//! Fuzz harness for the TFTP request and ACK path: a datagram at the listening port
//! (`request::classify`), the option negotiation, then one [`Transfer`] driven by a script of
//! fuzzed ACK, ERROR and junk datagrams and timeouts.
//!
//! Shared by the `tftp_transfer` fuzz target and `runtime/tests/fuzz_corpus.rs`. A small model
//! of the client's view checks, after every event, that:
//! - an ACK that acknowledges nothing new (duplicate, late, or for a block never sent) sends
//!   nothing: no Sorcerer's Apprentice window;
//! - a window holds consecutive block numbers right after the acknowledged block, each with
//!   the file's bytes for that block, and never more than windowsize blocks;
//! - a timeout resends exactly what was last sent, and gives up after `max_retries` or once
//!   silent for `give_up_after`, whatever timeout was negotiated;
//! - a finished transfer stays silent and has no deadline;
//! - and it terminates: a well-behaved client completes it, a silent one makes it give up.
//!
//! Input layout: `[config] [request length n] [request: n bytes] [ops...]`, see [`run`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use netboot_manifest::{sha256_hex, FileEntry, Manifest, Protocol, Source};
use netboot_runtime::tftp::options::{negotiate, Limits, Negotiated, MAX_BLKSIZE, MIN_BLKSIZE};
use netboot_runtime::tftp::packet::{self, Packet, OP_DATA, OP_ERROR, OP_OACK};
use netboot_runtime::tftp::request::{classify, Incoming};
use netboot_runtime::tftp::transfer::{Failure, Transfer};
use netboot_runtime::Snapshot;

/// Built once: a snapshot with files of the sizes where block arithmetic goes wrong.
pub struct Harness {
    snapshot: Snapshot,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

impl Harness {
    pub fn new() -> Harness {
        let mut generated = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (route, len, tftp) in [
            ("empty", 0usize, true),
            ("one", 1, true),
            ("block", 512, true),
            ("undionly.kpxe", 1000, true),
            ("ipxe.efi", 8 * 512, true),
            ("big.bin", 20_000, true),
            ("http-only.ipxe", 10, false),
        ] {
            let bytes = pattern(len);
            files.insert(
                route.to_string(),
                FileEntry {
                    size: len as u64,
                    sha256: sha256_hex(&bytes),
                    source: Source::Generated { file: route.into() },
                    tftp,
                    http: true,
                },
            );
            generated.insert(route.to_string(), bytes);
        }
        // Listed, but its bytes do not exist: the route is out of service and never served.
        files.insert(
            "missing.bin".to_string(),
            FileEntry {
                size: 3,
                sha256: sha256_hex(b"abc"),
                source: Source::Artifact {
                    path: "netboot-fuzz-no-such-file".into(),
                },
                tftp: true,
                http: true,
            },
        );
        let manifest = Manifest::serving(files, "/nonexistent-netboot-fuzz");
        let snapshot = Snapshot::from_compiled(manifest, &generated, Path::new("/"));
        Harness { snapshot }
    }

    /// `data[0]`: bits 0-1 max retries - 1, bit 2 tight server limits, bit 3 end with a
    /// silent client (else a well-behaved one). `data[1]`: length of the request datagram
    /// that follows. The rest is a script of ops, each one byte `op % 5` then its arguments:
    /// 0 timeout at the deadline; 1 `[d]` timeout after `d * 20` ms; 2 `[k]` ACK relative to
    /// the model (k < 128: acked + k, else last block sent - (k - 128)); 3 `[hi lo]` ACK of
    /// that block; 4 `[n] [n bytes]` a raw datagram.
    pub fn run(&self, data: &[u8]) {
        let mut input = Bytes(data);
        let cfg = input.byte();
        let max_retries = u32::from(cfg & 3) + 1;
        let limits = if cfg & 4 != 0 {
            Limits {
                max_blksize: 1468,
                max_windowsize: 8,
                max_window_bytes: 4096,
                timeout: Duration::from_millis(500),
                // Shorter than four retries' backoff (7.5 s), so the bound is exercised too.
                give_up_after: Duration::from_secs(5),
            }
        } else {
            Limits::default()
        };
        let n = usize::from(input.byte());
        let request = input.take(n);

        let Incoming::Read { route, options } = classify(request) else {
            return;
        };
        let listed = self.snapshot.manifest().files.get(route);
        let Some(body) = self.snapshot.open(route, Protocol::Tftp) else {
            return;
        };
        assert!(
            listed.is_some_and(|f| f.tftp) && !self.snapshot.broken().contains_key(route),
            "TFTP served {route:?}, which the manifest does not serve over TFTP"
        );
        let mut file = vec![0; body.len() as usize];
        assert_eq!(body.read_at(0, &mut file).ok(), Some(file.len()));
        let settings = negotiate(&options, body.len(), &limits);
        check_negotiation(&options, &settings, &limits, body.len());

        let t0 = Instant::now();
        let transfer = Transfer::start(body, &settings, max_retries, t0);
        let mut run = Run::new(transfer, file, &settings, max_retries, t0);
        run.after_start(&settings);

        while !input.is_empty() {
            match input.byte() % 6 {
                0 => {
                    let at = run
                        .t
                        .next_deadline()
                        .unwrap_or(run.now + Duration::from_secs(1));
                    run.timeout(at.max(run.now));
                }
                1 => {
                    let at = run.now + Duration::from_millis(20 * u64::from(input.byte()));
                    run.timeout(at);
                }
                2 => {
                    let k = input.byte();
                    let block = if k < 128 {
                        run.acked + u64::from(k)
                    } else {
                        run.window_last.saturating_sub(u64::from(k - 128))
                    };
                    run.packet(&ack(block as u16));
                }
                3 => {
                    let block = u16::from_be_bytes([input.byte(), input.byte()]);
                    run.packet(&ack(block));
                }
                4 => {
                    let n = usize::from(input.byte());
                    let datagram = input.take(n).to_vec();
                    run.packet(&datagram);
                }
                _ => run.prefetch(),
            }
        }
        if cfg & 8 == 0 {
            run.finish_with_a_good_client();
        } else {
            run.finish_with_a_silent_client();
        }
    }
}

/// The negotiation never grants more than asked or than the server allows.
fn check_negotiation(options: &[(&[u8], &[u8])], n: &Negotiated, limits: &Limits, file_len: u64) {
    let max_blksize = limits.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
    assert!((MIN_BLKSIZE..=max_blksize).contains(&n.blksize) || n.blksize == 512);
    assert!(n.windowsize >= 1 && n.windowsize <= limits.max_windowsize.max(1));
    if n.windowsize > 1 {
        assert!(
            usize::from(n.windowsize) * usize::from(n.blksize) <= limits.max_window_bytes,
            "window of {} x {} bytes exceeds the memory bound",
            n.windowsize,
            n.blksize
        );
    }
    // Some occurrence of the option must have asked for at least what is granted (a client
    // may repeat an option; an unusable first value lets a later one count).
    let asked_at_least = |name: &str, granted: u64| {
        options.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(name.as_bytes())
                && std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|a| a >= granted)
        })
    };
    let mut seen = Vec::new();
    for (name, value) in &n.oack {
        assert!(!seen.contains(name), "{name} twice in the OACK");
        seen.push(*name);
        assert!(
            options
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes())),
            "OACK names {name}, which the client did not ask for"
        );
        let value: u64 = value.parse().expect("OACK values are decimal");
        match *name {
            "blksize" => {
                assert_eq!(value, u64::from(n.blksize));
                assert!(
                    asked_at_least("blksize", value),
                    "blksize {value} above what was asked"
                );
            }
            "windowsize" => {
                assert_eq!(value, u64::from(n.windowsize));
                assert!(
                    asked_at_least("windowsize", value),
                    "windowsize {value} above what was asked"
                );
            }
            "timeout" => {
                assert_eq!(Duration::from_secs(value), n.timeout);
                assert!(
                    n.timeout < limits.give_up_after,
                    "timeout {value} outlasts the patience"
                );
            }
            "tsize" => assert_eq!(value, file_len),
            other => panic!("unknown option {other} in the OACK"),
        }
    }
}

fn ack(block: u16) -> Vec<u8> {
    let mut p = packet::OP_ACK.to_be_bytes().to_vec();
    p.extend_from_slice(&block.to_be_bytes());
    p
}

/// A cursor over the fuzz input that yields zeros once it runs dry.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The transfer under test and the model of what the client has seen.
struct Run {
    t: Transfer,
    file: Vec<u8>,
    blksize: u64,
    windowsize: u64,
    last_block: u64,
    max_retries: u32,
    /// The transfer gives up this long after `quiet_since` (its start or the last progress),
    /// however many retries are left.
    give_up_after: Duration,
    quiet_since: Instant,
    now: Instant,
    awaiting_oack: bool,
    /// Highest block acknowledged with progress.
    acked: u64,
    /// Highest block sent so far.
    window_last: u64,
    /// What the transfer sent last (what a timeout must resend).
    last_out: Vec<Vec<u8>>,
    retries: u32,
    finished: bool,
    /// Whether the client has acknowledged the OACK or a block.
    answered: bool,
}

impl Run {
    fn new(t: Transfer, file: Vec<u8>, n: &Negotiated, max_retries: u32, now: Instant) -> Run {
        let blksize = u64::from(n.blksize);
        Run {
            t,
            last_block: file.len() as u64 / blksize + 1,
            file,
            blksize,
            windowsize: u64::from(n.windowsize),
            max_retries,
            give_up_after: n.give_up_after,
            quiet_since: now,
            now,
            awaiting_oack: !n.oack.is_empty(),
            acked: 0,
            window_last: 0,
            last_out: Vec::new(),
            retries: 0,
            finished: false,
            answered: false,
        }
    }

    fn out(&self) -> Vec<Vec<u8>> {
        let out: Vec<Vec<u8>> = self.t.datagrams().map(<[u8]>::to_vec).collect();
        let (flat, ends) = self.t.outgoing();
        assert_eq!(ends.len(), out.len(), "outgoing() and datagrams() disagree");
        assert_eq!(
            flat,
            out.concat().as_slice(),
            "outgoing() and datagrams() disagree"
        );
        out
    }

    fn after_start(&mut self, n: &Negotiated) {
        let out = self.out();
        if self.awaiting_oack {
            let mut oack = OP_OACK.to_be_bytes().to_vec();
            for (name, value) in &n.oack {
                oack.extend_from_slice(name.as_bytes());
                oack.push(0);
                oack.extend_from_slice(value.as_bytes());
                oack.push(0);
            }
            assert_eq!(out, vec![oack], "the first datagram is the OACK");
            self.last_out = out;
        } else {
            self.expect_window(out);
        }
        assert!(self.t.next_deadline().is_some());
    }

    /// `out` must be the window right after `self.acked`, with the file's bytes.
    fn expect_window(&mut self, out: Vec<Vec<u8>>) {
        let first = self.acked + 1;
        let count = self.windowsize.min(self.last_block - self.acked);
        assert_eq!(
            out.len() as u64,
            count,
            "window after block {} should hold {count} blocks",
            self.acked
        );
        for (i, d) in out.iter().enumerate() {
            let block = first + i as u64;
            assert!(d.len() >= 4, "runt DATA");
            assert_eq!(&d[..2], &OP_DATA.to_be_bytes(), "expected DATA, got {d:?}");
            assert_eq!(
                u16::from_be_bytes([d[2], d[3]]),
                block as u16,
                "block numbers are not consecutive after {}",
                self.acked
            );
            let start = ((block - 1) * self.blksize) as usize;
            let end = (block * self.blksize).min(self.file.len() as u64) as usize;
            assert_eq!(
                &d[4..],
                &self.file[start..end],
                "wrong bytes in block {block}"
            );
        }
        self.window_last = self.acked + count;
        assert_eq!(
            self.t.last_block_sent(),
            self.window_last == self.last_block
        );
        self.last_out = out;
    }

    fn expect_silence(&self, out: &[Vec<u8>], why: &str) {
        assert!(out.is_empty(), "{why}: sent {} datagrams", out.len());
    }

    fn expect_error_and_end(&mut self, out: &[Vec<u8>], code: u16) {
        assert_eq!(out.len(), 1, "expected one ERROR");
        assert_eq!(&out[0][..2], &OP_ERROR.to_be_bytes());
        assert_eq!(u16::from_be_bytes([out[0][2], out[0][3]]), code);
        assert_eq!(out[0].last(), Some(&0), "ERROR message is NUL-terminated");
        self.finished = true;
    }

    fn check_state(&self) {
        assert_eq!(
            self.t.is_finished(),
            self.finished,
            "finished state differs"
        );
        if self.finished {
            assert_eq!(
                self.t.next_deadline(),
                None,
                "a finished transfer has a deadline"
            );
        } else {
            assert!(
                self.t.next_deadline().is_some(),
                "a running transfer has no deadline"
            );
            assert_eq!(self.t.retries(), self.retries);
        }
        assert!(self.t.bytes_acked() <= self.t.len());
        assert_eq!(self.t.client_answered(), self.answered);
    }

    fn packet(&mut self, datagram: &[u8]) {
        self.t.on_packet(datagram, self.now);
        let out = self.out();
        if self.finished {
            self.expect_silence(&out, "a finished transfer answered a datagram");
            return self.check_state();
        }
        match packet::parse(datagram) {
            Ok(Packet::Ack { block }) => self.on_ack(block, out),
            Ok(Packet::Error { .. }) => {
                self.expect_silence(&out, "a client ERROR was answered");
                self.finished = true;
                assert!(matches!(
                    self.t.outcome(),
                    Some(Err(Failure::ClientError { .. }))
                ));
            }
            Err(packet::PacketError::Truncated(_)) => {
                self.expect_silence(&out, "a runt datagram was answered")
            }
            Ok(_) | Err(_) => {
                self.expect_error_and_end(&out, 4);
                assert!(matches!(self.t.outcome(), Some(Err(Failure::Protocol(_)))));
            }
        }
        self.check_state();
    }

    fn on_ack(&mut self, wire: u16, out: Vec<Vec<u8>>) {
        if self.awaiting_oack {
            if wire == 0 {
                self.awaiting_oack = false;
                self.answered = true;
                self.retries = 0;
                self.quiet_since = self.now;
                self.expect_window(out);
            } else {
                self.expect_silence(&out, "an ACK other than 0 answered the OACK");
            }
            return;
        }
        // Which block in flight (if any) this ACK names: at most one, as fewer than 65536
        // blocks are ever unacknowledged.
        let named = (self.acked + 1..=self.window_last).find(|&b| b as u16 == wire);
        match named {
            None => self.expect_silence(
                &out,
                &format!(
                    "ACK {wire} acknowledges nothing new (acked {}, sent up to {})",
                    self.acked, self.window_last
                ),
            ),
            Some(block) => {
                self.acked = block;
                self.answered = true;
                self.retries = 0;
                self.quiet_since = self.now;
                if block == self.last_block {
                    self.expect_silence(&out, "the final ACK was answered");
                    self.finished = true;
                    assert_eq!(self.t.outcome(), Some(Ok(())));
                    assert_eq!(self.t.bytes_acked(), self.t.len());
                } else {
                    self.expect_window(out);
                }
            }
        }
    }

    fn timeout(&mut self, at: Instant) {
        self.now = at;
        let due = self.t.next_deadline().is_some_and(|d| d <= at);
        self.t.on_timeout(at);
        let out = self.out();
        if !due || self.finished {
            self.expect_silence(&out, "a timeout before the deadline sent something");
        } else if self.retries >= self.max_retries || at >= self.quiet_since + self.give_up_after {
            self.expect_error_and_end(&out, 0);
            assert!(matches!(
                self.t.outcome(),
                Some(Err(Failure::GaveUp { .. }))
            ));
        } else {
            self.retries += 1;
            assert_eq!(
                out, self.last_out,
                "a retransmission differs from what was sent"
            );
            let next = self
                .t
                .next_deadline()
                .expect("retransmitted, so a deadline");
            assert!(next > at, "the next deadline is not in the future");
        }
        self.check_state();
    }

    /// Reading ahead (which the driver does after every send) changes nothing in flight and
    /// nothing the model can see; what it read shows in the next window's bytes.
    fn prefetch(&mut self) {
        let before = self.out();
        self.t.prefetch();
        assert_eq!(
            self.out(),
            before,
            "reading ahead changed what is in flight"
        );
        self.check_state();
    }

    /// A client that acknowledges every window in full completes the transfer in as many
    /// rounds as there are windows.
    fn finish_with_a_good_client(&mut self) {
        let rounds = self.last_block / self.windowsize + 2;
        for _ in 0..rounds {
            if self.finished {
                break;
            }
            let block = if self.awaiting_oack {
                0
            } else {
                self.window_last
            };
            self.prefetch();
            self.packet(&ack(block as u16));
        }
        assert!(
            self.finished,
            "a good client did not finish the transfer in {rounds} rounds"
        );
    }

    /// A client that never answers again makes the transfer give up after its retries, or
    /// sooner at the bound on its silence.
    fn finish_with_a_silent_client(&mut self) {
        for _ in 0..=self.max_retries {
            if self.finished {
                break;
            }
            let at = self.t.next_deadline().expect("running, so a deadline");
            self.timeout(at);
        }
        assert!(self.finished, "the transfer outlived its retries");
    }
}
