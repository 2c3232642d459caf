use std::path::Path;

use meshtwin_datapath_common::packet::{IPPROTO_TCP, IPPROTO_UDP};

use super::*;

/// Every problem of `text`, one `file:line:column: message` line each.
fn problems_of(text: &str) -> Vec<String> {
    parse(Path::new("node.toml"), text)
        .unwrap_err()
        .iter()
        .map(|d| {
            let at = d.location().expect("every problem is located");
            format!("{}:{at}: {}", d.path().display(), d.message())
        })
        .collect()
}

/// The first problem of `text` (a change may cause others further on).
fn error_of(text: &str) -> String {
    problems_of(text).into_iter().next().unwrap()
}

const VALID: &str = r#"
[agent]
metrics-address = "127.0.0.1:9500"
tc-attach = "netlink"

[[identity]]
name = "frontend"
id = 1
addresses = ["10.0.0.0/24", "fd00::1"]

[[identity]]
name = "backend"
id = 2
addresses = ["10.0.1.5"]

[[policy]]
from = "frontend"
to = "backend"
protocol = "tcp"
ports = [8080, 8443]

[[policy]]
from = "frontend"
to = "backend"
protocol = "udp"

[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["10.0.1.5:8080", "10.0.1.6:8080"]

[[attach]]
interface = "eth0"
netns = "/run/netns/backend"
program = "xdp-policy"
"#;

#[test]
fn valid_config_resolves_to_map_contents() {
    let config = parse(Path::new("node.toml"), VALID).unwrap();
    assert_eq!(config.bpffs_dir, PathBuf::from(DEFAULT_BPFFS_DIR));
    assert_eq!(config.metrics_address.to_string(), "127.0.0.1:9500");
    assert_eq!(config.tc_attach, TcAttachSetting::Netlink);
    assert_eq!(
        config.identities[0].v4,
        vec![(Ipv4Addr::new(10, 0, 0, 0), 24)]
    );
    assert_eq!(
        config.identities[0].v6,
        vec![("fd00::1".parse().unwrap(), 128)]
    );
    assert_eq!(config.policed, BTreeSet::from([2]));
    assert_eq!(
        config.rules,
        vec![
            PolicyKey::new(1, 2, IPPROTO_TCP, 8080),
            PolicyKey::new(1, 2, IPPROTO_TCP, 8443),
            PolicyKey::new(1, 2, IPPROTO_UDP, PolicyKey::ANY_PORT),
        ]
    );
    assert_eq!(
        config.services[0].key,
        ServiceKey::new([10, 96, 0, 10], 80, IPPROTO_TCP)
    );
    assert_eq!(config.services[0].backends[1].addr, [10, 0, 1, 6]);
    assert_eq!(
        config.attachments[0].netns.as_deref(),
        Some(Path::new("/run/netns/backend"))
    );
}

#[test]
fn errors_name_file_line_and_column() {
    let broken = VALID.replace(
        "to = \"backend\"\nprotocol = \"tcp\"",
        "to = \"backnd\"\nprotocol = \"tcp\"",
    );
    assert_eq!(
        error_of(&broken),
        "node.toml:18:6: unknown identity \"backnd\": define it in an [[identity]] table"
    );
    let broken = VALID.replace("\"10.0.0.0/24\"", "\"10.0.0.1/24\"");
    assert_eq!(
        error_of(&broken),
        "node.toml:9:14: \"10.0.0.1/24\" has host bits set; write 10.0.0.0/24"
    );
    assert_eq!(
        error_of("[agent]\nmetrics-address = \"0.0.0.0:9464\"\n"),
        "node.toml:2:19: metrics are served on loopback only; 0.0.0.0 is not a loopback address"
    );
}

#[test]
fn a_service_proxy_port_resolves() {
    let text = VALID.replace(
        "\"10.0.1.6:8080\"]",
        "\"10.0.1.6:8080\"]\nproxy-port = 15080",
    );
    let config = parse(Path::new("node.toml"), &text).expect("valid");
    assert_eq!(config.services[0].proxy_port, Some(15080));
    let config = parse(Path::new("node.toml"), VALID).expect("valid");
    assert_eq!(config.services[0].proxy_port, None);
}

#[test]
fn rejects_bad_values_with_a_reason() {
    let cases = [
        (
            "id = 1\n",
            "id = 0\n",
            "reserved for addresses no identity covers",
        ),
        (
            "ports = [8080, 8443]",
            "ports = [8080, 70000]",
            "port 70000 is out of range",
        ),
        (
            "protocol = \"udp\"",
            "protocol = \"icmp\"",
            "unknown protocol \"icmp\"",
        ),
        (
            "vip = \"10.96.0.10\"",
            "vip = \"fd00::10\"",
            "IPv6 service VIPs are not supported yet",
        ),
        (
            "\"10.0.1.6:8080\"]",
            "\"10.0.1.5:8080\"]",
            "backend 10.0.1.5:8080 is listed twice",
        ),
        (
            "\"10.0.1.6:8080\"]",
            "\"10.0.1.6:8080\"]\nproxy-port = 70000",
            "port 70000 is out of range",
        ),
        (
            "program = \"xdp-policy\"",
            "program = \"xdp\"",
            "unknown program \"xdp\"",
        ),
        (
            "interface = \"eth0\"",
            "interface = \"a/b\"",
            "is not a Linux interface name",
        ),
        (
            "addresses = [\"10.0.1.5\"]",
            "addresses = [\"10.0.0.0/24\"]",
            "already belongs to identity \"frontend\"",
        ),
        (
            "name = \"backend\"",
            "name = \"frontend\"",
            "identity \"frontend\" is defined twice",
        ),
        (
            "tc-attach = \"netlink\"",
            "tc-attach = \"bpf\"",
            "unknown tc-attach \"bpf\"",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(VALID.contains(from), "fixture lacks {from:?}");
        let message = error_of(&VALID.replacen(from, to, 1));
        assert!(message.starts_with("node.toml:"), "{message}");
        assert!(message.contains(expected), "{to:?}: {message}");
    }
}

#[test]
fn toml_syntax_errors_and_unknown_fields_are_located() {
    let message = error_of("[agent]\nbpffs-dir = \n");
    assert!(message.starts_with("node.toml:2:"), "{message}");
    let message = error_of("[[identity]]\nname = \"a\"\nid = 1\ncolour = \"red\"\n");
    assert!(
        message.starts_with("node.toml:4:1: unknown field `colour`"),
        "{message}"
    );
}

const SOCKETS: &str = r#"
[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["10.77.0.3:8080", "10.77.0.4:8080"]

[node-proxy]
address = "10.77.0.1"
port = 15001
cgroup = "/sys/fs/cgroup/mesh/proxy"
sockmap = true

[[workload]]
name = "client"
cgroup = "/sys/fs/cgroup/mesh/client"
addresses = ["10.77.0.2"]
sockmap = true
redirect = true

[[workload]]
name = "web"
cgroup = "/sys/fs/cgroup/mesh/web/"
addresses = ["10.77.0.3"]
http = ["web"]
"#;

#[test]
fn workloads_and_node_proxy_resolve() {
    let config = parse(Path::new("node.toml"), SOCKETS).unwrap();
    let proxy = config.node_proxy.as_ref().unwrap();
    assert_eq!(
        (proxy.address, proxy.port, proxy.sockmap),
        ("10.77.0.1".parse().unwrap(), 15001, true)
    );
    assert_eq!(config.workloads.len(), 2);
    let client = &config.workloads[0];
    assert!(client.sockmap && client.redirect && client.http.is_empty());
    let web = &config.workloads[1];
    assert_eq!(
        web.cgroup,
        Path::new("/sys/fs/cgroup/mesh/web"),
        "normalised"
    );
    assert!(!web.sockmap && !web.redirect);
    // Only the backend at the workload's own address is its endpoint.
    assert_eq!(
        web.http,
        vec![("web".to_string(), "10.77.0.3:8080".parse().unwrap())]
    );
}

#[test]
fn socket_level_errors_are_located_and_say_what_to_do() {
    for (from, to, expected) in [
        (
            "[node-proxy]\naddress = \"10.77.0.1\"\nport = 15001\ncgroup = \"/sys/fs/cgroup/mesh/proxy\"\nsockmap = true\n",
            "",
            "node.toml:15:12: redirect needs a node proxy: add a [node-proxy] table with its address and port",
        ),
        (
            "http = [\"web\"]",
            "http = [\"api\"]",
            "node.toml:26:9: unknown service \"api\": define it in a [[service]] table",
        ),
        (
            "addresses = [\"10.77.0.3\"]",
            "addresses = [\"10.77.0.9\"]",
            "node.toml:26:9: service \"web\" has no backend at an address of workload \"web\"; list one of its addresses among the service's backends",
        ),
        (
            "addresses = [\"10.77.0.3\"]",
            "addresses = [\"10.77.0.2\"]",
            "node.toml:25:14: 10.77.0.2 already belongs to workload \"client\"",
        ),
        (
            "cgroup = \"/sys/fs/cgroup/mesh/proxy\"",
            "cgroup = \"/sys/fs/cgroup/mesh/client/proxy\"",
            "node.toml:12:10: the node proxy's cgroup is inside workload \"client\"'s, whose connections are redirected: the proxy would connect to itself; give it a cgroup of its own",
        ),
        (
            "cgroup = \"/sys/fs/cgroup/mesh/client\"",
            "cgroup = \"mesh/client\"",
            "node.toml:17:10: cgroup \"mesh/client\" must be an absolute path to a cgroup v2 directory",
        ),
        (
            "cgroup = \"/sys/fs/cgroup/mesh/proxy\"\n",
            "",
            "node.toml:12:11: sockmap on the node proxy needs its cgroup: add cgroup = \"/sys/fs/cgroup/...\"",
        ),
    ] {
        assert!(SOCKETS.contains(from), "{from}");
        assert_eq!(
            error_of(&SOCKETS.replacen(from, to, 1)),
            expected,
            "{from} -> {to}"
        );
    }
}

#[test]
fn every_problem_of_a_file_is_reported_in_one_pass() {
    let broken = VALID
        .replace("id = 2", "id = 0")
        .replace("ports = [8080, 8443]", "ports = [8080, 0]")
        .replace("vip = \"10.96.0.10\"", "vip = \"10.96.0\"")
        .replace(
            "interface = \"eth0\"",
            "interface = \"an-interface-name-too-long\"",
        );
    assert_eq!(
        problems_of(&broken),
        [
            "node.toml:13:6: identity id 0 is reserved for addresses no identity covers; use 1 or more",
            "node.toml:20:16: port 0 is out of range 1..=65535",
            "node.toml:29:7: \"10.96.0\" is not an IPv4 address",
            "node.toml:35:13: \"an-interface-name-too-long\" is not a Linux interface name (1-15 bytes, no '/', ':', spaces or NUL)",
        ]
    );
}

#[test]
fn names_are_checked_against_the_limits_they_meet() {
    let longest = "w".repeat(MAX_WORKLOAD_NAME_BYTES);
    let config = parse(
        Path::new("node.toml"),
        &SOCKETS.replace("name = \"client\"", &format!("name = \"{longest}\"")),
    )
    .unwrap();
    assert_eq!(config.workloads[0].name, longest);
    // The longest name with the longest program and inode number is a whole file name.
    let pin = meshtwin_datapath_pins::CgroupPin {
        program: meshtwin_datapath_common::maps::PROGRAM_CONNECT4_PROXY.to_string(),
        cgroup_inode: u64::MAX,
        owner: longest.clone(),
    };
    assert_eq!(pin.file_name().len(), 255);
    let too_long = format!("{longest}w");
    assert!(
        error_of(&SOCKETS.replace("name = \"client\"", &format!("name = \"{too_long}\"")))
            .contains(&format!(
                "workload name is {} bytes; at most {MAX_WORKLOAD_NAME_BYTES}",
                too_long.len()
            ))
    );
    for (from, to, expected) in [
        (
            "name = \"client\"",
            "name = \"\"",
            "workload name \"\" must be non-empty",
        ),
        (
            "name = \"client\"",
            "name = \"a\\u0000b\"",
            "without '/', '@' or NUL",
        ),
        (
            "name = \"web\"\nvip",
            "name = \"\"\nvip",
            "service name is empty",
        ),
    ] {
        assert!(SOCKETS.contains(from), "{from}");
        let message = error_of(&SOCKETS.replacen(from, to, 1));
        assert!(message.contains(expected), "{to}: {message}");
    }
    assert!(
        error_of(&VALID.replace("interface = \"eth0\"", "interface = \"\""))
            .contains("is not a Linux interface name")
    );
    assert!(parse(
        Path::new("node.toml"),
        &VALID.replace("\"eth0\"", "\"fifteen-bytes-x\"")
    )
    .is_ok());
    assert!(error_of(&VALID.replace("\"eth0\"", "\"sixteen-bytes-xx\"")).contains("1-15 bytes"));
}

#[test]
fn a_file_that_is_not_utf8_is_located_once() {
    let dir = std::env::temp_dir().join(format!("meshtwin-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.toml");
    std::fs::write(&path, b"[agent]\nxdp-mode = \"skb\xff\"\n").unwrap();
    let problems = load(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(problems.len(), 1);
    let problem = problems.iter().next().unwrap();
    assert_eq!(
        problem.location().map(|l| (l.line, l.column)),
        Some((2, 16))
    );
    // Said once: the message is not repeated as the error's own cause.
    let shown = problems.to_string();
    assert_eq!(shown.matches("is not UTF-8").count(), 1, "{shown}");
}
