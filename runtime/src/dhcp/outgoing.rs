//! The one reply path: proxy answers ([`answer`](super::answer)) and full-DHCP answers
//! ([`full`](super::full)) both describe their BOOTREPLY as an [`Outgoing`], and [`build`]
//! encodes it and picks where it goes. What differs between the two modes is data (an address
//! or none, lease options or none, a NAK's text), not a second encoder, so a fix to how a boot
//! answer is laid out reaches both.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{
    DhcpOption, DhcpOptions, Flags, HType, Message, MessageType as WireType, Opcode, OptionCode,
    UnknownOption,
};
use dhcproto::Encodable;
use netboot_manifest::{ClientKind, Protocol};

use super::classify::{Client, VendorClass};
use super::destination::{route, Sender};
use super::lease::Refusal;
use super::request::Request;

/// A reply to encode: the request it answers and everything the reply says.
pub(super) struct Outgoing<'a> {
    pub request: &'a Request,
    /// OFFER, ACK or NAK.
    pub message: WireType,
    /// Server identifier and next-server.
    pub server: Ipv4Addr,
    /// The client's address as the reply echoes it.
    pub ciaddr: Ipv4Addr,
    /// The address given: always 0.0.0.0 from a proxy.
    pub yiaddr: Ipv4Addr,
    /// Why a NAK was sent (option 56).
    pub refused: Option<&'a Refusal>,
    /// Full mode's network configuration; `None` from a proxy and in a NAK.
    pub network: Option<Network<'a>>,
    /// What a boot client is told to fetch.
    pub boot: Option<Boot<'a>>,
    /// Who sends it, which decides where it goes.
    pub sender: Sender,
}

/// The options that configure a client's address (full mode only).
pub(super) struct Network<'a> {
    pub netmask: Ipv4Addr,
    pub router: Option<Ipv4Addr>,
    pub dns: &'a [Ipv4Addr],
    /// Lease, renewal and rebinding times; `None` for an INFORM, whose client configured its
    /// address itself (RFC 2131 3.4).
    pub lease_secs: Option<u32>,
}

/// The boot answer: the same for a proxy and for full mode.
pub(super) struct Boot<'a> {
    pub client: &'a Client,
    pub protocol: Protocol,
    /// A TFTP path or an HTTP URL.
    pub file: &'a str,
}

/// An encoded reply and where to send it.
pub(super) struct Built {
    pub bytes: Vec<u8>,
    pub destination: SocketAddrV4,
}

/// Encodes `out` and picks its destination for a request that came from `source`.
pub(super) fn build(
    out: &Outgoing<'_>,
    source: SocketAddrV4,
) -> Result<Built, dhcproto::error::EncodeError> {
    Ok(Built {
        bytes: encode(out)?,
        destination: route(out.request, source, out.sender),
    })
}

/// PXE vendor option 6 (discovery control) = 8: skip boot server discovery and boot the file
/// named here. The trailing 255 ends the encapsulated options.
const SKIP_DISCOVERY: [u8; 4] = [6, 1, 8, 255];
/// PXE vendor option 71: the boot item a client asks a boot server for.
const BOOT_ITEM: u8 = 71;

