//! What a TRE reads from a data owner: an encoded file and its manifest.
//! The first byte picks which is fuzzed. Even: the bytes are the CSV body
//! of a file whose (valid) manifest vouches for exactly these bytes, so the
//! loader parses all of them; the manifest is the default schema's, or
//! (first byte 2 mod 4) one with token, Bloom and record-level (`clk`)
//! columns of small filters. Odd: the bytes are the manifest. Neither may
//! panic, and a body the loader accepts holds as many records as its
//! manifest says.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::link::data::{load, read_manifest, Dictionaries};
use linkwell::manifest::Manifest;
use sha2::{Digest, Sha256};

const MANIFEST: &str = include_str!("../fixtures/encoded.manifest.json");
const MANIFEST_CLK: &str = include_str!("../fixtures/encoded-clk.manifest.json");

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("linkwell-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("p.enc.csv")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let path = scratch();
    let manifest_path = format!("{}.manifest.json", path.display());
    if mode % 2 == 1 {
        std::fs::write(&manifest_path, body).unwrap();
        std::fs::write(&path, b"").unwrap();
        let _ = read_manifest(&path);
        return;
    }
    let fixture = if mode % 4 == 2 {
        MANIFEST_CLK
    } else {
        MANIFEST
    };
    let mut manifest: Manifest = serde_json::from_str(fixture).unwrap();
    manifest.data_sha256 = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    manifest.data_bytes = body.len() as u64;
    manifest.counts.written = body
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1) as u64;
    std::fs::write(&path, body).unwrap();
    let columns: Vec<String> = manifest
        .columns
        .iter()
        .filter(|c| c.role == "encoding")
        .map(|c| c.name.clone())
        .collect();
    let written = manifest.counts.written;
    let mut dicts = Dictionaries::default();
    if let Ok(d) = load(&path, manifest, &columns, true, &mut dicts, &|_| {}) {
        assert_eq!(d.len() as u64, written);
    }
});
