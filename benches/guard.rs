//! Per-query cost of the hostile-network guards: the response rate limiter and the access list,
//! both on the UDP hot path.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ipnet::IpNet;
use portsd::pipeline::acl::AccessList;
use portsd::pipeline::rrl::{RateLimitConfig, RateLimiter};

fn rate_limiter(c: &mut Criterion) {
    let limiter = RateLimiter::new(RateLimitConfig::default());
    let start = Instant::now();
    let client: IpAddr = "192.0.2.1".parse().expect("address");
    let mut tick = 0u32;
    c.bench_function("rrl_check_one_client", |b| {
        b.iter(|| {
            tick = tick.wrapping_add(1);
            limiter.check(
                black_box(client),
                start + Duration::from_micros(u64::from(tick)),
            )
        })
    });
    let mut prefix = 0u32;
    c.bench_function("rrl_check_rotating_prefixes", |b| {
        b.iter(|| {
            prefix = prefix.wrapping_add(1 << 8);
            limiter.check(black_box(IpAddr::from(prefix.to_be_bytes())), start)
        })
    });
}

fn access_list(c: &mut Criterion) {
    let nets = |list: &[&str]| -> Vec<IpNet> {
        list.iter()
            .map(|net| net.parse().expect("network"))
            .collect()
    };
    let list = AccessList::new(
        nets(&[
            "10.0.0.0/8",
            "192.168.0.0/16",
            "2001:db8::/32",
            "172.16.0.0/12",
        ]),
        nets(&["10.66.0.0/16", "192.168.13.0/24", "2001:db8:bad::/48"]),
    );
    let client: IpAddr = "::ffff:192.168.1.1".parse().expect("address");
    c.bench_function("acl_permits_seven_rules", |b| {
        b.iter(|| list.permits(black_box(client)))
    });
}

criterion_group!(benches, rate_limiter, access_list);
criterion_main!(benches);
