//! [`Events`]: the bounded memory behind the status page and the counters behind `/metrics`.
//!
//! The protocol loops call [`Events::record`]; the HTTP server asks for a [`View`]. Memory is
//! bounded whatever clients send: at most [`Limits::machines`] machines (the one seen least
//! recently goes first) with at most [`Limits::events_per_machine`] events each (oldest first),
//! and every string clipped (see [`clip`](super::event::clip)). The counters are never
//! evicted, so `/metrics` stays exact.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use netboot_manifest::{MacAddr, Protocol};

use super::event::{Event, Reload};
use super::metrics::Counters;
use super::neighbors::{Neighbors, ProcArp};

/// How much history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub machines: usize,
    pub events_per_machine: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            machines: 256,
            events_per_machine: 64,
        }
    }
}

/// Who a line of the status page is about: a MAC when one is known, else the IP alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Machine {
    Mac(MacAddr),
    Ip(IpAddr),
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::Mac(mac) => mac.fmt(f),
            Machine::Ip(ip) => ip.fmt(f),
        }
    }
}

/// An event and when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    pub at: SystemTime,
    pub event: Event,
}

impl Stamped {
    /// When the step began: a transfer is recorded when it ends, everything else as it
    /// happens. A machine's steps are kept in this order, because the protocols answer on
    /// threads of their own: a loader's last ACK can be seen after the DHCP answer iPXE
    /// asked for next, and a DHCP answer can be recorded after the script fetch it led to.
    pub fn began(&self) -> SystemTime {
        match &self.event {
            Event::Transfer(t) => self.at.checked_sub(t.duration).unwrap_or(self.at),
            _ => self.at,
        }
    }
}

/// What is remembered about one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineLog {
    pub machine: Machine,
    /// The address it last used, when known.
    pub ip: Option<IpAddr>,
    pub first_seen: SystemTime,
    pub last_seen: SystemTime,
    /// Oldest first.
    pub events: VecDeque<Stamped>,
    /// Events evicted from the front of `events`.
    pub dropped: u64,
    /// Recording order of the last event, for least-recently-seen eviction.
    seq: u64,
}

/// A copy of everything, taken under the lock and rendered outside it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Most recently seen first.
    pub machines: Vec<MachineLog>,
    pub counters: Counters,
    pub last_reload: Option<(SystemTime, Reload)>,
    /// Machines evicted to stay within the limits.
    pub machines_dropped: u64,
    pub limits: Limits,
}

/// The recorder. Cheap to clone (all clones record into the same memory); the default one is
/// off and records nothing, so servers built without a status page pay nothing.
#[derive(Clone, Default)]
pub struct Events {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    state: Mutex<State>,
    neighbors: Box<dyn Neighbors>,
}

struct State {
    limits: Limits,
    machines: HashMap<Machine, MachineLog>,
    /// IP → MAC learned from DHCP, host-script names and ARP, with the seq of the last use.
    macs: HashMap<IpAddr, (MacAddr, u64)>,
    seq: u64,
    counters: Counters,
    last_reload: Option<(SystemTime, Reload)>,
    machines_dropped: u64,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shared {
            None => f.write_str("Events(off)"),
            Some(s) => {
                let state = lock(&s.state);
                write!(f, "Events({} machines)", state.machines.len())
            }
        }
    }
}

