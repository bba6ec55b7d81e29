//! Compiles every `.proto` under the repository's `proto/` with protox (pure Rust, so no
//! system `protoc`), generates messages, clients and servers with tonic-prost-build, and
//! writes the encoded descriptor set (with the imported well-known types) for reflection.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// Stem of the descriptor set file in `OUT_DIR`; `lib.rs` includes it.
const DESCRIPTOR_SET: &str = "wuzhang_descriptor";

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files = Vec::new();
    collect_protos(&proto_root, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(format!("no .proto files under {}", proto_root.display()).into());
    }

    let mut compiler = protox::Compiler::new([&proto_root])?;
    // Imports in the set let reflection clients resolve google.protobuf types; source info
    // carries the proto comments into the generated docs and into `grpcurl describe`.
    compiler
        .include_imports(true)
        .include_source_info(true)
        .open_files(&files)?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join(format!("{DESCRIPTOR_SET}.bin")),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// Every `.proto` file under `dir`, recursively.
fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
