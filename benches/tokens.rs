//! Tokenising costs against their floor, the SHA-256 compression function.
//!
//! `cargo bench --bench tokens`. The `sha256_block` figure is one 64-byte
//! compression on this machine (the same SHA-NI code path the tokens use);
//! a token should cost about two of them.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use linkwell::encode::Encoder;
use linkwell::mac::HmacSha256;
use linkwell::nhs::{Issuer, NhsNumber};
use linkwell::normalise::date::Date;
use linkwell::schema::SchemaSpec;
use linkwell::secret::Secret;
use linkwell::token::TokenKey;
use rand::SeedableRng;
use sha2::digest::generic_array::GenericArray;

fn secret() -> Secret {
    Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap()
}

fn tokens(c: &mut Criterion) {
    let mut g = c.benchmark_group("token");
    g.throughput(Throughput::Elements(1));
    let block = [0x5au8; 64];
    g.bench_function("sha256_block", |b| {
        let mut state = [0u32; 8];
        b.iter(|| {
            sha2::compress256(
                black_box(&mut state),
                std::slice::from_ref(GenericArray::from_slice(&block)),
            )
        })
    });
    // The floor a token can reach: two compressions where the second block
    // holds the first's output (as HMAC's outer block holds the inner
    // digest), so the second cannot start before the first ends. The
    // independent-block figure above overlaps the message schedule of the
    // next block with the current one's rounds and so understates it.
    g.bench_function("sha256_two_dependent_blocks", |b| {
        let mut first = [0u8; 64];
        first[..10].copy_from_slice(b"9434765919");
        first[10] = 0x80;
        first[62] = 0x02;
        first[63] = 0x50;
        b.iter(|| {
            let mut s1 = black_box([0x6a09e667u32; 8]);
            sha2::compress256(
                &mut s1,
                std::slice::from_ref(GenericArray::from_slice(&first)),
            );
            let mut second = [0u8; 64];
            for (o, w) in second.chunks_exact_mut(4).zip(s1) {
                o.copy_from_slice(&w.to_be_bytes());
            }
            second[32] = 0x80;
            second[62] = 0x03;
            let mut s2 = black_box([0x6a09e667u32; 8]);
            sha2::compress256(
                &mut s2,
                std::slice::from_ref(GenericArray::from_slice(&second)),
            );
            s2
        })
    });
    let key = TokenKey::new(&secret(), "nhs_number").unwrap();
    g.bench_function("linkwell_token_nhs_number", |b| {
        b.iter(|| key.token(black_box(b"9434765919")))
    });
    let mac = HmacSha256::new(b"0123456789abcdef0123456789abcdef");
    g.bench_function("linkwell_mac_10_bytes", |b| {
        b.iter(|| mac.mac(black_box(b"9434765919")))
    });
    // Latency rather than throughput: each message is the previous MAC's
    // first ten bytes, so no MAC can start before the one before it ends
    // (in the loops above, the CPU overlaps one iteration with the next).
    g.bench_function("linkwell_mac_10_bytes_chained", |b| {
        let mut m = *b"9434765919";
        b.iter(|| {
            let t = mac.mac(&m);
            m.copy_from_slice(&t[..10]);
        })
    });
    // Two MACs interleaved (per pair; divide by two for a MAC's share).
    let other = HmacSha256::new(b"fedcba9876543210fedcba9876543210");
    g.bench_function("linkwell_mac_pair_10_bytes", |b| {
        b.iter(|| {
            HmacSha256::mac_pair(
                (&mac, black_box(b"9434765919")),
                (&other, black_box(b"4010232137")),
            )
        })
    });
    let reference =
        Hmac::<sha2::Sha256>::new_from_slice(b"0123456789abcdef0123456789abcdef").unwrap();
    g.bench_function("hmac_crate_clone_update_finalize", |b| {
        b.iter(|| {
            let mut m = reference.clone();
            m.update(black_box(b"9434765919"));
            m.finalize().into_bytes()
        })
    });
    g.bench_function("hmac_crate_rekey_per_value", |b| {
        b.iter(|| {
            let mut m =
                Hmac::<sha2::Sha256>::new_from_slice(b"0123456789abcdef0123456789abcdef").unwrap();
            m.update(black_box(b"9434765919"));
            m.finalize().into_bytes()
        })
    });
    // Decoding a token's 64 hex digits, as the loader does for every
    // token of an encoded file, and the same by the general decoder.
    let hex = key.token(b"9434765919").to_hex();
    let digits = &hex;
    g.bench_function("hex_decode_token", |b| {
        b.iter(|| linkwell::hex::decode_token(black_box(digits)))
    });
    g.bench_function("hex_decode_into_64_digits", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            linkwell::hex::decode_into(black_box(digits), &mut out).map(|()| out)
        })
    });
    g.bench_function("linkwell_token_to_hex", |b| {
        b.iter(|| key.token(black_box(b"9434765919")).to_hex())
    });
    g.finish();

    let mut g = c.benchmark_group("token_batch");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let values: Vec<String> = (0..100_000)
        .map(|_| {
            NhsNumber::random(&mut rng, Issuer::NotIssuedTest)
                .as_str()
                .to_string()
        })
        .collect();
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_with_input(
        BenchmarkId::new("parallel", values.len()),
        &values,
        |b, v| b.iter(|| key.tokens(v)),
    );
    g.finish();
}

fn records(c: &mut Criterion) {
    let header = [
        "id",
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "postcode",
    ];
    let schema = SchemaSpec::default_for(&header).resolve(&header).unwrap();
    let today = Date::new(2026, 1, 1).unwrap();
    let uncached = Encoder::new(&secret(), schema.clone())
        .unwrap()
        .with_today(today)
        .without_cache();
    let cached = Encoder::new(&secret(), schema).unwrap().with_today(today);
    let rec = [
        "P1",
        "943 476 5919",
        "Elizabeth",
        "O'Brien-Smith",
        "05/03/1980",
        "2",
        "SW1A 1AA",
    ];
    let mut g = c.benchmark_group("encode_record_default_nhs_schema");
    g.throughput(Throughput::Elements(1));
    g.bench_function("uncached", |b| {
        b.iter(|| uncached.encode_record(black_box(&rec)))
    });
    g.bench_function("cached_repeat_values", |b| {
        b.iter(|| cached.encode_record(black_box(&rec)))
    });
    g.finish();
}

/// Writing a 2048-bit filter (a CLK's length) in base64, as `tokenise`
/// does for every Bloom column.
fn filters(c: &mut Criterion) {
    let words: Vec<u64> = (0..32u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let mut scratch = Vec::new();
    let mut out = Vec::with_capacity(400);
    let mut g = c.benchmark_group("bloom");
    g.throughput(Throughput::Bytes(256));
    g.bench_function("base64_2048_bits", |b| {
        b.iter(|| {
            out.clear();
            linkwell::bloom::append_base64(black_box(&words), &mut scratch, &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, tokens, records, filters);
criterion_main!(benches);