/// Two recorders are equal when they record into the same memory (so configs holding one can
/// still be compared).
impl PartialEq for Events {
    fn eq(&self, other: &Events) -> bool {
        match (&self.shared, &other.shared) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Events {}

impl Events {
    /// A recorder that maps IPs to MACs with the kernel's ARP table when nothing else does.
    pub fn new(limits: Limits) -> Events {
        Events::with_neighbors(limits, ProcArp::default())
    }

    pub fn with_neighbors(limits: Limits, neighbors: impl Neighbors + 'static) -> Events {
        let limits = Limits {
            machines: limits.machines.max(1),
            events_per_machine: limits.events_per_machine.max(1),
        };
        Events {
            shared: Some(Arc::new(Shared {
                state: Mutex::new(State {
                    limits,
                    machines: HashMap::new(),
                    macs: HashMap::new(),
                    seq: 0,
                    counters: Counters::default(),
                    last_reload: None,
                    machines_dropped: 0,
                }),
                neighbors: Box::new(neighbors),
            })),
        }
    }

    /// Whether this recorder keeps anything.
    pub fn is_on(&self) -> bool {
        self.shared.is_some()
    }

    pub fn record(&self, event: Event) {
        self.record_at(event, SystemTime::now());
    }

    pub fn record_at(&self, event: Event, at: SystemTime) {
        let Some(shared) = &self.shared else {
            return;
        };
        // The ARP table is read outside the lock, and only for an IP nothing else names.
        let arp = match client_ip(&event) {
            Some((ip, file)) if host_script_mac(file).is_none() => {
                let known = lock(&shared.state).macs.contains_key(&ip);
                if known {
                    None
                } else {
                    shared.neighbors.mac_of(ip).map(|mac| (ip, mac))
                }
            }
            _ => None,
        };
        let mut state = lock(&shared.state);
        state.counters.count(&event, at);
        if let Some((ip, mac)) = arp {
            state.learn(ip, mac);
        }
        state.record(event, at);
    }

    /// Counts a refusal in `/metrics` without remembering it per machine: for floods (HTTP
    /// connections over the cap), where a history entry each would cost an ARP lookup and push
    /// real boots out of the bounded history.
    pub fn count_refused(&self, protocol: Protocol) {
        if let Some(shared) = &self.shared {
            lock(&shared.state).counters.count_refused(protocol);
        }
    }

    /// Counts an install done report answered with `result` (`recorded`, `repeated`,
    /// `refused`) for `reason` (a refusal's; else empty).
    pub fn count_install_report(&self, result: &'static str, reason: &'static str) {
        if let Some(shared) = &self.shared {
            *lock(&shared.state)
                .counters
                .install_reports
                .entry((result, reason))
                .or_default() += 1;
        }
    }

    /// The counters and how many machines are remembered: all `/metrics` needs, without
    /// copying the history a [`View`] holds.
    pub fn counters(&self) -> (Counters, usize) {
        match &self.shared {
            None => (Counters::default(), 0),
            Some(shared) => {
                let state = lock(&shared.state);
                (state.counters.clone(), state.machines.len())
            }
        }
    }

    /// Everything recorded so far; an off recorder gives an empty view.
    pub fn view(&self) -> View {
        let Some(shared) = &self.shared else {
            return View {
                machines: Vec::new(),
                counters: Counters::default(),
                last_reload: None,
                machines_dropped: 0,
                limits: Limits::default(),
            };
        };
        let state = lock(&shared.state);
        let mut machines: Vec<MachineLog> = state.machines.values().cloned().collect();
        machines.sort_by_key(|m| std::cmp::Reverse(m.seq));
        View {
            machines,
            counters: state.counters.clone(),
            last_reload: state.last_reload.clone(),
            machines_dropped: state.machines_dropped,
            limits: state.limits,
        }
    }
}

/// A panic elsewhere while recording must not take the status page down with it: the state
/// is a cache of what was seen, valid after any partial update.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn client_ip(event: &Event) -> Option<(IpAddr, &str)> {
    match event {
        Event::Transfer(t) => Some((t.ip, &t.file)),
        Event::Refused(r) => Some((r.ip, &r.file)),
        Event::Dhcp(_) | Event::Reload(_) => None,
    }
}

/// The MAC in a host script's name (`hosts/52-54-00-12-34-56.ipxe`, as iPXE asks for
/// `hosts/${mac:hexhyp}.ipxe`), with or without a leading slash or query; or in a Secure Boot
/// machine's GRUB config (`/grub/hosts/52:54:00:12:34:56.cfg`, GRUB's `$net_default_mac`).
pub fn host_script_mac(file: &str) -> Option<MacAddr> {
    let path = file.split(['?', '#']).next().unwrap_or(file);
    let name = path.rsplit('/').next()?;
    if let Some(stem) = name.strip_suffix(".cfg") {
        let grub_host = path.trim_start_matches('/').starts_with("grub/hosts/");
        return grub_host
            .then(|| stem.parse().ok())
            .flatten()
            .filter(|_| stem.len() == 17 && stem.contains(':'));
    }
    let stem = name.strip_suffix(".ipxe")?;
    // Only iPXE's hexhyp form: a colon form would be some other file.
    if stem.len() != 17 || stem.contains(':') {
        return None;
    }
    stem.parse().ok()
}

impl State {
    fn record(&mut self, event: Event, at: SystemTime) {
        let (machine, ip) = match &event {
            Event::Reload(r) => {
                self.last_reload = Some((at, r.clone()));
                return;
            }
            Event::Dhcp(a) => {
                if let Some(ip) = a.ip {
                    self.learn(ip.into(), a.mac);
                }
                (Machine::Mac(a.mac), a.ip.map(IpAddr::from))
            }
            Event::Transfer(_) | Event::Refused(_) => {
                let Some((ip, file)) = client_ip(&event) else {
                    return;
                };
                if let Some(mac) = host_script_mac(file) {
                    self.learn(ip, mac);
                }
                let machine = match self.macs.get_mut(&ip) {
                    Some((mac, used)) => {
                        *used = self.seq;
                        Machine::Mac(*mac)
                    }
                    None => Machine::Ip(ip),
                };
                (machine, Some(ip))
            }
        };
        self.push(machine, ip, Stamped { at, event });
    }

