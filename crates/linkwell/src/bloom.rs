//! Keyed Bloom-filter encodings of q-grams, for approximate comparison.
//!
//! A value's q-grams (default: bigrams of the value padded with `_` at each
//! end, so `SMITH` gives `_S SM MI IT TH H_`) each set `k` bits of an
//! `l`-bit filter. Two values are compared by the Dice coefficient of their
//! filters, which tracks the Dice coefficient of their q-gram sets.
//!
//! Bit positions come from a keyed HMAC of each q-gram ("random hashing",
//! Niedermeyer et al. 2014; Schnell 2015), not from double hashing, whose
//! structure was exploited by the attack of Niedermeyer, Steinmetzer, Kroll
//! & Schnell (2014). Exactly:
//!
//! ```text
//! K_B   = HMAC-SHA256(secret, "linkwell/v1/bloom/" || D)
//! h_j   = HMAC-SHA256(K_B, [j] || salt || 0x00 || q-gram)      j = 0, 1, ...
//! bit_i = (u16 little-endian at bytes 2(i mod 16).. of h_{i div 16}) mod l
//! ```
//! for `i` in `0..k`. `l` is a power of two, so the modulus is unbiased.
//!
//! Hardening (SECURITY.md discusses the costs):
//! - **salting**: the salt (another field's value, e.g. year of birth) enters
//!   every q-gram's HMAC, so the same name under different salts gives
//!   unrelated filters; this defeats frequency alignment across the whole
//!   file at the cost of never matching records whose salts disagree.
//! - **balancing** (Schnell & Borgs 2016, after Berger's 1961 codes): the
//!   filter is concatenated with its complement and the `2l` bits permuted
//!   under the key, so every encoding has exactly `l` bits set. Limitation:
//!   the permutation is fixed per domain, so anyone holding many encodings
//!   can pair each position with its complement (the two always differ)
//!   and strip the complement half again. Balancing therefore does not hide
//!   the number of set bits from a TRE holding a whole file; it protects
//!   single encodings, and costs twice the space. See SECURITY.md.

use serde::{Deserialize, Serialize};

use crate::mac::HmacSha256;
use crate::secret::Secret;

/// Prefix of every Bloom-filter subkey label.
pub const BLOOM_LABEL_PREFIX: &str = "linkwell/v1/bloom/";
/// Prefix of the subkey label of each field of a record-level filter
/// ([`crate::schema::Clk`]).
pub const CLK_LABEL_PREFIX: &str = "linkwell/v1/clk/";

/// Bloom-filter parameters. Two files can only be compared if their
/// parameters agree exactly; the manifest records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BloomParams {
    /// Filter length `l` in bits: a power of two from 64 to 65536.
    #[serde(default = "default_bits")]
    pub bits: u32,
    /// Bits set per q-gram, `k`: 1 to 64.
    #[serde(default = "default_hashes")]
    pub hashes: u32,
    /// q-gram length: 1 to 4.
    #[serde(default = "default_q")]
    pub q: u32,
    /// Pad with `q - 1` `_` characters at each end, so that first and last
    /// letters count as much as inner ones.
    #[serde(default = "default_true")]
    pub padding: bool,
    /// Balanced filter: the filter and its complement, permuted (2l bits).
    #[serde(default)]
    pub balanced: bool,
    /// Salt every q-gram with the normalised value of another field of the
    /// record, named `column` or `column.component` (e.g.
    /// `date_of_birth.year`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

fn default_bits() -> u32 {
    1024
}
fn default_hashes() -> u32 {
    20
}
fn default_q() -> u32 {
    2
}
fn default_true() -> bool {
    true
}

