use proptest::prelude::*;

use super::*;
use crate::policy::{authorize, decide, FlowKey, PolicyKey, PolicyLookups, Verdict};

fn ipv4_tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> [u8; 54] {
    let mut f = [0u8; 54];
    f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[22] = 64;
    f[23] = IPPROTO_TCP;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f[47] = flags;
    f
}

#[test]
fn parses_ipv4_tcp() {
    let frame = ipv4_tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 8080, TCP_FLAG_SYN);
    let Parsed::Ip(h) = parse_frame(&frame[..]).unwrap() else {
        panic!("not IP")
    };
    assert_eq!(
        h.addrs(),
        IpPair::V4 {
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2]
        }
    );
    assert_eq!(
        (h.protocol, h.src_port, h.dst_port),
        (IPPROTO_TCP, 40000, 8080)
    );
    assert_eq!((h.l3_offset, h.l4_offset), (14, 34));
    assert_eq!(h.tcp_flags, TCP_FLAG_SYN);
    assert!(h.has_ports());
}

#[test]
fn every_truncation_of_a_tcp_frame_is_an_error_not_a_panic() {
    let frame = ipv4_tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 0);
    for len in 0..frame.len() {
        let result = parse_frame(&frame[..len]);
        assert!(
            matches!(result, Err(ParseError::Truncated { .. })),
            "length {len}: {result:?}"
        );
    }
}

#[test]
fn ipv4_options_move_the_transport_header() {
    let mut frame = [0u8; 62];
    let base = ipv4_tcp_frame([1, 1, 1, 1], [2, 2, 2, 2], 5, 6, 0);
    frame[..34].copy_from_slice(&base[..34]);
    frame[14] = 0x47; // IHL 7: 8 bytes of options
    frame[42..62].copy_from_slice(&base[34..54]);
    let Parsed::Ip(h) = parse_frame(&frame[..]).unwrap() else {
        panic!()
    };
    assert_eq!((h.l4_offset, h.src_port, h.dst_port), (42, 5, 6));
}

#[test]
fn bad_ihl_and_version_are_rejected() {
    let mut frame = ipv4_tcp_frame([1, 1, 1, 1], [2, 2, 2, 2], 5, 6, 0);
    frame[14] = 0x44;
    assert_eq!(
        parse_frame(&frame[..]),
        Err(ParseError::BadIpv4HeaderLength { ihl: 4 })
    );
    frame[14] = 0x65;
    assert_eq!(
        parse_frame(&frame[..]),
        Err(ParseError::BadIpVersion { version: 6 })
    );
}

#[test]
fn later_fragments_have_no_ports() {
    let mut frame = ipv4_tcp_frame([1, 1, 1, 1], [2, 2, 2, 2], 5, 6, 0);
    frame[20] = 0x00;
    frame[21] = 0x10; // fragment offset 16 (x8 bytes)
    let Parsed::Ip(h) = parse_frame(&frame[..34]).unwrap() else {
        panic!()
    };
    assert!(h.later_fragment);
    assert!(!h.has_ports());
    assert_eq!((h.src_port, h.dst_port), (0, 0));
}