    fn push(&mut self, machine: Machine, ip: Option<IpAddr>, stamped: Stamped) {
        self.seq += 1;
        let seq = self.seq;
        if !self.machines.contains_key(&machine) && self.machines.len() >= self.limits.machines {
            self.evict_machine();
        }
        let log = self.machines.entry(machine).or_insert_with(|| MachineLog {
            machine,
            ip: None,
            first_seen: stamped.at,
            last_seen: stamped.at,
            events: VecDeque::new(),
            dropped: 0,
            seq,
        });
        log.ip = ip.or(log.ip);
        log.last_seen = log.last_seen.max(stamped.at);
        log.seq = seq;
        // Nearly always at the back; a step that began before the last one recorded goes
        // before it (after any that began at the same instant, so ties keep recording order).
        let began = stamped.began();
        let at = log
            .events
            .iter()
            .rposition(|s| s.began() <= began)
            .map_or(0, |i| i + 1);
        log.events.insert(at, stamped);
        while log.events.len() > self.limits.events_per_machine {
            log.events.pop_front();
            log.dropped += 1;
        }
    }

    fn evict_machine(&mut self) {
        let oldest = self
            .machines
            .values()
            .min_by_key(|m| m.seq)
            .map(|m| m.machine);
        if let Some(oldest) = oldest {
            self.machines.remove(&oldest);
            self.machines_dropped += 1;
        }
    }

