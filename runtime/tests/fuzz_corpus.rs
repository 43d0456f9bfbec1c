//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and any crash inputs kept under
//! `fuzz/artifacts/<target>/` through the very harnesses the fuzz targets run, so plain
//! `cargo test` checks every input the fuzzers ever found interesting, without a fuzzer.

#[path = "../../fuzz/harness/dhcp.rs"]
mod dhcp;
#[path = "../../fuzz/harness/http.rs"]
mod http;
#[path = "../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../fuzz/harness/tftp.rs"]
mod tftp;

use replay::replay;

#[test]
fn dhcp_answer_corpus() {
    let h = dhcp::Harness::new();
    replay("dhcp_answer", |b| h.run(b));
}

#[test]
fn tftp_transfer_corpus() {
    let h = tftp::Harness::new();
    replay("tftp_transfer", |b| h.run(b));
}

#[test]
fn http_head_corpus() {
    let h = http::Harness::new();
    replay("http_head", |b| h.head(b));
}

#[test]
fn http_route_corpus() {
    let h = http::Harness::new();
    replay("http_route", |b| h.route(b));
}
