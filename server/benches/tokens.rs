//! Micro-benchmarks of the per-request crypto: signing and verifying an EdDSA access
//! token, the refresh-token primitives, and one Argon2id password check.
//!
//! `cargo bench -p server --bench tokens -- --warm-up-time 1 --measurement-time 3`

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use server::{clock::Clock, clock::ManualClock, keys::Keys, password, refresh_token, store::Store};
use wire::AccessClaims;

const ISSUER: &str = "jwt-refresh";
const AUDIENCE: &str = "jwt-refresh-app";

fn claims() -> AccessClaims {
    AccessClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: "Xq3v9m2LrT8kWc1ZpN0aBd".into(),
        preferred_username: "alice".into(),
        sid: "Hf7Ue2Qy5Ko1Rs9Tx3Vb8w".into(),
        jti: "0123456789abcdef0123456789abcdef".into(),
        roles: vec!["admin".into()],
        perms: vec![
            "profile:read".into(),
            "sessions:manage".into(),
            "audit:read".into(),
        ],
        client_id: None,
        scope: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn access_tokens(c: &mut Criterion) {
    let rt = runtime();
    let clock = ManualClock::new();
    let keys = rt.block_on(async {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let kek = server::secrets::Kek::from_material(&[1u8; 32]).expect("kek");
        Keys::load(&store, &kek, clock.now()).await.expect("keys")
    });
    let claims = claims();
    let now = clock.now();

    let mut group = c.benchmark_group("access_token");
    group.bench_function("sign", |b| {
        b.iter(|| keys.sign(black_box(&claims), now, now + 900).expect("sign"))
    });
    let token = keys.sign(&claims, now, now + 900).expect("sign");
    group.bench_function("verify", |b| {
        b.iter(|| {
            keys.verify(black_box(&token), &clock, Duration::ZERO, ISSUER, AUDIENCE)
                .expect("verify")
        })
    });
    group.finish();
}

fn refresh_tokens(c: &mut Criterion) {
    let token = refresh_token::generate();
    let key = refresh_token::generate().into_bytes();

    let mut group = c.benchmark_group("refresh_token");
    group.bench_function("generate", |b| b.iter(refresh_token::generate));
    group.bench_function("hash", |b| {
        b.iter(|| refresh_token::hash(black_box(&token)))
    });
    group.bench_function("successor", |b| {
        b.iter(|| refresh_token::successor(black_box(&key), black_box(&token)))
    });
    group.finish();
}

fn argon2(c: &mut Criterion) {
    let rt = runtime();
    let pass = "correct horse battery staple".to_owned();
    let hasher = password::Hasher::new(1, 1);
    let hash = rt
        .block_on(hasher.hash(pass.clone()))
        .expect("hash a password");

    let mut group = c.benchmark_group("password");
    // Tens of milliseconds each: the minimum sample count keeps the run short.
    group.sample_size(10);
    group.bench_function("argon2id_verify", |b| {
        b.iter(|| {
            let ok = rt
                .block_on(hasher.verify(pass.clone(), hash.clone()))
                .expect("verify");
            assert!(ok);
        })
    });
    group.finish();
}

criterion_group!(benches, access_tokens, refresh_tokens, argon2);
criterion_main!(benches);