fn encode(out: &Outgoing<'_>) -> Result<Vec<u8>, dhcproto::error::EncodeError> {
    let request = out.request;
    let server = out.server;
    let mut flags = Flags::from(request.flags);
    // RFC 2131 4.3.2: a NAK through a relay must be broadcast on the client's link.
    if out.message == WireType::Nak && !request.giaddr.is_unspecified() {
        flags = flags.set_broadcast();
    }
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootReply)
        .set_htype(HType::Eth)
        .set_chaddr(&request.mac.0)
        .set_xid(request.xid)
        .set_secs(0)
        .set_flags(flags)
        .set_ciaddr(out.ciaddr)
        .set_yiaddr(out.yiaddr)
        .set_giaddr(request.giaddr);

    // Options are a sorted map: the order of the inserts below does not change the bytes.
    let mut opts = DhcpOptions::new();
    opts.insert(DhcpOption::MessageType(out.message));
    opts.insert(DhcpOption::ServerIdentifier(server));
    if let Some(why) = out.refused {
        opts.insert(DhcpOption::Message(why.to_string()));
    }
    if let Some(network) = &out.network {
        opts.insert(DhcpOption::SubnetMask(network.netmask));
        if let Some(router) = network.router {
            opts.insert(DhcpOption::Router(vec![router]));
        }
        if !network.dns.is_empty() {
            opts.insert(DhcpOption::DomainNameServer(network.dns.to_vec()));
        }
        if let Some(secs) = network.lease_secs {
            opts.insert(DhcpOption::AddressLeaseTime(secs));
            opts.insert(DhcpOption::Renewal(secs / 2));
            opts.insert(DhcpOption::Rebinding(secs / 8 * 7));
        }
    }
    if let Some(boot) = &out.boot {
        opts.insert(DhcpOption::ClassIdentifier(
            boot.client.class.as_bytes().to_vec(),
        ));
        if let Some(guid) = request.options.get(97) {
            if guid.len() <= 255 {
                opts.insert(DhcpOption::ClientMachineIdentifier(guid.to_vec()));
            }
        }
        if let Some(vendor) = vendor_options(request, boot.client) {
            opts.insert(DhcpOption::VendorExtensions(vendor));
        }
        // next-server is set even for HTTP answers: iPXE treats a proxy offer or ACK without
        // siaddr and a boot file as having no PXE options; it ignores such an ACK on 4011 and
        // ends with "Nothing to boot" (seen with the SeaBIOS iPXE ROM). With both, it boots
        // from the offer at once, without the 4011 round trip.
        msg.set_siaddr(server);
        if boot.protocol == Protocol::Tftp {
            msg.set_sname_str(server.to_string());
            opts.insert(DhcpOption::TFTPServerName(server.to_string().into_bytes()));
        }
        // The file field holds 128 bytes with its NUL; a longer name travels in option 67 only.
        if boot.file.len() < 128 {
            msg.set_fname_str(boot.file);
        }
        opts.insert(DhcpOption::BootfileName(boot.file.as_bytes().to_vec()));
    }
    echo_relay_information(request, &mut opts);
    msg.set_opts(opts);
    msg.to_vec()
}

/// RFC 3046: a relay's agent information (option 82) goes back to it unchanged.
fn echo_relay_information(request: &Request, opts: &mut DhcpOptions) {
    if request.giaddr.is_unspecified() {
        return;
    }
    if let Some(info) = request.options.get(82).filter(|info| info.len() <= 255) {
        opts.insert(DhcpOption::Unknown(UnknownOption::new(
            OptionCode::RelayAgentInformation,
            info.to_vec(),
        )));
    }
}

/// Option 43 for the reply, or `None` to leave it out.
///
/// PXEClient firmware that is not UEFI (BIOS ROMs, iPXE) is told to skip boot server discovery.
/// UEFI PXE firmware gets no option 43 in the OFFER: edk2 then treats us as a "BINL" proxy and
/// asks again on 4011, which is the path every UEFI firmware handles (some ignore an offer that
/// tells them to skip discovery). A client that asked for a boot item gets it echoed, as a PXE
/// boot server must.
fn vendor_options(request: &Request, client: &Client) -> Option<Vec<u8>> {
    if client.class != VendorClass::PxeClient {
        return None;
    }
    if let Some(item) = requested_boot_item(request) {
        let mut v = vec![BOOT_ITEM, 4];
        v.extend_from_slice(&item);
        v.push(255);
        return Some(v);
    }
    match client.kind {
        ClientKind::EfiX64 | ClientKind::EfiArm64 => None,
        _ => Some(SKIP_DISCOVERY.to_vec()),
    }
}

/// The 4-byte boot item (type, layer) in the request's option 43, if any.
fn requested_boot_item(request: &Request) -> Option<[u8; 4]> {
    let vendor = request.options.get(43)?;
    let mut at = 0;
    while at + 1 < vendor.len() {
        let (code, len) = (vendor[at], usize::from(vendor[at + 1]));
        if code == 255 {
            return None;
        }
        if code == 0 {
            at += 1;
            continue;
        }
        let value = vendor.get(at + 2..at + 2 + len)?;
        if code == BOOT_ITEM {
            return value.try_into().ok();
        }
        at += 2 + len;
    }
    None
}
