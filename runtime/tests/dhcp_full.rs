//! Full-DHCP mode from packet bytes: the RFC 2131 exchange for PXE and ordinary clients, NAKs
//! for addresses that are not ours, RELEASE, DECLINE and INFORM, and leases surviving a
//! restart of the socket loop.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use netboot_manifest::ClientKind;
use netboot_runtime::dhcp::{
    decide_full, leases_file, DhcpConfig, DhcpServer, FullConfig, FullDecision, FullDhcp,
    FullReply, FullSettings, LeaseRanges, LeaseState, LeaseTable, Pool, RangeId, Refusal, Silence,
};
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::*;
use tokio::net::UdpSocket;
use tokio::sync::watch;

const NOW: u64 = 1_800_000_000;
const LAPTOP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x42];

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 2, last)
}

fn config() -> FullConfig {
    FullConfig {
        server: SERVER,
        netmask: Ipv4Addr::new(255, 255, 255, 0),
        router: Some(ip(1)),
        dns: vec![ip(1), Ipv4Addr::new(10, 0, 2, 3)],
        lease_secs: 3600,
        relayed: vec![],
    }
}

/// 10.0.2.100-10.0.2.102: three addresses, and no relayed subnet.
fn table() -> LeaseRanges {
    LeaseTable::new(Pool::new(ip(100), ip(102), [SERVER.addr]).unwrap(), 3600).into()
}

fn decide(req: &Req, table: &mut LeaseRanges, now: u64) -> FullDecision {
    decide_full(
        &req.bytes(),
        from_nowhere(),
        &manifest(),
        &config(),
        table,
        now,
    )
}

fn replied(decision: FullDecision) -> (FullReply, Message) {
    match decision {
        FullDecision::Reply(r) => {
            let msg = decode(&r.bytes);
            (r, msg)
        }
        FullDecision::Silent(why) => panic!("expected a reply, got silence: {why}"),
    }
}

fn silent(decision: FullDecision) -> Silence {
    match decision {
        FullDecision::Silent(why) => why,
        FullDecision::Reply(r) => panic!("expected silence, got {:?} for {}", r.message, r.ip),
    }
}

fn laptop(kind: MessageType) -> Req {
    let mut r = Req::new(kind, LAPTOP_MAC);
    r.opt(DhcpOption::ClassIdentifier(b"MSFT 5.0".to_vec()));
    r
}

fn bios(kind: MessageType) -> Req {
    Req::firmware(kind, UNKNOWN_MAC, "PXEClient:Arch:00000:UNDI:002001", 0)
}

fn selecting(mut r: Req, addr: Ipv4Addr, server: Ipv4Addr) -> Req {
    r.opt(DhcpOption::RequestedIpAddress(addr));
    r.opt(DhcpOption::ServerIdentifier(server));
    r
}

fn assert_address_options(msg: &Message, lease: bool) {
    let o = msg.opts();
    assert_eq!(
        o.get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        o.get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![ip(1)]))
    );
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![ip(1), ip(3)]))
    );
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER.addr))
    );
    if lease {
        assert_eq!(
            o.get(OptionCode::AddressLeaseTime),
            Some(&DhcpOption::AddressLeaseTime(3600))
        );
        assert_eq!(o.get(OptionCode::Renewal), Some(&DhcpOption::Renewal(1800)));
        assert_eq!(
            o.get(OptionCode::Rebinding),
            Some(&DhcpOption::Rebinding(3150))
        );
    } else {
        assert_eq!(o.get(OptionCode::AddressLeaseTime), None);
    }
}