impl Default for BloomParams {
    /// `l = 1024`, `k = 20`, bigrams with padding, unbalanced, unsalted.
    ///
    /// Schnell, Bachteler & Reiher (2009) used `l = 1000`, `k = 30` for
    /// names; with about eight bigrams per name, `k = 20` sets ~15% of 1024
    /// bits, so distinct bigrams rarely collide and the filter's Dice stays
    /// within a few hundredths of the bigram Dice (tested), while fewer set
    /// bits per q-gram give frequency attacks less to work with than `k =
    /// 30`. A power of two lets the bit index be an unbiased modulus.
    fn default() -> Self {
        BloomParams {
            bits: default_bits(),
            hashes: default_hashes(),
            q: default_q(),
            padding: true,
            balanced: false,
            salt: None,
        }
    }
}

/// Bloom parameters that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Bloom filter parameters are not valid: {0}")]
pub struct BloomParamsError(pub String);

impl BloomParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`BloomParamsError`] naming the bad parameter.
    pub fn validate(&self) -> Result<(), BloomParamsError> {
        if !(64..=65536).contains(&self.bits) || !self.bits.is_power_of_two() {
            return Err(BloomParamsError(format!(
                "bits = {} must be a power of two from 64 to 65536",
                self.bits
            )));
        }
        if !(1..=64).contains(&self.hashes) {
            return Err(BloomParamsError(format!(
                "hashes = {} must be from 1 to 64",
                self.hashes
            )));
        }
        if !(1..=4).contains(&self.q) {
            return Err(BloomParamsError(format!(
                "q = {} must be from 1 to 4",
                self.q
            )));
        }
        Ok(())
    }

    /// Length of the encoded filter in bits (doubled when balanced).
    pub fn encoded_bits(&self) -> usize {
        self.bits as usize * if self.balanced { 2 } else { 1 }
    }

    /// Length of the encoded filter in 64-bit words.
    pub fn words(&self) -> usize {
        self.encoded_bits() / 64
    }
}

/// The keyed Bloom encoder for one domain.
#[derive(Clone)]
pub struct BloomKey {
    mac: HmacSha256,
    params: BloomParams,
    permutation: Option<Vec<u32>>,
    id: u64,
}

/// Bit positions of one q-gram (at most 64).
#[derive(Clone)]
struct Positions {
    n: u8,
    bits: [u16; 64],
}

thread_local! {
    static MEMO: std::cell::RefCell<crate::memo::Map<Positions>> = std::cell::RefCell::new(crate::memo::Map::default());
}

impl std::fmt::Debug for BloomKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BloomKey {{ params: {:?} }}", self.params)
    }
}

impl BloomKey {
    /// Derives the Bloom key for `domain`.
    ///
    /// # Errors
    /// [`BloomParamsError`] for a bad domain name or parameters.
    pub fn new(
        secret: &Secret,
        domain: &str,
        params: BloomParams,
    ) -> Result<BloomKey, BloomParamsError> {
        Self::with_label(secret, BLOOM_LABEL_PREFIX, domain, params)
    }

    /// Derives the key of one field of a record-level filter: as
    /// [`BloomKey::new`] but under `linkwell/v1/clk/{domain}`, so that a
    /// field's q-grams in a CLK are unrelated to its own filter's. Only
    /// [`BloomKey::set_bits`] applies (a CLK is never balanced).
    ///
    /// # Errors
    /// [`BloomParamsError`] for a bad domain name or parameters.
    pub fn for_clk(
        secret: &Secret,
        domain: &str,
        params: BloomParams,
    ) -> Result<BloomKey, BloomParamsError> {
        Self::with_label(secret, CLK_LABEL_PREFIX, domain, params)
    }

