//! The PostgreSQL state backend against a real PostgreSQL server (a throwaway cluster, see
//! test-support's `postgres`): an address raced for by several servers goes to one; the
//! install records follow the file store's rules; a database that is down is an error named
//! by its URL at start-up and a refusal (never a guess) while serving.

use std::net::Ipv4Addr;
use std::sync::{Arc, Barrier};

use netboot_manifest::MacAddr;
use netboot_runtime::dhcp::{LeaseRanges, LeaseStore, PgLeases, Pool, RangeId, Refusal};
use netboot_runtime::install::{InstallRecord, InstallStore};
use netboot_runtime::pg::StateUrl;
use netboot_test_support::postgres::Postgres;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

fn pool() -> Pool {
    Pool::new(ip(10), ip(200), [ip(1)]).unwrap()
}

fn url(pg: &Postgres) -> StateUrl {
    pg.url().parse().unwrap()
}

/// Eight servers, each on its own connection, bind eight machines to one address at once:
/// one gets it, the others are refused, and the table holds one lease for it.
#[test]
fn concurrent_binds_of_one_address_have_one_winner() {
    let Some(pg) = Postgres::start("concurrent_binds_of_one_address_have_one_winner") else {
        return;
    };
    const SERVERS: u8 = 8;
    let start = Arc::new(Barrier::new(usize::from(SERVERS)));
    let racers: Vec<_> = (0..SERVERS)
        .map(|n| {
            let mut store =
                LeaseStore::Postgres(PgLeases::open(&url(&pg), pool(), vec![], 3600).unwrap());
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mac = MacAddr([0x52, 0x54, 0, 0, 0, n]);
                start.wait();
                let bound = store
                    .decide(move |ranges: &mut LeaseRanges, now| {
                        ranges.own_mut().bind(mac, ip(50), now)
                    })
                    .unwrap();
                (mac, bound)
            })
        })
        .collect();
    let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let winners: Vec<MacAddr> = results
        .iter()
        .filter(|(_, bound)| bound.is_ok())
        .map(|(mac, _)| *mac)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (_, bound) in results.iter().filter(|(_, b)| b.is_err()) {
        assert_eq!(
            bound,
            &Err(Refusal::Taken {
                ip: ip(50),
                holder: winners[0]
            })
        );
    }
    assert_eq!(
        pg.psql("SELECT host(address), mac, state FROM netboot_lease"),
        format!("10.0.0.50|{}|bound", winners[0])
    );
    // The table itself refuses a second row for the address, whoever writes it.
    let err = pg
        .psql_error(
            "INSERT INTO netboot_lease VALUES ('10.0.0.50', '52:54:00:00:00:99', 'bound', 1)",
        )
        .expect("a second lease of one address was stored");
    assert!(err.contains("duplicate key"), "{err}");
}

/// Two servers with the server's own range and a relayed subnet's, binding twelve machines
/// each in the relayed range at once: 24 distinct addresses, all of that range, and the own
/// range's lease untouched; each range is decided under the one lease lock.
#[test]
fn relayed_ranges_are_shared_under_the_same_lock() {
    let Some(pg) = Postgres::start("relayed_ranges_are_shared_under_the_same_lock") else {
        return;
    };
    let relayed = || {
        Pool::new(
            Ipv4Addr::new(10, 78, 0, 100),
            Ipv4Addr::new(10, 78, 0, 199),
            [],
        )
        .unwrap()
    };
    let open =
        || LeaseStore::Postgres(PgLeases::open(&url(&pg), pool(), vec![relayed()], 3600).unwrap());
    let own_mac = MacAddr([0x52, 0x54, 0, 0, 1, 0]);
    let own = open()
        .decide(move |r: &mut LeaseRanges, now| r.own_mut().bind(own_mac, ip(10), now))
        .unwrap();
    assert!(own.is_ok(), "{own:?}");
    const SERVERS: u8 = 2;
    const EACH: u8 = 12;
    let start = Arc::new(Barrier::new(usize::from(SERVERS)));
    let servers: Vec<_> = (0..SERVERS)
        .map(|n| {
            let mut store = open();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                (0..EACH)
                    .map(|i| {
                        let mac = MacAddr([0x52, 0x54, 0, 0, n + 2, i]);
                        store
                            .decide(move |r: &mut LeaseRanges, now| {
                                let t = r.get_mut(RangeId::Relayed(0)).expect("a relayed table");
                                let ip = t.offer(mac, None, now).expect("addresses left");
                                t.bind(mac, ip, now)
                            })
                            .unwrap()
                            .unwrap()
                            .ip
                    })
                    .collect::<Vec<Ipv4Addr>>()
            })
        })
        .collect();
    let mut got: Vec<Ipv4Addr> = servers
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), usize::from(SERVERS * EACH), "{got:?}");
    assert!(got.iter().all(|ip| relayed().contains(*ip)), "{got:?}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM netboot_lease WHERE address << '10.78.0.0/24' AND state = 'bound'"),
        (SERVERS * EACH).to_string()
    );
    assert_eq!(
        pg.psql(
            "SELECT host(address), mac, state FROM netboot_lease WHERE address << '10.0.0.0/24'"
        ),
        format!("10.0.0.10|{own_mac}|bound")
    );
}

