//! Lowercase hexadecimal, the text form of tokens, keys and digests.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Both hex digits of every byte value, so encoding is one lookup a byte.
static PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
        i += 1;
    }
    t
};

/// Writes `bytes` as lowercase hex into `out`, which must be exactly twice
/// as long.
pub fn encode_into(bytes: &[u8], out: &mut [u8]) {
    assert_eq!(out.len(), bytes.len() * 2, "hex output buffer size");
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&PAIRS[usize::from(b)]);
    }
}

/// `bytes` as a lowercase hex string.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    encode_into(bytes, &mut out);
    String::from_utf8(out).expect("hex is ASCII")
}

/// The value of each byte as a hex digit, or 0xff.
static NIBBLES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Why text is not hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexError {
    /// A character that is not a hex digit, at this 0-based byte offset.
    #[error("not a hexadecimal digit at byte {0}")]
    InvalidDigit(usize),
    /// An odd number of hex digits.
    #[error("odd number of hexadecimal digits")]
    OddLength,
}

/// Decodes hex (either case) into `out`, which must be half as long as
/// `text`.
///
/// # Errors
/// [`HexError`] when `text` holds a non-hex character or `out` has the
/// wrong size for it.
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    if text.len() % 2 != 0 || out.len() * 2 != text.len() {
        return Err(HexError::OddLength);
    }
    // Branch-free over the whole input; the error position is found only
    // when something was invalid.
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = NIBBLES[usize::from(pair[0])];
        let lo = NIBBLES[usize::from(pair[1])];
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0xf);
    }
    if bad & 0xf0 != 0 {
        let at = text
            .iter()
            .position(|&c| NIBBLES[usize::from(c)] == 0xff)
            .unwrap_or(0);
        return Err(HexError::InvalidDigit(at));
    }
    Ok(())
}

/// Decodes hex text of any even length.
///
/// # Errors
/// [`HexError`] on a non-hex character or odd length.
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    let t = text.as_bytes();
    if t.len() % 2 != 0 {
        return Err(HexError::OddLength);
    }
    let mut out = vec![0u8; t.len() / 2];
    decode_into(t, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known() {
        assert_eq!(encode(&[0x00, 0xff, 0x1a]), "00ff1a");
        assert_eq!(decode("00FF1a").unwrap(), vec![0, 255, 26]);
        assert_eq!(decode("0g"), Err(HexError::InvalidDigit(1)));
        assert_eq!(decode("abc"), Err(HexError::OddLength));
    }

    proptest! {
        #[test]
        fn round_trip(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(decode(&encode(&b)).unwrap(), b);
        }
    }
}