#[test]
fn an_ordinary_client_gets_an_address_and_no_boot_file() {
    let mut t = table();
    let (offer_r, offer) = replied(decide(&laptop(MessageType::Discover), &mut t, NOW));
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(offer.yiaddr(), ip(100));
    assert_eq!(offer.xid(), 0x1234_5678);
    assert_eq!(offer_r.boot, None);
    assert_eq!(fname(&offer), "");
    assert_eq!(offer.opts().get(OptionCode::BootfileName), None);
    assert_address_options(&offer, true);
    // The request has the broadcast flag and no address: the reply is broadcast.
    assert_eq!(
        offer_r.destination,
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 68)
    );

    let req = selecting(laptop(MessageType::Request), ip(100), SERVER.addr);
    let (_, ack) = replied(decide(&req, &mut t, NOW + 1));
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip(100));
    assert_address_options(&ack, true);
    let lease = t
        .own()
        .lease_of(netboot_manifest::MacAddr(LAPTOP_MAC))
        .unwrap();
    assert_eq!(
        (lease.state, lease.expires),
        (LeaseState::Bound, NOW + 1 + 3600)
    );
}

#[test]
fn a_pxe_client_gets_an_address_and_the_proxy_boot_answer() {
    let mut t = table();
    let (r, offer) = replied(decide(&bios(MessageType::Discover), &mut t, NOW));
    assert_eq!(offer.yiaddr(), ip(100));
    assert_eq!(
        r.boot,
        Some((ClientKind::Bios, "undionly.kpxe".to_string()))
    );
    assert_eq!(fname(&offer), "undionly.kpxe");
    assert_eq!(offer.siaddr(), SERVER.addr);
    assert_eq!(opt_bytes(&offer, 60).unwrap(), b"PXEClient");
    assert_eq!(opt_bytes(&offer, 43).unwrap(), [6, 1, 8, 255]);
    assert_eq!(opt_bytes(&offer, 97).unwrap(), guid());
    assert_address_options(&offer, true);

    let req = selecting(bios(MessageType::Request), ip(100), SERVER.addr);
    let (r, ack) = replied(decide(&req, &mut t, NOW + 1));
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip(100));
    assert_eq!(fname(&ack), "undionly.kpxe");
    assert_eq!(r.ip, ip(100));

    // iPXE, once loaded, asks again and is given its own script by URL, same address.
    let mut known = Req::ipxe(MessageType::Discover, KNOWN_MAC);
    known.opt(DhcpOption::RequestedIpAddress(ip(101)));
    let (r, offer) = replied(decide(&known, &mut t, NOW + 2));
    assert_eq!(offer.yiaddr(), ip(101), "the address it asked for is free");
    assert_eq!(
        r.boot,
        Some((
            ClientKind::Ipxe,
            "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe".to_string()
        ))
    );
    let http = Req::firmware(
        MessageType::Discover,
        [0x52, 0x54, 0, 0, 0, 0x77],
        "HTTPClient:Arch:00016:UNDI:003001",
        16,
    );
    let (_, offer) = replied(decide(&http, &mut t, NOW + 3));
    assert_eq!(offer.yiaddr(), ip(102));
    assert_eq!(opt_bytes(&offer, 60).unwrap(), b"HTTPClient");
    assert_eq!(fname(&offer), "http://10.0.2.2:8080/ipxe.efi");
}

#[test]
fn a_relayed_discover_is_answered_through_the_relay_with_its_agent_info() {
    let relay = ip(254);
    let mut req = laptop(MessageType::Discover);
    req.msg.set_giaddr(relay).set_hops(1);
    // Agent circuit id, as the relay adds it (RFC 3046): it must come back unchanged.
    let agent = vec![1, 4, b'p', b'o', b'r', b't'];
    req.opt(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
        OptionCode::RelayAgentInformation,
        agent.clone(),
    )));
    let (r, offer) = replied(decide(&req, &mut table(), NOW));
    assert_eq!(r.destination, SocketAddrV4::new(relay, 67));
    assert_eq!(offer.giaddr(), relay);
    assert_eq!(opt_bytes(&offer, 82), Some(agent));
    // Without a relay there is no agent information to echo, whatever the request carried.
    let mut direct = laptop(MessageType::Discover);
    direct.opt(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
        OptionCode::RelayAgentInformation,
        vec![1, 1, 0],
    )));
    let (_, offer) = replied(decide(&direct, &mut table(), NOW));
    assert_eq!(opt_bytes(&offer, 82), None);
}

