//! Which address the server tells clients to fetch from.
//!
//! A wrong next-server is the classic reason a PXE client gets an offer and then boots nothing,
//! so the address is settled once at start-up and checked against the interface instead of
//! being guessed per packet.

use std::net::{IpAddr, Ipv4Addr};

/// Why no usable address could be settled.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("cannot list network interfaces: {0}")]
    List(#[from] std::io::Error),
    #[error("interface `{name}` does not exist (interfaces with IPv4: {known})")]
    NoSuchInterface { name: String, known: String },
    #[error("interface `{name}` has no IPv4 address")]
    NoIpv4 { name: String },
    #[error("address {address} is not on interface `{name}` (it has {has}); clients would be told to fetch from a host they cannot reach")]
    NotOnInterface {
        address: Ipv4Addr,
        name: String,
        has: String,
    },
    #[error("no server address: give `address` in the fleet's server block, or pass --address or --interface")]
    Unknown,
}

/// Settles the advertised address from an explicit address and/or an interface name.
pub fn resolve(
    address: Option<Ipv4Addr>,
    interface: Option<&str>,
) -> Result<Ipv4Addr, AddressError> {
    let Some(name) = interface else {
        return address.ok_or(AddressError::Unknown);
    };
    let all = if_addrs::get_if_addrs()?;
    let v4 = |want: &str| -> Vec<Ipv4Addr> {
        all.iter()
            .filter(|i| i.name == want)
            .filter_map(|i| match i.ip() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect()
    };
    let on_interface = v4(name);
    if on_interface.is_empty() {
        if all.iter().any(|i| i.name == name) {
            return Err(AddressError::NoIpv4 { name: name.into() });
        }
        let mut known: Vec<&str> = all
            .iter()
            .filter(|i| i.ip().is_ipv4())
            .map(|i| i.name.as_str())
            .collect();
        known.dedup();
        return Err(AddressError::NoSuchInterface {
            name: name.into(),
            known: known.join(", "),
        });
    }
    match address {
        None => Ok(on_interface[0]),
        Some(a) if on_interface.contains(&a) => Ok(a),
        Some(a) => Err(AddressError::NotOnInterface {
            address: a,
            name: name.into(),
            has: on_interface
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolves_and_foreign_addresses_are_refused() {
        let lo = if_addrs::get_if_addrs()
            .unwrap()
            .into_iter()
            .find(|i| i.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .map(|i| i.name);
        let Some(lo) = lo else { return };
        assert_eq!(resolve(None, Some(&lo)).unwrap(), Ipv4Addr::LOCALHOST);
        assert!(matches!(
            resolve(Some(Ipv4Addr::new(192, 0, 2, 1)), Some(&lo)),
            Err(AddressError::NotOnInterface { .. })
        ));
        assert!(matches!(
            resolve(None, Some("no-such-if0")),
            Err(AddressError::NoSuchInterface { .. })
        ));
        assert!(matches!(resolve(None, None), Err(AddressError::Unknown)));
        let a = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(resolve(Some(a), None).unwrap(), a);
    }
}
