//! Parsing AD FS federation metadata (criterion): the two real documents in tests/fixtures (74 KB and
//! 71 KB) and one grown to 100 KB by repeating its real claim types, as a farm with many claim rules
//! publishes. `cargo bench --bench metadata`.

use criterion::{Criterion, criterion_group, criterion_main};
use entra_failover::adfs::metadata;

const DEVRCSJ: &str =
    include_str!("../fixtures/adfs-federation-metadata/d-sts.devrcsj.com.FederationMetadata.xml");
const UCAR: &str =
    include_str!("../fixtures/adfs-federation-metadata/sts.ucar.edu.FederationMetadata.xml");

/// The real document with copies of its first claim type added until it is 100 KB.
fn grown_to_100_kb() -> String {
    let open = DEVRCSJ.find("<auth:ClaimType ").expect("a claim type");
    let close = DEVRCSJ[open..].find("</auth:ClaimType>").expect("its end") + open + 17;
    let claim = &DEVRCSJ[open..close];
    let mut doc = DEVRCSJ.to_string();
    while doc.len() < 100 * 1024 {
        doc.insert_str(close, claim);
    }
    doc
}

fn bench(c: &mut Criterion) {
    let big = grown_to_100_kb();
    // The same certificates come out of the grown document as of the real one.
    let real = metadata::parse(DEVRCSJ).expect("parses");
    let grown = metadata::parse(&big).expect("parses");
    assert_eq!(real.signing_certificates, grown.signing_certificates);
    println!(
        "{{\"case\":\"metadata_document\",\"bytes\":{},\"signing_certificates\":{}}}",
        big.len(),
        grown.signing_certificates.len()
    );
    c.bench_function("parse_metadata_100kb", |b| {
        b.iter(|| metadata::parse(std::hint::black_box(&big)))
    });
    c.bench_function("parse_metadata_real_74kb", |b| {
        b.iter(|| metadata::parse(std::hint::black_box(DEVRCSJ)))
    });
    c.bench_function("parse_metadata_real_71kb", |b| {
        b.iter(|| metadata::parse(std::hint::black_box(UCAR)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