/// The relay's address on the second subnet (giaddr), as `dhcrelay` on a router sets it.
const RELAY: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);

fn relayed_subnet(router: Option<Ipv4Addr>) -> netboot_manifest::RelayedSubnet {
    netboot_manifest::RelayedSubnet {
        network: Ipv4Addr::new(10, 78, 0, 0),
        prefix: 23,
        first: Ipv4Addr::new(10, 78, 0, 100),
        last: Ipv4Addr::new(10, 78, 0, 101),
        router,
    }
}

/// The server's own range as in `table()`, and 10.78.0.100-10.78.0.101 for the relayed
/// subnet 10.78.0.0/23.
fn relayed_setup(router: Option<Ipv4Addr>) -> (FullConfig, LeaseRanges) {
    let config = FullConfig {
        relayed: vec![relayed_subnet(router)],
        ..config()
    };
    let subnet = relayed_subnet(router);
    let pool = Pool::new(subnet.first, subnet.last, []).unwrap();
    let own = LeaseTable::new(Pool::new(ip(100), ip(102), [SERVER.addr]).unwrap(), 3600);
    (
        config,
        LeaseRanges::new(own, vec![LeaseTable::new(pool, 3600)]),
    )
}

fn through(relay: Ipv4Addr, mut req: Req) -> Req {
    req.msg.set_giaddr(relay).set_hops(1);
    req
}

fn decide_with(config: &FullConfig, req: &Req, t: &mut LeaseRanges, now: u64) -> FullDecision {
    // The relay sends from its address on the server's side, port 67.
    let from_relay = SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 254), 67);
    decide_full(&req.bytes(), from_relay, &manifest(), config, t, now)
}

#[test]
fn a_relayed_client_is_leased_from_its_subnets_range_through_the_relay() {
    let (config, mut t) = relayed_setup(None);
    let discover = through(RELAY, bios(MessageType::Discover));
    let (r, offer) = replied(decide_with(&config, &discover, &mut t, NOW));
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(10, 78, 0, 100));
    assert_eq!(
        r.destination,
        SocketAddrV4::new(RELAY, 67),
        "to the relay, never broadcast"
    );
    assert_eq!(offer.giaddr(), RELAY);
    let o = offer.opts();
    // The relayed subnet's mask, and the relay as the gateway; the block's DNS servers.
    assert_eq!(
        o.get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 254, 0)))
    );
    assert_eq!(
        o.get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![RELAY]))
    );
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![ip(1), ip(3)]))
    );
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER.addr))
    );
    assert_eq!(
        fname(&offer),
        "undionly.kpxe",
        "the proxy's boot answer too"
    );

    let request = through(
        RELAY,
        selecting(bios(MessageType::Request), offer.yiaddr(), SERVER.addr),
    );
    let (r, ack) = replied(decide_with(&config, &request, &mut t, NOW + 1));
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), Ipv4Addr::new(10, 78, 0, 100));
    assert_eq!(r.destination, SocketAddrV4::new(RELAY, 67));
    let relayed = t.get(RangeId::Relayed(0)).unwrap();
    assert_eq!(
        relayed
            .lease_of(netboot_manifest::MacAddr(UNKNOWN_MAC))
            .unwrap()
            .state,
        LeaseState::Bound
    );
    assert!(
        t.own().records().next().is_none(),
        "the own range is untouched"
    );

    // The same machine on the server's own segment gets an address of that segment.
    let (_, offer) = replied(decide_with(
        &config,
        &bios(MessageType::Discover),
        &mut t,
        NOW + 2,
    ));
    assert_eq!(offer.yiaddr(), ip(100));
    assert_address_options(&offer, true);
}

