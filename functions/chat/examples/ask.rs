//! Asks the embedded knowledge base a question: `cargo run -p chat --example ask -- "question"`.

fn main() {
    let kb = chat::knowledge_base().expect("articles index");
    let question = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    for hit in kb.hits(&question, 3) {
        println!("{:>8.3}  {:.2}  {}", hit.score, kb.coverage(&question, &hit.source.id), hit.source.id);
    }
    let answer = kb.compose(&question);
    println!("\nsuggest_escalation: {}\n{}", answer.suggest_escalation, answer.content);
}
