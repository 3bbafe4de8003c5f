//! In-process costs of the auth hot paths: access-token verify and issue, session-token
//! generation and hashing, and one argon2id verification (the bulk of a login).
//! `cargo bench -p shared --bench auth`; figures go to BENCHMARKS.md.

use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use shared::auth::password::PasswordHasher;
use shared::auth::{PublicKeys, SessionToken, SigningKey, TokenIssuer, TokenVerifier};
use shared::domain::{Password, SessionId, UserId};

fn tokens(c: &mut Criterion) {
    let (key, _) = SigningKey::generate("bench").unwrap();
    let keys = PublicKeys::new([key.public_key().clone()]).unwrap();
    let issuer = TokenIssuer::new(key, "iss", "aud", Duration::minutes(15));
    let verifier = TokenVerifier::new(keys, "iss", "aud");
    let (user, sid) = (UserId::generate(), SessionId::from_trusted("f".repeat(64)));
    let now = Utc::now();
    let token = issuer.issue(&user, &sid, now).unwrap().token;
    c.bench_function("access_token_verify", |b| b.iter(|| verifier.verify(black_box(&token), now).unwrap()));
    c.bench_function("access_token_issue", |b| b.iter(|| issuer.issue(black_box(&user), &sid, now).unwrap()));
    c.bench_function("session_token_generate_and_hash", |b| b.iter(|| SessionToken::generate().id()));
}

fn passwords(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let hasher = PasswordHasher::new();
    let password = Password::parse("correct horse battery staple".into()).unwrap();
    let phc = runtime.block_on(hasher.hash(hasher.reserve().unwrap(), &password)).unwrap();
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.to_async(&runtime)
            .iter(|| async { hasher.verify(hasher.reserve().unwrap(), &password, Some(&phc)).await.unwrap() })
    });
    group.finish();
}

criterion_group!(benches, tokens, passwords);
criterion_main!(benches);