#[test]
fn a_relayed_subnet_can_name_its_router_and_refuses_other_subnets_addresses() {
    let router = Ipv4Addr::new(10, 78, 1, 254);
    let (config, mut t) = relayed_setup(Some(router));
    let (_, offer) = replied(decide_with(
        &config,
        &through(RELAY, laptop(MessageType::Discover)),
        &mut t,
        NOW,
    ));
    assert_eq!(
        offer.opts().get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![router]))
    );
    // INIT-REBOOT through the relay for its old address on the server's segment: not this
    // subnet's, so NAKed (to the relay), and nothing is bound in either range.
    let mut moved = through(RELAY, laptop(MessageType::Request));
    moved.opt(DhcpOption::RequestedIpAddress(ip(100)));
    let (r, nak) = replied(decide_with(&config, &moved, &mut t, NOW + 1));
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(r.refused, Some(Refusal::NotInPool(ip(100))));
    assert_eq!(r.destination, SocketAddrV4::new(RELAY, 67));
    assert!(t.persistent().is_empty());
}

#[test]
fn a_relay_of_an_undeclared_subnet_gets_no_answer_and_no_address() {
    let (config, mut t) = relayed_setup(None);
    let stranger = Ipv4Addr::new(10, 99, 0, 1);
    for kind in [
        MessageType::Discover,
        MessageType::Request,
        MessageType::Inform,
    ] {
        let req = through(stranger, laptop(kind));
        assert_eq!(
            silent(decide_with(&config, &req, &mut t, NOW)),
            Silence::UnknownRelay { giaddr: stranger }
        );
    }
    // Without any relayed subnet declared, no relay off the server's subnet is answered.
    let mut own_only = table();
    assert_eq!(
        silent(decide(
            &through(RELAY, laptop(MessageType::Discover)),
            &mut own_only,
            NOW
        )),
        Silence::UnknownRelay { giaddr: RELAY }
    );
    assert!(t.records().is_empty() && own_only.records().is_empty());
}

#[test]
fn choosing_another_server_frees_the_offer_and_is_reported() {
    let mut t = table();
    replied(decide(&laptop(MessageType::Discover), &mut t, NOW));
    let rogue = Ipv4Addr::new(10, 0, 2, 254);
    let req = selecting(laptop(MessageType::Request), ip(100), rogue);
    assert_eq!(
        silent(decide(&req, &mut t, NOW + 1)),
        Silence::OtherServer { server: rogue }
    );
    let (_, offer) = replied(decide(&bios(MessageType::Discover), &mut t, NOW + 2));
    assert_eq!(offer.yiaddr(), ip(100), "the withdrawn offer is free again");
}

#[test]
fn init_reboot_for_an_address_not_ours_is_nakked() {
    let mut t = table();
    let mut req = laptop(MessageType::Request);
    req.opt(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
        192, 168, 1, 50,
    )));
    let (r, nak) = replied(decide(&req, &mut t, NOW));
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        r.refused,
        Some(Refusal::NotInPool(Ipv4Addr::new(192, 168, 1, 50)))
    );
    assert!(nak.opts().get(OptionCode::Message).is_some());
    assert_eq!(nak.opts().get(OptionCode::SubnetMask), None);
    assert_eq!(nak.opts().get(OptionCode::AddressLeaseTime), None);
    assert_eq!(r.destination, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));

    // INIT-REBOOT for a free address of ours: we are the only server, so it is confirmed.
    let mut req = laptop(MessageType::Request);
    req.opt(DhcpOption::RequestedIpAddress(ip(102)));
    let (_, ack) = replied(decide(&req, &mut t, NOW));
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip(102));

    // Another machine asking for it is refused while the lease runs.
    let mut other = bios(MessageType::Request);
    other.opt(DhcpOption::RequestedIpAddress(ip(102)));
    let (r, nak) = replied(decide(&other, &mut t, NOW + 10));
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert!(matches!(r.refused, Some(Refusal::Taken { .. })));
}

