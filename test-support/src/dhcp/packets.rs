//! Requests built with dhcproto the way firmware lays them out, replies read back, and the
//! packets captured from real firmware under `runtime/tests/fixtures/dhcp/`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};

use super::manifest::SERVER;

/// A client's request, built with dhcproto the way firmware lays it out.
pub struct Req {
    pub msg: Message,
}

impl Req {
    pub fn new(kind: MessageType, mac: [u8; 6]) -> Req {
        let mut msg = Message::new_with_id(
            0x1234_5678,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &mac,
        );
        msg.set_flags(dhcproto::v4::Flags::default().set_broadcast());
        msg.opts_mut().insert(DhcpOption::MessageType(kind));
        Req { msg }
    }

    /// A firmware PXE/HTTP client: vendor class, arch (93) and GUID (97).
    pub fn firmware(kind: MessageType, mac: [u8; 6], vendor: &str, arch: u16) -> Req {
        let mut r = Req::new(kind, mac);
        r.opt(DhcpOption::ClassIdentifier(vendor.as_bytes().to_vec()));
        r.opt(DhcpOption::ClientSystemArchitecture(arch.into()));
        r.opt(DhcpOption::ClientMachineIdentifier(guid()));
        r
    }

    /// iPXE's DISCOVER: PXEClient class plus user class `iPXE` and option 175.
    pub fn ipxe(kind: MessageType, mac: [u8; 6]) -> Req {
        let mut r = Req::firmware(kind, mac, "PXEClient:Arch:00000:UNDI:002001", 0);
        r.opt(DhcpOption::UserClass(b"iPXE".to_vec()));
        r.opt(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
            OptionCode::from(175u8),
            vec![177, 5, 1, 0x1a, 0xf4, 0x10, 0x00],
        )));
        r
    }

    pub fn opt(&mut self, o: DhcpOption) -> &mut Req {
        self.msg.opts_mut().insert(o);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.msg.to_vec().expect("test request encodes")
    }
}

/// The GUID firmware puts in option 97: type 0 then 16 bytes.
pub fn guid() -> Vec<u8> {
    let mut g = vec![0u8];
    g.extend(1..=16u8);
    g
}

/// A broadcast source, as a client without an address sends from.
pub fn from_nowhere() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68)
}

pub fn broadcast68() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::BROADCAST, 68)
}

pub fn decode(bytes: &[u8]) -> Message {
    Message::decode(&mut Decoder::new(bytes)).expect("reply decodes")
}

/// The raw bytes of option `code` in `msg`, re-encoded by dhcproto.
pub fn opt_bytes(msg: &Message, code: u8) -> Option<Vec<u8>> {
    let opt = msg.opts().get(OptionCode::from(code))?;
    let encoded = opt.to_vec().expect("option encodes");
    Some(encoded[2..].to_vec())
}

/// The boot file field without its NUL terminator (dhcproto keeps the NUL).
pub fn fname(msg: &Message) -> String {
    let raw = msg.fname().unwrap_or_default();
    let text = raw.strip_suffix(&[0]).unwrap_or(raw);
    String::from_utf8(text.to_vec()).expect("file is text")
}

/// Checks what every proxy reply must hold, whatever the client.
pub fn assert_proxy_basics(reply: &Message, request_xid: u32, mac: [u8; 6], kind: MessageType) {
    assert_eq!(reply.opcode(), Opcode::BootReply);
    assert_eq!(reply.xid(), request_xid);
    assert_eq!(
        reply.yiaddr(),
        Ipv4Addr::UNSPECIFIED,
        "a proxy never offers an address"
    );
    assert_eq!(reply.chaddr(), &mac);
    assert_eq!(reply.opts().msg_type(), Some(kind));
    assert_eq!(
        reply.opts().get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER.addr))
    );
}

/// Where the captured packets are.
pub fn fixtures_dir() -> PathBuf {
    crate::workspace().join("runtime/tests/fixtures/dhcp")
}
