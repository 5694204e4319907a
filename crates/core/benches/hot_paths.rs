//! Hot paths of every request: rule matching against 1,000 rules, path normalisation,
//! token parsing (shape, checksum, digest), permission checks.
//!
//! `cargo bench -p tessera-core`

// Not a public API, and a panic here is a failing run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::permission::Permission;
use tessera_core::token::{Token, TokenKind};
use tessera_core::{PermissionSet, RuleSpec, Rules};

fn thousand_rules() -> Rules {
    let mut specs: Vec<RuleSpec> = (0..999)
        .map(|i| RuleSpec {
            matches: format!("GET /service{i}/resources/*/items/**"),
            permissions: vec![format!("service{i}:read")],
            ..RuleSpec::default()
        })
        .collect();
    specs.push(RuleSpec {
        matches: "* /**".into(),
        ..RuleSpec::default()
    });
    Rules::compile(&specs).expect("valid rules")
}

fn rules(c: &mut Criterion) {
    let rules = thousand_rules();
    c.bench_function("rules/first of 1000", |b| {
        b.iter(|| {
            rules.find(
                black_box("GET"),
                black_box("/service0/resources/42/items/7"),
            )
        })
    });
    c.bench_function("rules/500th of 1000", |b| {
        b.iter(|| {
            rules.find(
                black_box("GET"),
                black_box("/service500/resources/42/items/7/8"),
            )
        })
    });
    c.bench_function("rules/fall through 1000", |b| {
        b.iter(|| rules.find(black_box("POST"), black_box("/nothing/matches/here")))
    });
}

fn paths(c: &mut Criterion) {
    c.bench_function("path/normalize plain", |b| {
        b.iter(|| tessera_core::path::normalize(black_box("/api/orders/42/items")))
    });
    c.bench_function("path/normalize tricky", |b| {
        b.iter(|| tessera_core::path::normalize(black_box("/api//%6frders/./x/../42;x/items/")))
    });
}

fn tokens(c: &mut Criterion) {
    let token = Token::generate(TokenKind::PersonalAccess);
    c.bench_function("token/parse + checksum + sha256", |b| {
        b.iter(|| tessera_core::token::parse(black_box(token.expose())))
    });
    let perms: PermissionSet = ["orders:read", "orders:write", "users:*", "billing:read"]
        .iter()
        .map(|p| Permission::parse(p).unwrap())
        .collect();
    c.bench_function("permission/allows", |b| {
        b.iter(|| perms.allows(black_box("users:delete")))
    });
}

/// One Argon2id verification with the default (OWASP) parameters: the whole cost of a
/// password login, which `bench/run.sh` compares the login rate against.
fn argon2(c: &mut Criterion) {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    let argon = argon2::Argon2::default();
    let hash = argon
        .hash_password(b"bench password correct horse")
        .unwrap()
        .to_string();
    let parsed = argon2::PasswordHash::new(&hash).unwrap();
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("verify m=19456 t=2 p=1", |b| {
        b.iter(|| {
            argon
                .verify_password(black_box(b"bench password correct horse"), &parsed)
                .is_ok()
        })
    });
    // The raw rate the login scenario is compared with: the same parameters, one hash per
    // core at a time (so that the cores' contention for memory counts, as in the server),
    // each on memory allocated once, as the server's hashing threads do.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let params = argon2::Params::default();
    let mut memories: Vec<Vec<argon2::Block>> = (0..cores)
        .map(|_| vec![argon2::Block::new(); params.block_count()])
        .collect();
    group.bench_function("raw parallel m=19456 t=2 p=1", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for memory in memories.iter_mut() {
                    let argon = &argon;
                    s.spawn(move || {
                        let mut out = [0u8; 32];
                        argon
                            .hash_password_into_with_memory(
                                black_box(b"bench password correct horse"),
                                b"sixteen byte salt",
                                &mut out,
                                &mut memory[..],
                            )
                            .unwrap();
                    });
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, rules, paths, tokens, argon2);
criterion_main!(benches);