#[test]
fn renewing_and_rebinding_extend_the_lease_by_ciaddr() {
    let mut t = table();
    let mut req = laptop(MessageType::Request);
    req.opt(DhcpOption::RequestedIpAddress(ip(101)));
    replied(decide(&req, &mut t, NOW));

    let mut renew = laptop(MessageType::Request);
    renew.msg.set_ciaddr(ip(101));
    renew.msg.set_flags(Default::default());
    let source = SocketAddrV4::new(ip(101), 68);
    let decision = decide_full(
        &renew.bytes(),
        source,
        &manifest(),
        &config(),
        &mut t,
        NOW + 1800,
    );
    let (r, ack) = replied(decision);
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip(101));
    assert_eq!(ack.ciaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        r.destination,
        SocketAddrV4::new(ip(101), 68),
        "unicast to ciaddr"
    );
    assert_eq!(
        t.own()
            .lease_of(netboot_manifest::MacAddr(LAPTOP_MAC))
            .unwrap()
            .expires,
        NOW + 1800 + 3600
    );

    // Rebinding (broadcast) with an address another client holds: NAK, broadcast.
    let mut rebind = bios(MessageType::Request);
    rebind.msg.set_ciaddr(ip(101));
    let (r, nak) = replied(decide(&rebind, &mut t, NOW + 1900));
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(r.destination, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    // A REQUEST naming nothing is not answered.
    assert_eq!(
        silent(decide(&bios(MessageType::Request), &mut t, NOW)),
        Silence::NoAddress
    );
}

#[test]
fn release_and_decline_are_silent_and_change_the_table() {
    let mut t = table();
    let mut req = laptop(MessageType::Request);
    req.opt(DhcpOption::RequestedIpAddress(ip(100)));
    replied(decide(&req, &mut t, NOW));

    // A stranger cannot release it.
    let mut release = bios(MessageType::Release);
    release.msg.set_ciaddr(ip(100));
    assert!(matches!(
        silent(decide(&release, &mut t, NOW + 5)),
        Silence::NotHeld { .. }
    ));
    let mut release = laptop(MessageType::Release);
    release.msg.set_ciaddr(ip(100));
    assert_eq!(
        silent(decide(&release, &mut t, NOW + 5)),
        Silence::Released(ip(100))
    );
    assert_eq!(t.own().remaining(ip(100), NOW + 5), Some(0));

    // The client is offered .100 again, finds it in use (ARP), declines it.
    let (_, offer) = replied(decide(&laptop(MessageType::Discover), &mut t, NOW + 6));
    assert_eq!(offer.yiaddr(), ip(100));
    let mut decline = laptop(MessageType::Decline);
    decline.opt(DhcpOption::RequestedIpAddress(ip(100)));
    decline.opt(DhcpOption::ServerIdentifier(SERVER.addr));
    assert_eq!(
        silent(decide(&decline, &mut t, NOW + 7)),
        Silence::Declined { ip: ip(100) }
    );
    let (_, offer) = replied(decide(&laptop(MessageType::Discover), &mut t, NOW + 8));
    assert_eq!(offer.yiaddr(), ip(101), "a declined address is not offered");
}

#[test]
fn inform_gets_configuration_without_a_lease() {
    let mut t = table();
    let mut inform = bios(MessageType::Inform);
    inform.msg.set_ciaddr(Ipv4Addr::new(10, 0, 2, 50));
    let (r, ack) = replied(decide(&inform, &mut t, NOW));
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(ack.ciaddr(), Ipv4Addr::new(10, 0, 2, 50));
    assert_address_options(&ack, false);
    assert_eq!(fname(&ack), "undionly.kpxe");
    assert_eq!(
        r.destination,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 50), 68)
    );
    assert!(t.persistent().is_empty());
}

#[test]
fn an_exhausted_pool_stays_silent_and_garbage_is_refused() {
    let mut t = table();
    for n in 0..3u8 {
        let mut r = laptop(MessageType::Discover);
        r.msg.set_chaddr(&[2, 0, 0, 0, 1, n]);
        replied(decide(&r, &mut t, NOW));
    }
    assert!(matches!(
        silent(decide(&laptop(MessageType::Discover), &mut t, NOW)),
        Silence::Exhausted(_)
    ));
    let mut cut = laptop(MessageType::Discover).bytes();
    cut.truncate(100);
    let decision = decide_full(&cut, from_nowhere(), &manifest(), &config(), &mut t, NOW);
    assert!(matches!(silent(decision), Silence::Malformed(_)));
    // A server's own message type sent to us is not answered.
    assert!(matches!(
        silent(decide(&laptop(MessageType::Offer), &mut t, NOW)),
        Silence::MessageType(2)
    ));
}