#[test]
fn parses_ipv6_udp_and_passes_arp() {
    let mut frame = [0u8; 14 + 40 + 8];
    frame[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    frame[14] = 0x60;
    frame[20] = IPPROTO_UDP;
    frame[22 + 15] = 1; // src ::1
    frame[38 + 15] = 2; // dst ::2
    frame[54..56].copy_from_slice(&53u16.to_be_bytes());
    frame[56..58].copy_from_slice(&5353u16.to_be_bytes());
    let Parsed::Ip(h) = parse_frame(&frame[..]).unwrap() else {
        panic!()
    };
    let IpPair::V6 { src, dst } = h.addrs() else {
        panic!()
    };
    assert_eq!((src[15], dst[15]), (1, 2));
    assert_eq!(
        (h.protocol, h.src_port, h.dst_port, h.l4_offset),
        (17, 53, 5353, 54)
    );

    // Neighbour advertisement (136) to a policed address still passes.
    let mut na = frame;
    na[20] = IPPROTO_ICMPV6;
    na[54] = 136;
    let Parsed::Ip(h) = parse_frame(&na[..]).unwrap() else {
        panic!()
    };
    assert!(h.is_neighbor_discovery() && !h.has_ports());
    na[54] = 128; // echo request is not
    let Parsed::Ip(h) = parse_frame(&na[..]).unwrap() else {
        panic!()
    };
    assert!(!h.is_neighbor_discovery());

    let mut arp = [0u8; 42];
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    assert_eq!(
        parse_frame(&arp[..]),
        Ok(Parsed::NotIp { ether_type: 0x0806 })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Arbitrary bytes: never a panic, and whatever is reported lies inside the frame.
    #[test]
    fn arbitrary_bytes_never_panic_and_offsets_stay_inside(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        match parse_frame(&bytes[..]) {
            Ok(Parsed::Ip(h)) => {
                prop_assert!(h.l3_offset < bytes.len());
                prop_assert!(h.l4_offset <= bytes.len());
                if h.has_ports() {
                    let header = if h.protocol == IPPROTO_TCP { TCP_MIN_HEADER_LEN } else { UDP_HEADER_LEN };
                    prop_assert!(h.l4_offset + header <= bytes.len());
                }
            }
            Ok(Parsed::NotIp { ether_type }) => {
                prop_assert!(ether_type != ETHERTYPE_IPV4 && ether_type != ETHERTYPE_IPV6);
            }
            Err(ParseError::Truncated { offset, needed }) => {
                prop_assert!(offset + needed > bytes.len());
            }
            Err(_) => {}
        }
    }

    /// Frames that start as valid IPv4 headers with random tails still parse within bounds, and
    /// well-formed ones yield exactly the fields written into them.
    #[test]
    fn ipv4_frames_round_trip(src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
                              sport in any::<u16>(), dport in any::<u16>(), flags in any::<u8>(),
                              cut in 0usize..60) {
        let frame = ipv4_tcp_frame(src, dst, sport, dport, flags);
        let parsed = parse_frame(&frame[..]).unwrap();
        let Parsed::Ip(h) = parsed else { panic!("not IP") };
        prop_assert_eq!(h.addrs(), IpPair::V4 { src, dst });
        prop_assert_eq!((h.protocol, h.l3_offset, h.l4_offset), (IPPROTO_TCP, 14, 34));
        prop_assert_eq!((h.src_port, h.dst_port, h.tcp_flags), (sport, dport, flags));
        prop_assert_eq!((h.icmpv6_type, h.later_fragment, h.pad), (0, false, [0; 7]));
        let truncated = parse_frame(&frame[..cut.min(frame.len())]);
        prop_assert!(cut >= frame.len() || truncated.is_err());
    }
}

/// Table-backed lookups: the same decision code the kernel runs, over plain arrays.
struct Tables<'a> {
    identities: &'a [([u8; 4], u32)],
    policed: &'a [u32],
    rules: &'a [PolicyKey],
    replies: &'a [FlowKey],
    forwarded: &'a [(FlowKey, u32)],
}

impl PolicyLookups for Tables<'_> {
    fn identity_v4(&self, addr: [u8; 4]) -> u32 {
        self.identities
            .iter()
            .find(|(a, _)| *a == addr)
            .map_or(0, |(_, id)| *id)
    }
    fn identity_v6(&self, _addr: [u8; 16]) -> u32 {
        0
    }
    fn is_policed(&self, identity: u32) -> bool {
        self.policed.contains(&identity)
    }
    fn has_rule(&self, key: &PolicyKey) -> bool {
        self.rules.contains(key)
    }
    fn is_reply(&self, flow: &FlowKey) -> bool {
        self.replies.contains(flow)
    }
    fn forwarded_identity(&self, flow: &FlowKey) -> Option<u32> {
        self.forwarded
            .iter()
            .find(|(f, _)| f == flow)
            .map(|(_, id)| *id)
    }
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const OTHER: [u8; 4] = [10, 0, 0, 3];
const STRANGER: [u8; 4] = [10, 0, 0, 9];

fn tables(rules: &[PolicyKey]) -> Tables<'_> {
    Tables {
        identities: &[(CLIENT, 1), (SERVER, 2), (OTHER, 3)],
        policed: &[2],
        rules,
        replies: &[],
        forwarded: &[],
    }
}

fn verdict(t: &Tables<'_>, src: [u8; 4], dst: [u8; 4], dport: u16) -> Verdict {
    let frame = ipv4_tcp_frame(src, dst, 40000, dport, TCP_FLAG_SYN);
    let Ok(Parsed::Ip(h)) = parse_frame(&frame[..]) else {
        panic!()
    };
    decide(&h, t).verdict
}

