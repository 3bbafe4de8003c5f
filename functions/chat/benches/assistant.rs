//! The knowledge-base assistant: index build (done once per cold start) and one answer.
//! `cargo bench -p chat --bench assistant`; figures go to BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn assistant(c: &mut Criterion) {
    c.bench_function("knowledge_base_index_build", |b| b.iter(|| chat::knowledge_base().unwrap()));
    let kb = chat::knowledge_base().unwrap();
    c.bench_function("knowledge_base_answer_short", |b| {
        b.iter(|| kb.compose(black_box("How do I reset my password?")))
    });
    c.bench_function("knowledge_base_answer_long", |b| {
        b.iter(|| {
            kb.compose(black_box(
                "at the office the bot's responses only pop up after I manually hit refresh, but at home \\
                 everything shows instantly. what's going on there?",
            ))
        })
    });
}

criterion_group!(benches, assistant);
criterion_main!(benches);