// ---- the socket loop, with the lease file across a restart ----

fn settings() -> FullSettings {
    FullSettings {
        first: Ipv4Addr::new(127, 0, 0, 100),
        last: Ipv4Addr::new(127, 0, 0, 110),
        lease_secs: 3600,
        router: None,
        dns: vec![],
        relayed: vec![],
    }
}

async fn start_full(lease_file: &Path) -> (tokio::task::JoinHandle<()>, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let snap = Arc::new(Snapshot::from_compiled(
        manifest(),
        &generated(),
        dir.path(),
    ));
    let (_tx, rx) = watch::channel(snap);
    // Loopback stands in for the lab's interface: 127.0.0.1/8 is the server's subnet.
    let identity = netboot_runtime::dhcp::ServerIdentity {
        addr: Ipv4Addr::LOCALHOST,
        http_port: 8080,
    };
    let (full, dropped) = FullDhcp::open(
        &settings(),
        identity,
        Ipv4Addr::new(255, 0, 0, 0),
        lease_file.to_path_buf(),
    )
    .unwrap();
    assert!(dropped.is_empty());
    let config = DhcpConfig {
        server_addr: Ipv4Addr::LOCALHOST,
        http_port: 8080,
        interface: None,
        dhcp_port: 0,
        pxe_port: 0,
    };
    let server = DhcpServer::bind_full(&config, full, rx).await.unwrap();
    let (dhcp, _) = server.local_addrs();
    let task = tokio::spawn(server.run());
    (task, SocketAddr::from((Ipv4Addr::LOCALHOST, dhcp.port())))
}

async fn exchange(client: &UdpSocket, to: SocketAddr, packet: &[u8]) -> Message {
    client.send_to(packet, to).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("the server answers within 5 s")
        .unwrap();
    decode(&buf[..n])
}

#[tokio::test]
async fn leases_are_saved_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state/leases.json");
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    let (task, dhcp) = start_full(&file).await;
    let offer = exchange(&client, dhcp, &bios(MessageType::Discover).bytes()).await;
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(127, 0, 0, 100));
    assert!(!file.exists(), "an offer is not written down");
    let req = selecting(
        bios(MessageType::Request),
        offer.yiaddr(),
        Ipv4Addr::LOCALHOST,
    );
    let ack = exchange(&client, dhcp, &req.bytes()).await;
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    let saved = leases_file::load(&file).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].ip, Ipv4Addr::new(127, 0, 0, 100));
    assert_eq!(saved[0].state, LeaseState::Bound);
    task.abort();
    let _ = task.await;

    // After a restart, the same machine gets the same address and another machine does not
    // get it.
    let (task, dhcp) = start_full(&file).await;
    let mut other = laptop(MessageType::Discover);
    other.opt(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
        127, 0, 0, 100,
    )));
    let offer = exchange(&client, dhcp, &other.bytes()).await;
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(127, 0, 0, 101));
    let offer = exchange(&client, dhcp, &bios(MessageType::Discover).bytes()).await;
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(127, 0, 0, 100));
    task.abort();
}

#[tokio::test]
async fn a_damaged_lease_file_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leases.json");
    std::fs::write(&file, "{\"format\": 1, \"leases\": [{}]}").unwrap();
    let loopback = netboot_runtime::dhcp::ServerIdentity {
        addr: Ipv4Addr::LOCALHOST,
        http_port: 8080,
    };
    let err = FullDhcp::open(
        &settings(),
        loopback,
        Ipv4Addr::new(255, 0, 0, 0),
        file.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("leases.json") && err.contains("lease 1"),
        "{err}"
    );
}