    /// Remembers that `ip` is `mac`, and folds what was recorded under the bare IP into the
    /// machine's own line.
    fn learn(&mut self, ip: IpAddr, mac: MacAddr) {
        self.seq += 1;
        self.macs.insert(ip, (mac, self.seq));
        // A few addresses per machine (firmware, iPXE and the booted system may each lease
        // one) without letting spoofed sources grow the map.
        let cap = self.limits.machines.saturating_mul(4);
        while self.macs.len() > cap {
            let oldest = self
                .macs
                .iter()
                .min_by_key(|(_, (_, s))| *s)
                .map(|(ip, _)| *ip);
            match oldest {
                Some(ip) => self.macs.remove(&ip),
                None => break,
            };
        }
        let Some(orphan) = self.machines.remove(&Machine::Ip(ip)) else {
            return;
        };
        let target = Machine::Mac(mac);
        match self.machines.get_mut(&target) {
            Some(log) => {
                let mut all: Vec<Stamped> = log.events.drain(..).chain(orphan.events).collect();
                // Stable: steps that began at the same instant keep their order.
                all.sort_by_key(Stamped::began);
                log.events = all.into();
                log.dropped += orphan.dropped;
                while log.events.len() > self.limits.events_per_machine {
                    log.events.pop_front();
                    log.dropped += 1;
                }
                log.first_seen = log.first_seen.min(orphan.first_seen);
                log.last_seen = log.last_seen.max(orphan.last_seen);
                log.seq = log.seq.max(orphan.seq);
                log.ip = Some(ip);
            }
            None => {
                self.machines.insert(
                    target,
                    MachineLog {
                        machine: target,
                        ip: Some(ip),
                        ..orphan
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, UNIX_EPOCH};

    use netboot_manifest::{ClientKind, Protocol};

    use super::*;
    use crate::status::neighbors::NoNeighbors;

    fn mac(last: u8) -> MacAddr {
        MacAddr([0x52, 0x54, 0, 0xe2, 0xe0, last])
    }

    fn ip(last: u8) -> IpAddr {
        Ipv4Addr::new(10, 77, 1, last).into()
    }

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    fn dhcp(m: MacAddr) -> Event {
        Event::dhcp(
            m,
            Ipv4Addr::UNSPECIFIED,
            ClientKind::Ipxe,
            "http://10.77.1.2/boot.ipxe",
        )
    }

    fn http(from: IpAddr, file: &str) -> Event {
        Event::done(Protocol::Http, from, file, 100, Duration::from_millis(5))
    }

    struct FakeArp(Vec<(IpAddr, MacAddr)>);

    impl Neighbors for FakeArp {
        fn mac_of(&self, ip: IpAddr) -> Option<MacAddr> {
            self.0.iter().find(|(i, _)| *i == ip).map(|(_, m)| *m)
        }
    }

    fn machines(events: &Events) -> Vec<Machine> {
        events.view().machines.iter().map(|m| m.machine).collect()
    }

    #[test]
    fn an_off_recorder_keeps_nothing() {
        let events = Events::default();
        events.record(dhcp(mac(1)));
        assert!(!events.is_on());
        assert!(events.view().machines.is_empty());
        assert_eq!(events.view().counters, Counters::default());
    }

    #[test]
    fn host_script_names_carry_the_mac() {
        let m = Some(mac(1));
        assert_eq!(host_script_mac("hosts/52-54-00-e2-e0-01.ipxe"), m);
        assert_eq!(host_script_mac("/hosts/52-54-00-E2-E0-01.ipxe?x=1"), m);
        assert_eq!(host_script_mac("52-54-00-e2-e0-01.ipxe"), m);
        assert_eq!(host_script_mac("hosts/52:54:00:e2:e0:01.ipxe"), None);
        assert_eq!(host_script_mac("hosts/52-54-00-e2-e0-01.txt"), None);
        assert_eq!(host_script_mac("boot.ipxe"), None);
        assert_eq!(host_script_mac("hosts/zz-54-00-e2-e0-01.ipxe"), None);
        // Secure Boot machines: GRUB asks for its own config by `$net_default_mac`.
        assert_eq!(host_script_mac("/grub/hosts/52:54:00:e2:e0:01.cfg"), m);
        assert_eq!(host_script_mac("grub/hosts/52-54-00-e2-e0-01.cfg"), None);
        assert_eq!(host_script_mac("/grub/default.cfg"), None);
        assert_eq!(host_script_mac("/elsewhere/52:54:00:e2:e0:01.cfg"), None);
    }

    #[test]
    fn transfers_join_the_machine_named_by_its_host_script() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        events.record_at(dhcp(mac(1)), t(0));
        events.record_at(http(ip(50), "boot.ipxe"), t(1));
        assert_eq!(
            machines(&events),
            [Machine::Ip(ip(50)), Machine::Mac(mac(1))]
        );
        events.record_at(http(ip(50), "hosts/52-54-00-e2-e0-01.ipxe"), t(2));
        events.record_at(http(ip(50), "kernel"), t(3));
        let view = events.view();
        assert_eq!(
            machines(&events),
            [Machine::Mac(mac(1))],
            "the IP line was folded in"
        );
        let log = &view.machines[0];
        assert_eq!(log.ip, Some(ip(50)));
        let at: Vec<SystemTime> = log.events.iter().map(|s| s.at).collect();
        assert_eq!(at, [t(0), t(1), t(2), t(3)], "merged in time order");
    }

    #[test]
    fn the_arp_table_names_a_machine_nothing_else_does() {
        let arp = FakeArp(vec![(ip(50), mac(7))]);
        let events = Events::with_neighbors(Limits::default(), arp);
        events.record_at(
            Event::done(Protocol::Tftp, ip(50), "undionly.kpxe", 1, Duration::ZERO),
            t(0),
        );
        events.record_at(
            Event::refused(Protocol::Tftp, ip(51), "x", "file not found"),
            t(1),
        );
        assert_eq!(
            machines(&events),
            [Machine::Ip(ip(51)), Machine::Mac(mac(7))]
        );
    }

    #[test]
    fn a_dhcp_request_from_an_address_teaches_it() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        let from = Ipv4Addr::new(10, 77, 1, 60);
        events.record_at(
            Event::dhcp(mac(3), from, ClientKind::EfiX64, "ipxe.efi"),
            t(0),
        );
        events.record_at(http(ip(60), "ipxe.efi"), t(1));
        assert_eq!(machines(&events), [Machine::Mac(mac(3))]);
        assert_eq!(events.view().machines[0].events.len(), 2);
    }

    #[test]
    fn machines_are_bounded_and_the_least_recently_seen_goes_first() {
        let limits = Limits {
            machines: 3,
            events_per_machine: 8,
        };
        let events = Events::with_neighbors(limits, NoNeighbors);
        for i in 1..=3 {
            events.record_at(dhcp(mac(i)), t(i.into()));
        }
        // Machine 1 is seen again, so 2 is now the oldest.
        events.record_at(dhcp(mac(1)), t(4));
        events.record_at(dhcp(mac(4)), t(5));
        let view = events.view();
        assert_eq!(
            machines(&events),
            [
                Machine::Mac(mac(4)),
                Machine::Mac(mac(1)),
                Machine::Mac(mac(3))
            ]
        );
        assert_eq!(view.machines_dropped, 1);
        // Counters are not evicted.
        let ipxe = ClientKind::ALL
            .iter()
            .position(|&k| k == ClientKind::Ipxe)
            .unwrap();
        assert_eq!(view.counters.dhcp_answers[ipxe], 5);
    }

    #[test]
    fn events_per_machine_are_bounded_oldest_first() {
        let limits = Limits {
            machines: 4,
            events_per_machine: 3,
        };
        let events = Events::with_neighbors(limits, NoNeighbors);
        for s in 0..10 {
            events.record_at(dhcp(mac(1)), t(s));
        }
        let view = events.view();
        let log = &view.machines[0];
        let at: Vec<SystemTime> = log.events.iter().map(|s| s.at).collect();
        assert_eq!(at, [t(7), t(8), t(9)]);
        assert_eq!(log.dropped, 7);
        assert_eq!(log.first_seen, t(0));
        assert_eq!(log.last_seen, t(9));
    }

    #[test]
    fn a_flood_of_spoofed_sources_stays_bounded() {
        let limits = Limits {
            machines: 16,
            events_per_machine: 4,
        };
        let events = Events::with_neighbors(limits, NoNeighbors);
        for i in 0..2000u32 {
            let from = IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i));
            let name = format!("hosts/52-54-00-00-{:02x}-{:02x}.ipxe", i >> 8, i & 0xff);
            events.record_at(http(from, &name), t(i.into()));
        }
        let view = events.view();
        assert_eq!(view.machines.len(), 16);
        let shared = events.shared.as_ref().unwrap();
        assert!(lock(&shared.state).macs.len() <= 64);
    }

