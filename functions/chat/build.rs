//! Embeds the knowledge base (every `*.md` in `KNOWLEDGE_BASE_DIR`, default the repository's
//! `knowledge-base/`) into the binary, so the Lambda needs no file system.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=KNOWLEDGE_BASE_DIR");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = env::var_os("KNOWLEDGE_BASE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../knowledge-base"));
    let dir = dir.canonicalize().unwrap_or_else(|e| panic!("knowledge base folder {}: {e}", dir.display()));
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut articles: Vec<(String, PathBuf)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| (path.file_stem().expect("file name").to_string_lossy().into_owned(), path))
        .collect();
    articles.sort();
    assert!(!articles.is_empty(), "no *.md articles in {}", dir.display());
    let mut code = String::from(
        "/// `(id, markdown)` of every embedded article, by id.\npub static ARTICLES: &[(&str, &str)] = &[\n",
    );
    for (id, path) in &articles {
        println!("cargo:rerun-if-changed={}", path.display());
        code.push_str(&format!("    ({id:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("articles.rs");
    fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