fn record(generation: u32, at: u64) -> InstallRecord {
    InstallRecord {
        host: "web1".into(),
        generation,
        at,
        address: ip(5).into(),
    }
}

/// The file store's rules (`install::store`'s tests), through two servers' stores on one
/// database: a repeat or an older generation writes nothing, a newer one replaces, a forget
/// by one is seen by the other at once.
#[test]
fn install_records_follow_the_file_stores_rules_across_servers() {
    let Some(pg) = Postgres::start("install_records_follow_the_file_stores_rules_across_servers")
    else {
        return;
    };
    let mac = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
    let a = InstallStore::postgres(&url(&pg)).unwrap();
    let b = InstallStore::postgres(&url(&pg)).unwrap();
    assert!(a.current().unwrap().is_empty());
    assert!(a.record(mac, record(2, 10)).unwrap());
    assert_eq!(b.current().unwrap()[&mac], record(2, 10));
    assert!(
        !b.record(mac, record(2, 20)).unwrap(),
        "a repeat writes nothing"
    );
    assert!(
        !b.record(mac, record(1, 30)).unwrap(),
        "an older one writes nothing"
    );
    assert_eq!(a.current().unwrap()[&mac], record(2, 10));
    assert!(b.record(mac, record(3, 40)).unwrap());
    assert_eq!(a.current().unwrap()[&mac], record(3, 40));
    // `netboot reinstall --state` on a third connection.
    let cli = InstallStore::postgres(&url(&pg)).unwrap();
    assert_eq!(cli.forget(mac).unwrap(), Some(record(3, 40)));
    assert_eq!(cli.forget(mac).unwrap(), None);
    assert!(a.current().unwrap().is_empty() && b.current().unwrap().is_empty());
}

/// Start-up against a database nobody answers for fails, naming it without its password.
#[test]
fn a_database_that_is_down_fails_start_up_by_name_without_its_password() {
    let empty = tempfile::tempdir().unwrap();
    let socket_dir = empty.path().to_str().unwrap().replace('/', "%2F");
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refused.local_addr().unwrap().port();
    drop(refused);
    for text in [
        format!("postgres://netboot:s3cret@{socket_dir}/netboot"),
        format!("postgres://netboot:s3cret@127.0.0.1:{port}/netboot"),
    ] {
        let url: StateUrl = text.parse().unwrap();
        let shown = url.to_string();
        assert!(shown.contains("netboot:***@"), "{shown}");
        for err in [
            InstallStore::postgres(&url).unwrap_err().to_string(),
            PgLeases::open(&url, pool(), vec![], 3600)
                .unwrap_err()
                .to_string(),
        ] {
            assert!(
                err.contains("cannot reach the state database") && err.contains(&shown),
                "{err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}

/// A database that goes down while serving: reads and lease decisions are errors (the server
/// then answers nothing, or the `then` profile), never an empty state or a guessed address;
/// once it is back, the same stores work again.
#[test]
fn a_database_down_while_serving_is_an_error_never_a_guess() {
    let Some(mut pg) = Postgres::start("a_database_down_while_serving_is_an_error_never_a_guess")
    else {
        return;
    };
    let mac = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
    let install = InstallStore::postgres(&url(&pg)).unwrap();
    let mut leases = LeaseStore::Postgres(PgLeases::open(&url(&pg), pool(), vec![], 3600).unwrap());
    install.record(mac, record(1, 1)).unwrap();
    let offer = leases.decide(move |t: &mut LeaseRanges, now| t.own_mut().offer(mac, None, now));
    assert_eq!(offer.unwrap(), Ok(ip(10)));
    pg.stop();
    let err = install.current().unwrap_err();
    assert!(err.contains("state database"), "{err}");
    assert!(install.record(mac, record(2, 2)).is_err());
    let decided = leases.decide(move |t: &mut LeaseRanges, now| t.own_mut().offer(mac, None, now));
    assert!(decided.is_err(), "{decided:?}");
    pg.restart();
    assert_eq!(install.current().unwrap()[&mac], record(1, 1));
    let offer = leases.decide(move |t: &mut LeaseRanges, now| t.own_mut().offer(mac, None, now));
    assert_eq!(offer.unwrap(), Ok(ip(10)), "its offer is still its own");
}