    #[test]
    fn reloads_are_remembered_but_are_no_machine() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        events.record_at(Event::reloaded(), t(0));
        events.record_at(Event::reload_failed("fleet has errors"), t(1));
        let view = events.view();
        assert!(view.machines.is_empty());
        let (at, reload) = view.last_reload.unwrap();
        assert_eq!(at, t(1));
        assert_eq!(reload.error.as_deref(), Some("fleet has errors"));
        assert_eq!(
            (view.counters.reloads_ok, view.counters.reloads_failed),
            (1, 1)
        );
    }

    #[test]
    fn clones_record_into_the_same_memory() {
        let a = Events::with_neighbors(Limits::default(), NoNeighbors);
        let b = a.clone();
        b.record(dhcp(mac(1)));
        assert_eq!(a.view().machines.len(), 1);
        assert_eq!(a.counters().1, 1);
        assert_eq!(a.counters().0, b.view().counters);
        assert_eq!(a, b);
        assert_ne!(a, Events::with_neighbors(Limits::default(), NoNeighbors));
        assert_eq!(Events::default(), Events::default());
    }

    /// The two interleavings the separate DHCP, TFTP and HTTP threads produce: a loader's end
    /// recorded after the DHCP answer iPXE asked for next, and a DHCP answer recorded after
    /// the script fetch it led to. Both keep the order in which the steps began.
    #[test]
    fn a_machines_steps_keep_the_order_they_began_in() {
        let events = Events::with_neighbors(Limits::default(), NoNeighbors);
        let firmware = Event::dhcp(
            mac(1),
            Ipv4Addr::UNSPECIFIED,
            ClientKind::EfiX64,
            "ipxe.efi",
        );
        events.record_at(firmware, t(0));
        // A TFTP loader from 1 s to 10 s: iPXE, started by its last block, is answered at 9 s,
        // before the server has seen the last ACK.
        let ipxe = Ipv4Addr::new(10, 77, 1, 50);
        events.record_at(
            Event::dhcp(mac(1), ipxe, ClientKind::Ipxe, "boot.ipxe"),
            t(9),
        );
        let loader = Event::done(
            Protocol::Tftp,
            ip(50),
            "ipxe.efi",
            9,
            Duration::from_secs(9),
        );
        events.record_at(loader, t(10));
        // The answer stamped at 11 s is recorded after the script it led to (12 s); the
        // kernel, fetched last, stays last.
        let script = Event::done(Protocol::Http, ip(50), "boot.ipxe", 9, Duration::ZERO);
        events.record_at(script, t(12));
        events.record_at(
            Event::dhcp(mac(1), ipxe, ClientKind::Ipxe, "boot.ipxe?again"),
            t(11),
        );
        events.record_at(http(ip(50), "vmlinuz"), t(13));
        let view = events.view();
        let files: Vec<String> = view.machines[0]
            .events
            .iter()
            .map(|s| match &s.event {
                Event::Dhcp(a) => format!("dhcp {}", a.file),
                Event::Transfer(x) => x.file.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            files,
            [
                "dhcp ipxe.efi",
                "ipxe.efi",
                "dhcp boot.ipxe",
                "dhcp boot.ipxe?again",
                "boot.ipxe",
                "vmlinuz"
            ]
        );
        // Recorded at 10 s, shown as such: only the order follows the start.
        assert_eq!(view.machines[0].events[1].at, t(10));
        assert_eq!(view.machines[0].last_seen, t(13));
    }
}