    fn with_label(
        secret: &Secret,
        prefix: &str,
        domain: &str,
        params: BloomParams,
    ) -> Result<BloomKey, BloomParamsError> {
        crate::token::check_name(domain).map_err(|e| BloomParamsError(e.to_string()))?;
        params.validate()?;
        let mac = secret.derive(format!("{prefix}{domain}").as_bytes());
        let permutation = params.balanced.then(|| {
            // Keyed Fisher–Yates over the 2l positions; the randomness is a
            // counter-mode HMAC stream under the Bloom key.
            let n = params.encoded_bits();
            let mut perm: Vec<u32> = (0..n as u32).collect();
            let mut stream = Vec::new();
            let mut block = 0u32;
            for i in (1..n).rev() {
                if stream.is_empty() {
                    let h = mac.mac_parts(&[b"balance-permutation", &block.to_le_bytes()]);
                    block += 1;
                    stream.extend(
                        h.chunks_exact(4)
                            .rev()
                            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))),
                    );
                }
                let r = stream.pop().expect("refilled");
                let j = ((u64::from(r) * (i as u64 + 1)) >> 32) as usize;
                perm.swap(i, j);
            }
            perm
        });
        Ok(BloomKey {
            mac,
            params,
            permutation,
            id: crate::memo::next_id(),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &BloomParams {
        &self.params
    }

    /// Encodes a normalised value, with an optional salt.
    pub fn encode(&self, normalised: &str, salt: Option<&str>) -> Vec<u64> {
        let p = &self.params;
        let mut words = vec![0u64; p.bits as usize / 64];
        self.set_bits(normalised, salt.unwrap_or(""), &mut words);
        match &self.permutation {
            None => words,
            Some(perm) => {
                let l = p.bits as usize;
                let get = |i: usize| -> bool {
                    if i < l {
                        words[i / 64] >> (i % 64) & 1 == 1
                    } else {
                        words[(i - l) / 64] >> ((i - l) % 64) & 1 == 0
                    }
                };
                let mut out = vec![0u64; 2 * l / 64];
                for (dst, &src) in perm.iter().enumerate() {
                    if get(src as usize) {
                        out[dst / 64] |= 1u64 << (dst % 64);
                    }
                }
                out
            }
        }
    }

    /// Sets the bits of `normalised`'s q-grams in `words`, an unbalanced
    /// filter of `l` bits (`l / 64` words), leaving the bits already set.
    /// This is how a record-level filter (a CLK, [`crate::schema::Clk`])
    /// gathers several fields' q-grams, each field under its own key.
    ///
    /// # Panics
    /// If `words` is not `l / 64` words long.
    pub fn set_bits(&self, normalised: &str, salt: &str, words: &mut [u64]) {
        let p = &self.params;
        assert_eq!(words.len(), p.bits as usize / 64, "filter length");
        if salt.is_empty() && self.set_bits_ascii(normalised.as_bytes(), words) {
            return;
        }
        self.set_bits_memo(normalised, salt, words);
    }

    /// [`BloomKey::set_bits`] for any value: q-grams of characters, each
    /// q-gram's positions memoised by value.
    fn set_bits_memo(&self, normalised: &str, salt: &str, words: &mut [u64]) {
        let p = &self.params;
        let mask = p.bits - 1;
        let salt = salt.as_bytes();
        let pad = if p.padding { p.q as usize - 1 } else { 0 };
        let mut chars: Vec<char> = Vec::with_capacity(normalised.len() + 2 * pad);
        chars.extend(std::iter::repeat_n('_', pad));
        chars.extend(normalised.chars());
        chars.extend(std::iter::repeat_n('_', pad));
        let q = p.q as usize;
        let mut gram = String::with_capacity(16);
        let windows = if chars.len() >= q {
            chars.len() + 1 - q
        } else if chars.is_empty() {
            0
        } else {
            1
        };
        for w in 0..windows {
            gram.clear();
            gram.extend(&chars[w..(w + q).min(chars.len())]);
            let compute = || {
                let mut pos = Positions {
                    n: p.hashes as u8,
                    bits: [0; 64],
                };
                self.positions(salt, gram.as_bytes(), &mut pos.bits[..p.hashes as usize]);
                pos
            };
            let pos = match crate::memo::key(self.id, &[salt, &[0], gram.as_bytes()]) {
                Some(k) => crate::memo::get_or(&MEMO, k, compute),
                None => compute(),
            };
            for &b in &pos.bits[..pos.n as usize] {
                let bit = u32::from(b) & mask;
                words[(bit / 64) as usize] |= 1u64 << (bit % 64);
            }
        }
    }

    /// The `k` raw bit positions of one salted q-gram: `out.len()` values,
    /// sixteen from each HMAC output (the derivation in the module docs).
    fn positions(&self, salt: &[u8], gram: &[u8], out: &mut [u16]) {
        for (j, chunk) in out.chunks_mut(16).enumerate() {
            let h = self.mac.mac_parts(&[&[j as u8], salt, &[0], gram]);
            for (o, c) in chunk.iter_mut().zip(h.chunks_exact(2)) {
                *o = u16::from_le_bytes([c[0], c[1]]);
            }
        }
    }

    /// [`BloomKey::set_bits`] for an unsalted value of printable ASCII with
    /// `q` at most 2 (names, dates, postcodes) and a filter of 1024, 2048
    /// or 4096 bits: each q-gram's own filter (its `k` bits)
    /// is kept in a per-thread table indexed by the q-gram's bytes, filled
    /// as q-grams are first seen, and ORed in a word at a time. Setting `k`
    /// bits one by one, each a read-modify-write of a word that the next
    /// may also touch, cost about 2.5 ns a bit (most of a CLK's encoding
    /// time); OR-ing the few words of a filter vectorises. `false`, with
    /// `words` untouched, for anything else.
    fn set_bits_ascii(&self, value: &[u8], words: &mut [u64]) -> bool {
        let p = &self.params;
        let (q, k) = (p.q as usize, p.hashes as usize);
        let pad = if p.padding { q - 1 } else { 0 };
        let n = value.len() + 2 * pad;
        let printable = |b: &u8| (ASCII_FIRST..=ASCII_LAST).contains(b);
        if q > 2
            || n < q
            || n > MAX_TABLE_VALUE
            || !matches!(words.len(), 16 | 32 | 64)
            || !value.iter().all(printable)
        {
            return false;
        }
        let mut seq = [b'_'; MAX_TABLE_VALUE];
        seq[pad..pad + value.len()].copy_from_slice(value);
        let seq = &seq[..n];
        let w = words.len();
        let mask = p.bits - 1;
        TABLES.with(|t| {
            let mut t = t.borrow_mut();
            let table = match t.iter().position(|x| x.key == self.id) {
                Some(i) => &mut t[i],
                None => {
                    if t.len() >= MAX_TABLES {
                        t.remove(0);
                    }
                    let entries = ASCII_SPAN.pow(q as u32);
                    t.push(AsciiTable {
                        key: self.id,
                        filled: vec![0; entries.div_ceil(64)],
                        filters: vec![0; entries * w],
                    });
                    t.last_mut().expect("pushed")
                }
            };
            // First every q-gram's index, filling entries not yet seen;
            // then the filters OR-ed four at a time, so that their loads
            // overlap and the record's words are stored once per four.
            let mut raw = [0u16; 64];
            let mut at = [0u32; MAX_TABLE_VALUE];
            let grams = seq.windows(q).len();
            for (gram, slot) in seq.windows(q).zip(&mut at) {
                let i = gram
                    .iter()
                    .fold(0, |i, &b| i * ASCII_SPAN + usize::from(b - ASCII_FIRST));
                if table.filled[i / 64] >> (i % 64) & 1 == 0 {
                    let filter = &mut table.filters[i * w..(i + 1) * w];
                    self.positions(&[], gram, &mut raw[..k]);
                    for &b in &raw[..k] {
                        let bit = u32::from(b) & mask;
                        filter[(bit / 64) as usize] |= 1u64 << (bit % 64);
                    }
                    table.filled[i / 64] |= 1 << (i % 64);
                }
                *slot = (i * w) as u32;
            }
            let at = &at[..grams];
            match w {
                16 => or_filters::<16>(words, &table.filters, at),
                32 => or_filters::<32>(words, &table.filters, at),
                _ => or_filters::<64>(words, &table.filters, at),
            }
        });
        true
    }
}

/// ORs the `N`-word filters starting at each offset of `at` in `filters`
/// into `words` (which has `N` words), four filters at a time.
fn or_filters<const N: usize>(words: &mut [u64], filters: &[u64], at: &[u32]) {
    let Ok(words) = <&mut [u64; N]>::try_from(words) else {
        unreachable!("the filter has N words")
    };
    let get = |o: u32| -> &[u64; N] {
        let o = o as usize;
        filters[o..o + N].try_into().expect("N words")
    };
    let mut fours = at.chunks_exact(4);
    for c in &mut fours {
        let (a, b, x, y) = (get(c[0]), get(c[1]), get(c[2]), get(c[3]));
        for i in 0..N {
            words[i] |= a[i] | b[i] | x[i] | y[i];
        }
    }
    for &o in fours.remainder() {
        let a = get(o);
        for i in 0..N {
            words[i] |= a[i];
        }
    }
}

/// The printable ASCII range that [`BloomKey::set_bits`]'s tables cover.
const ASCII_FIRST: u8 = 0x20;
const ASCII_LAST: u8 = 0x7e;
const ASCII_SPAN: usize = (ASCII_LAST - ASCII_FIRST + 1) as usize;
/// Longest padded value that goes through the tables (longer ones, rare
/// for names, dates and postcodes, take the memo path).
const MAX_TABLE_VALUE: usize = 64;
/// Tables kept per thread (one per Bloom key in use); the oldest goes
/// first. A table of 4096-bit filters is 4.6 MB of address space for all
/// 9,025 printable bigrams, of which only the pages of q-grams seen are
/// touched. Other lengths (64 to 512 bits, 8192 and up) take the memo
/// path.
const MAX_TABLES: usize = 32;

/// One key's filter of every printable-ASCII q-gram, as far as seen.
struct AsciiTable {
    key: u64,
    /// One bit per q-gram: its filter is in.
    filled: Vec<u64>,
    /// The filter of each q-gram (its `k` bits), by the q-gram's index.
    filters: Vec<u64>,
}

thread_local! {
    static TABLES: std::cell::RefCell<Vec<AsciiTable>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The Dice coefficient `2|A ∩ B| / (|A| + |B|)` of two filters of equal
/// length; 0 when both are empty.
#[inline]
pub fn dice(a: &[u64], b: &[u64]) -> f64 {
    dice_of(common_ones(a, b), ones(a) + ones(b))
}

/// Dice from its counts: bits set in both filters, and in each, summed;
/// 0 when both are empty. (The linker keeps each filter's count of ones,
/// and counts the shared bits only when a threshold needs them.)
#[inline]
pub fn dice_of(common: u32, ones_total: u32) -> f64 {
    if ones_total == 0 {
        0.0
    } else {
        f64::from(2 * common) / f64::from(ones_total)
    }
}

/// Bits set in a filter.
#[inline]
pub fn ones(f: &[u64]) -> u32 {
    f.iter().map(|w| w.count_ones()).sum()
}

/// Bits set in both filters.
#[inline]
pub fn common_ones(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum()
}

/// Filter words to bytes (little-endian words), for base64.
pub fn to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Bytes back to filter words.
pub fn from_bytes(bytes: &[u8]) -> Option<Vec<u64>> {
    if bytes.len() % 8 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    )
}

/// Standard base64 (with padding) of a filter, as written in CSV.
pub fn to_base64(words: &[u64]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(to_bytes(words))
}

/// Appends [`to_base64`] of a filter to `out`, through `scratch`, with no
/// allocation once both have grown (`to_base64` allocates its bytes and
/// its string for every filter).
pub fn append_base64(words: &[u64], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    use base64::Engine;
    scratch.clear();
    scratch.resize(words.len() * 8, 0);
    for (b, w) in scratch.chunks_exact_mut(8).zip(words) {
        b.copy_from_slice(&w.to_le_bytes());
    }
    let start = out.len();
    out.resize(start + base64_len(words.len()), 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(&scratch[..], &mut out[start..])
        .expect("room for the base64");
    debug_assert_eq!(start + n, out.len());
}

/// The length of a filter of `words` words in base64, as written in CSV.
pub fn base64_len(words: usize) -> usize {
    (words * 8).div_ceil(3) * 4
}

/// Decodes a filter of `words` words written by [`to_base64`] onto the
/// end of `out`, through `scratch` (no allocation once both have grown);
/// `false`, with `out` unchanged, if `text` is not one.
pub fn append_from_base64(
    text: &[u8],
    words: usize,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u64>,
) -> bool {
    use base64::Engine;
    if text.len() != base64_len(words) {
        return false;
    }
    // The decoder asks for room for every group of four characters.
    scratch.resize(text.len() / 4 * 3, 0);
    match base64::engine::general_purpose::STANDARD.decode_slice(text, scratch) {
        Ok(n) if n == words * 8 => {
            out.extend(
                scratch[..n]
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
            );
            true
        }
        _ => false,
    }
}

/// Decodes a filter written by [`to_base64`].
pub fn from_base64(text: &[u8]) -> Option<Vec<u64>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    from_bytes(&bytes)
}

/// The Dice coefficient of two strings' q-gram sets (with the same padding
/// rule as the filters): the quantity a filter's Dice estimates.
pub fn qgram_dice(a: &str, b: &str, q: usize, padding: bool) -> f64 {
    use std::collections::BTreeSet;
    let grams = |s: &str| -> BTreeSet<String> {
        let pad = if padding { q - 1 } else { 0 };
        let chars: Vec<char> = std::iter::repeat_n('_', pad)
            .chain(s.chars())
            .chain(std::iter::repeat_n('_', pad))
            .collect();
        if chars.len() < q {
            return std::iter::once(chars.iter().collect()).collect();
        }
        chars.windows(q).map(|w| w.iter().collect()).collect()
    };
    let (x, y) = (grams(a), grams(b));
    let total = x.len() + y.len();
    if total == 0 {
        return 0.0;
    }
    2.0 * x.intersection(&y).count() as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> Secret {
        Secret::from_bytes(zeroize::Zeroizing::new(vec![b; 32])).unwrap()
    }

    fn key(b: u8, params: BloomParams) -> BloomKey {
        BloomKey::new(&secret(b), "name", params).unwrap()
    }

    /// Known answers reproduced independently with Python's `hmac` (the
    /// script is in SECURITY.md, section 8.2): secret 00..1f, domain
    /// `name`, value `SMITH`, default parameters.
    #[test]
    fn known_answers() {
        let s = Secret::from_bytes(zeroize::Zeroizing::new((0u8..32).collect())).unwrap();
        let k = BloomKey::new(&s, "name", BloomParams::default()).unwrap();
        let f = k.encode("SMITH", None);
        assert_eq!(
            to_base64(&f),
            "KBAAAIAEEEABAIDLgQwAgAAAAAAEAAqAAAgAAASAgCAAAACAQAgAJAAAABCAAICEEQCACABBCGcIIACIoACQAABAQAACANABEAAEJCgAABIFMAAACAAAgAAAAIBwgABCQAAAAAACQgEEAEQEAQAgBAwGAQAAAEAAQSAQAAAkACU="
        );
        assert_eq!(f.iter().map(|w| w.count_ones()).sum::<u32>(), 113);
        let bit = |i: u32| f[(i / 64) as usize] >> (i % 64) & 1 == 1;
        // The 20 positions of the bigram `_S`.
        for i in [
            179, 461, 203, 675, 822, 850, 960, 95, 445, 239, 1005, 500, 611, 503, 741, 485, 858,
            906, 633, 566,
        ] {
            assert!(bit(i), "bit {i}");
        }
        assert_eq!(
            to_base64(&k.encode("SMITH", Some("1980"))),
            "ABACQDEIAAgAQAAAgAQAKMJoABAAACBQAACQIAAAAAAARAEAhSAJACEAGABACABAEAQAABAQAEAAABGAABAgAIEACEAABIAAAkIQACAGAIACgIkAgEEGAAAACAEEFxADAApQgAgQgAIIAABEgAJAAAAEAAQQGAIgBAQAAAAAAJA="
        );
    }

    proptest::proptest! {
        /// The allocation-free base64 is `to_base64`'s, for every length.
        #[test]
        fn append_base64_is_to_base64(words in proptest::collection::vec(proptest::num::u64::ANY, 0..40)) {
            let (mut scratch, mut out) = (Vec::new(), b"x".to_vec());
            append_base64(&words, &mut scratch, &mut out);
            let want = to_base64(&words);
            proptest::prop_assert_eq!(&out[1..], want.as_bytes());
        }
    }

    proptest::proptest! {
        /// The per-thread tables give every value the bits the memoised
        /// path gives it, for every q, k and padding, on printable ASCII
        /// (the tables' range) and on anything else (which falls back).
        #[test]
        fn table_path_sets_the_memo_paths_bits(
            v in "([ -~]{0,12}|[ -~]{60,70}|.{0,6})",
            q in 1u32..=4,
            k in 1u32..=40,
            padding in proptest::bool::ANY,
            bits in proptest::sample::select(vec![64u32, 1024, 2048, 4096, 8192]),
        ) {
            let params = BloomParams { bits, hashes: k, q, padding, ..BloomParams::default() };
            let key = key(3, params);
            let mut fast = vec![0u64; bits as usize / 64];
            key.set_bits(&v, "", &mut fast);
            // Twice: the second time from filled table entries.
            key.set_bits(&v, "", &mut fast);
            let mut memo = vec![0u64; bits as usize / 64];
            key.set_bits_memo(&v, "", &mut memo);
            proptest::prop_assert_eq!(fast, memo);
        }
    }

    #[test]
    fn dice_tracks_qgram_dice() {
        let k = key(1, BloomParams::default());
        let pairs = [
            ("SMITH", "SMYTH"),
            ("CATHERINE", "KATHERINE"),
            ("JOHNSON", "JONSON"),
            ("WILLIAMS", "WILLIAMSON"),
            ("BROWN", "GREEN"),
            ("TAYLOR", "TAYLOR"),
        ];
        // Bit collisions only ever add agreement, and add more the less two
        // values share: the filter's Dice is close to the q-gram Dice for
        // similar values, and above it by a bounded margin otherwise.
        for (a, b) in pairs {
            let fd = dice(&k.encode(a, None), &k.encode(b, None));
            let qd = qgram_dice(a, b, 2, true);
            assert!(fd >= qd - 0.02, "{a} {b}: filter {fd} q-gram {qd}");
            let margin = if qd >= 0.5 { 0.06 } else { 0.12 };
            assert!(fd - qd < margin, "{a} {b}: filter {fd} q-gram {qd}");
        }
    }

    #[test]
    fn balanced_filters_have_exactly_l_bits() {
        let p = BloomParams {
            balanced: true,
            ..BloomParams::default()
        };
        let k = key(2, p);
        for v in ["A", "SMITH", "MONTGOMERY-WILLIAMSON"] {
            let f = k.encode(v, None);
            assert_eq!(f.len(), 32);
            assert_eq!(f.iter().map(|w| w.count_ones()).sum::<u32>(), 1024);
        }
        let d_same = dice(&k.encode("SMITH", None), &k.encode("SMYTH", None));
        let d_diff = dice(&k.encode("SMITH", None), &k.encode("OKONKWO", None));
        assert!(d_same > d_diff, "{d_same} {d_diff}");
    }

    #[test]
    fn salt_separates() {
        let k = key(3, BloomParams::default());
        let a = k.encode("SMITH", Some("1980"));
        let b = k.encode("SMITH", Some("1981"));
        assert_eq!(a, k.encode("SMITH", Some("1980")));
        assert!(dice(&a, &b) < 0.4, "{}", dice(&a, &b));
    }

    /// Filters of the same values under different secrets share no more bits
    /// than two random filters with the same number of set bits would.
    #[test]
    fn different_secrets_share_only_chance_bits() {
        let a = key(4, BloomParams::default());
        let b = key(5, BloomParams::default());
        let names = [
            "SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES",
            "ROBINSON", "WRIGHT", "THOMPSON", "EVANS", "WALKER", "WHITE", "ROBERTS", "GREEN",
            "HALL", "WOOD", "JACKSON", "CLARKE", "PATEL", "KHAN", "LEWIS", "JAMES",
        ];
        let mut observed = 0.0;
        let mut expected = 0.0;
        for n in names {
            let (fa, fb) = (a.encode(n, None), b.encode(n, None));
            let ca: u32 = fa.iter().map(|w| w.count_ones()).sum();
            let cb: u32 = fb.iter().map(|w| w.count_ones()).sum();
            observed += f64::from(
                fa.iter()
                    .zip(&fb)
                    .map(|(x, y)| (x & y).count_ones())
                    .sum::<u32>(),
            );
            expected += f64::from(ca) * f64::from(cb) / 1024.0;
        }
        // Expected shared bits ~ 24 * 110^2/1024 ~ 280; sd ~ 16.
        assert!(
            (observed - expected).abs() < 5.0 * expected.sqrt(),
            "observed {observed} expected {expected}"
        );
    }

    #[test]
    fn params_validation() {
        for p in [
            BloomParams {
                bits: 1000,
                ..Default::default()
            },
            BloomParams {
                bits: 32,
                ..Default::default()
            },
            BloomParams {
                hashes: 0,
                ..Default::default()
            },
            BloomParams {
                q: 5,
                ..Default::default()
            },
        ] {
            assert!(p.validate().is_err(), "{p:?}");
        }
        assert!(BloomParams::default().validate().is_ok());
    }

    #[test]
    fn base64_round_trip() {
        let k = key(6, BloomParams::default());
        let f = k.encode("PATEL", None);
        let s = to_base64(&f);
        assert_eq!(s.len(), 172);
        assert_eq!(from_base64(s.as_bytes()).unwrap(), f);
        assert!(from_base64(b"not base64!").is_none());
        // Appending decodes the same words, and refuses without a trace.
        let (mut scratch, mut out) = (Vec::new(), vec![7u64]);
        assert_eq!(base64_len(f.len()), s.len());
        assert!(append_from_base64(
            s.as_bytes(),
            f.len(),
            &mut scratch,
            &mut out
        ));
        assert_eq!(out[1..], f[..]);
        let mut bad = s.clone().into_bytes();
        bad[10] = b',';
        for text in [&bad[..], &s.as_bytes()[..168], b"not base64!"] {
            assert!(!append_from_base64(text, f.len(), &mut scratch, &mut out));
        }
        assert!(!append_from_base64(
            s.as_bytes(),
            f.len() + 1,
            &mut scratch,
            &mut out
        ));
        assert_eq!(out.len(), 1 + f.len());
    }

    #[test]
    fn more_than_sixteen_hashes_use_more_blocks() {
        let k = key(
            7,
            BloomParams {
                hashes: 40,
                bits: 65536,
                ..Default::default()
            },
        );
        let f = k.encode("A", None);
        // Two bigrams, 40 bits each, in a 65536-bit filter: collisions rare.
        let set: u32 = f.iter().map(|w| w.count_ones()).sum();
        assert!(set >= 78, "{set}");
    }
}
