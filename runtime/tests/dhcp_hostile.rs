//! Packets a LAN can throw at the proxy: each is ignored with a clear reason, never answered
//! wrongly, and never panics.

use dhcproto::v4::MessageType;
use netboot_runtime::dhcp::{answer, Decision, Ignored, MalformedRequest, OptionError, Port};
use netboot_test_support::dhcp::*;
use netboot_test_support::rng::XorShift;

fn valid_bios_discover() -> Vec<u8> {
    Req::firmware(
        MessageType::Discover,
        UNKNOWN_MAC,
        "PXEClient:Arch:00000:UNDI:002001",
        0,
    )
    .bytes()
}

fn verdict(bytes: &[u8]) -> Decision {
    answer(bytes, Port::Dhcp67, from_nowhere(), &manifest(), &SERVER)
}

fn malformed(bytes: &[u8]) -> MalformedRequest {
    match verdict(bytes) {
        Decision::Ignore(Ignored::Malformed(m)) => m,
        other => panic!("expected a malformed-packet verdict, got {other:?}"),
    }
}

#[test]
fn every_truncation_of_a_valid_packet_is_ignored() {
    let full = valid_bios_discover();
    assert!(matches!(verdict(&full), Decision::Reply(_)));
    for len in 0..full.len() {
        assert!(
            matches!(
                verdict(&full[..len]),
                Decision::Ignore(Ignored::Malformed(_))
            ),
            "answered a {len}-byte cut"
        );
    }
    assert_eq!(malformed(&full[..100]), MalformedRequest::Truncated(100));
}

#[test]
fn an_option_running_past_the_end_is_refused() {
    let mut p = valid_bios_discover();
    p.truncate(p.len() - 1); // drop END
    p.extend_from_slice(&[60, 200, b'P', b'X']);
    assert!(matches!(
        malformed(&p),
        MalformedRequest::Options(OptionError::Overrun {
            code: 60,
            claimed: 200,
            ..
        })
    ));
}

#[test]
fn wrong_hardware_length_is_refused_without_touching_chaddr() {
    for hlen in [0u8, 5, 7, 16, 17, 255] {
        let mut p = valid_bios_discover();
        p[2] = hlen;
        assert_eq!(malformed(&p), MalformedRequest::Hardware { htype: 1, hlen });
    }
    let mut p = valid_bios_discover();
    p[1] = 32; // InfiniBand
    assert!(matches!(
        malformed(&p),
        MalformedRequest::Hardware { htype: 32, .. }
    ));
}

#[test]
fn replies_and_bootp_and_relay_loops_are_refused() {
    let mut p = valid_bios_discover();
    p[0] = 2;
    assert_eq!(malformed(&p), MalformedRequest::NotRequest(2));
    let mut p = valid_bios_discover();
    p[236] = 0;
    assert_eq!(malformed(&p), MalformedRequest::NoMagic);
    let mut p = valid_bios_discover();
    p[3] = 17;
    assert_eq!(malformed(&p), MalformedRequest::Hops(17));
}

#[test]
fn looping_option_overload_is_followed_once() {
    // Main area says "more options in file and sname"; both of those say it again.
    let mut p = valid_bios_discover();
    p.truncate(240);
    p.extend_from_slice(&[53, 1, 1, 52, 1, 3, 255]);
    p[108..115].copy_from_slice(&[52, 1, 3, 52, 1, 3, 255]);
    p[44..51].copy_from_slice(&[52, 1, 3, 52, 1, 3, 255]);
    // It terminates and, having no vendor class, is not ours.
    assert!(matches!(verdict(&p), Decision::Ignore(Ignored::NotOurs(_))));

    // A bad overload value is refused outright.
    p.truncate(240);
    p.extend_from_slice(&[53, 1, 1, 52, 1, 9, 255]);
    assert!(matches!(
        malformed(&p),
        MalformedRequest::Options(OptionError::BadOverload(_))
    ));
}

#[test]
fn vendor_class_split_across_overloaded_fields_is_joined() {
    let mut p = valid_bios_discover();
    p.truncate(240);
    p.extend_from_slice(&[
        53, 1, 1, 52, 1, 1, 93, 2, 0, 0, 60, 3, b'P', b'X', b'E', 255,
    ]);
    let rest = b"Client:Arch:00000";
    p[108] = 60;
    p[109] = rest.len() as u8;
    p[110..110 + rest.len()].copy_from_slice(rest);
    p[110 + rest.len()] = 255;
    assert!(matches!(verdict(&p), Decision::Reply(_)));
}

#[test]
fn a_packet_made_of_options_only_terminates() {
    // 64 KiB of one-byte options with zero length: bounded work, no reply.
    let mut p = valid_bios_discover();
    p.truncate(240);
    p.extend_from_slice(&[53, 1, 1]);
    for _ in 0..30_000 {
        p.extend_from_slice(&[250, 0]);
    }
    p.push(255);
    assert!(matches!(verdict(&p), Decision::Ignore(Ignored::NotOurs(_))));
}

#[test]
fn missing_or_odd_message_type_is_ignored() {
    let mut p = valid_bios_discover();
    p.truncate(240);
    p.extend_from_slice(&[60, 9]);
    p.extend_from_slice(b"PXEClient");
    p.push(255);
    assert_eq!(malformed(&p), MalformedRequest::NoMessageType);
    let mut p = valid_bios_discover();
    p.truncate(240);
    p.extend_from_slice(&[53, 2, 1, 1, 255]);
    assert_eq!(malformed(&p), MalformedRequest::NoMessageType);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz pass (xorshift) over mutations of a valid packet.
    let base = valid_bios_discover();
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next_u64();
    let mut answered = 0;
    for _ in 0..20_000 {
        let mut p = base.clone();
        let flips = next() % 8 + 1;
        for _ in 0..flips {
            let i = (next() as usize) % p.len();
            p[i] = next() as u8;
        }
        let cut = (next() as usize) % (p.len() + 1);
        p.truncate(cut.max(200));
        if let Decision::Reply(r) = verdict(&p) {
            answered += 1;
            assert_eq!(&r.bytes[16..20], &[0, 0, 0, 0], "yiaddr stays 0.0.0.0");
        }
    }
    assert!(answered > 0, "some mutations leave a valid PXE request");
}