#[test]
fn policy_allows_only_the_named_pair_port_and_protocol() {
    static RULES: [PolicyKey; 1] = [PolicyKey::new(1, 2, IPPROTO_TCP, 8080)];
    let t = tables(&RULES);
    assert_eq!(verdict(&t, CLIENT, SERVER, 8080), Verdict::PassAllowed);
    assert_eq!(verdict(&t, CLIENT, SERVER, 8081), Verdict::DropDenied);
    assert_eq!(verdict(&t, OTHER, SERVER, 8080), Verdict::DropDenied);
    assert_eq!(
        verdict(&t, STRANGER, SERVER, 8080),
        Verdict::DropUnknownSource
    );
    // Not under policy: anything goes.
    assert_eq!(verdict(&t, STRANGER, OTHER, 1), Verdict::PassNotPoliced);
}

#[test]
fn any_port_rule_and_recorded_replies_pass() {
    static RULES: [PolicyKey; 1] = [PolicyKey::new(3, 2, IPPROTO_TCP, PolicyKey::ANY_PORT)];
    let t = tables(&RULES);
    assert_eq!(verdict(&t, OTHER, SERVER, 9), Verdict::PassAllowed);
    assert_eq!(verdict(&t, CLIENT, SERVER, 9), Verdict::DropDenied);

    // The server once talked to the stranger from port 5555 to the stranger's port 40000.
    let frame = ipv4_tcp_frame(SERVER, STRANGER, 5555, 40000, TCP_FLAG_ACK);
    let Ok(Parsed::Ip(outbound)) = parse_frame(&frame[..]) else {
        panic!()
    };
    let reply = FlowKey::from_headers(&outbound).reversed();
    let replies = [reply];
    let with_reply = Tables {
        replies: &replies,
        ..tables(&RULES)
    };
    assert_eq!(
        verdict(&with_reply, STRANGER, SERVER, 5555),
        Verdict::PassReply
    );
    assert_eq!(
        verdict(&with_reply, STRANGER, SERVER, 5556),
        Verdict::DropUnknownSource
    );
    assert!(Verdict::PassReply.passes() && !Verdict::DropDenied.passes());
}

#[test]
fn a_flow_the_node_proxy_forwards_is_judged_as_its_clients() {
    const PROXY: [u8; 4] = [10, 0, 0, 254];
    static RULES: [PolicyKey; 1] = [PolicyKey::new(1, 2, IPPROTO_TCP, 8080)];
    let frame = ipv4_tcp_frame(PROXY, SERVER, 40000, 8080, TCP_FLAG_SYN);
    let Ok(Parsed::Ip(from_proxy)) = parse_frame(&frame[..]) else {
        panic!()
    };
    let flow = FlowKey::from_headers(&from_proxy);
    // The proxy's own address has no identity: alone, its connection is dropped.
    assert_eq!(
        decide(&from_proxy, &tables(&RULES)).verdict,
        Verdict::DropUnknownSource
    );
    for (client, expected) in [(1, Verdict::PassAllowed), (3, Verdict::DropDenied)] {
        let forwarded = [(flow, client)];
        let t = Tables {
            forwarded: &forwarded,
            ..tables(&RULES)
        };
        let decision = decide(&from_proxy, &t);
        assert_eq!(decision.verdict, expected, "client identity {client}");
        assert_eq!(decision.pair.src_identity, client);
        // The proxy's own check, before it connects, says the same.
        assert_eq!(authorize(client, 2, IPPROTO_TCP, 8080, &t), expected);
    }
    // Another source port of the proxy is not the forwarded flow.
    let other = ipv4_tcp_frame(PROXY, SERVER, 40001, 8080, TCP_FLAG_SYN);
    let Ok(Parsed::Ip(other)) = parse_frame(&other[..]) else {
        panic!()
    };
    let forwarded = [(flow, 1)];
    let t = Tables {
        forwarded: &forwarded,
        ..tables(&RULES)
    };
    assert_eq!(decide(&other, &t).verdict, Verdict::DropUnknownSource);
    assert_eq!(
        authorize(0, 2, IPPROTO_TCP, 8080, &t),
        Verdict::DropUnknownSource
    );
    assert_eq!(authorize(0, 3, IPPROTO_TCP, 1, &t), Verdict::PassNotPoliced);
}
