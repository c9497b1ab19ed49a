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

/// A byte's value as a hex digit (either case), and whether it is one.
/// Branch-free, so that loops over it become vector code.
#[inline(always)]
fn nibble(c: u8) -> (u8, bool) {
    let digit = c.wrapping_sub(b'0');
    let letter = (c | 0x20).wrapping_sub(b'a');
    let is_digit = digit < 10;
    let value = if is_digit {
        digit
    } else {
        letter.wrapping_add(10)
    };
    (value, is_digit | (letter < 6))
}

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
    let mut ok = true;
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let ((hi, a), (lo, b)) = (nibble(pair[0]), nibble(pair[1]));
        ok &= a & b;
        *o = hi << 4 | (lo & 0xf);
    }
    if !ok {
        let at = text.iter().position(|&c| !nibble(c).1).unwrap_or(0);
        return Err(HexError::InvalidDigit(at));
    }
    Ok(())
}

/// Decodes the 64 hex digits of a token (either case); `None` if any is
/// not a hex digit.
///
/// Written as plain loops over fixed-size arrays, with no branch on the
/// data, which the compiler turns into 16-byte vector code; this is the
/// loader's hottest path (`cargo bench --bench tokens -- hex_decode`).
#[inline]
pub fn decode_token(text: &[u8; 64]) -> Option<[u8; 32]> {
    let mut nibbles = [0u8; 64];
    let mut ok = true;
    for (n, &c) in nibbles.iter_mut().zip(text) {
        let (v, is_hex) = nibble(c);
        *n = v;
        ok &= is_hex;
    }
    // Each pair of nibbles as one 16-bit lane: shifts and a pack.
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        let w = u16::from_le_bytes([pair[0], pair[1]]);
        *o = ((w << 4) | (w >> 8)) as u8;
    }
    ok.then_some(out)
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

    /// The reference: each byte's value as a hex digit, or 0xff.
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

    #[test]
    fn known() {
        assert_eq!(encode(&[0x00, 0xff, 0x1a]), "00ff1a");
        assert_eq!(decode("00FF1a").unwrap(), vec![0, 255, 26]);
        assert_eq!(decode("0g"), Err(HexError::InvalidDigit(1)));
        assert_eq!(decode("abc"), Err(HexError::OddLength));
    }

    #[test]
    fn every_byte_in_every_position() {
        let ok = b"0123456789abcdefABCDEF";
        for at in 0..16 {
            for c in 0..=255u8 {
                let mut text = *b"0123456789abcdef";
                text[at] = c;
                let mut out = [0u8; 8];
                let got = decode_into(&text, &mut out);
                if ok.contains(&c) {
                    assert_eq!(got, Ok(()), "{c:#x} at {at}");
                    let v = if c.is_ascii_digit() {
                        c - b'0'
                    } else {
                        (c | 0x20) - b'a' + 10
                    };
                    let byte = out[at / 2];
                    assert_eq!(if at % 2 == 0 { byte >> 4 } else { byte & 0xf }, v);
                } else {
                    assert_eq!(got, Err(HexError::InvalidDigit(at)), "{c:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn a_token_every_byte_in_every_position() {
        let base: [u8; 64] = std::array::from_fn(|i| b"0123456789abcdefABCDEF"[i % 22]);
        let want = decode(std::str::from_utf8(&base).unwrap()).unwrap();
        assert_eq!(decode_token(&base).map(|t| t.to_vec()), Some(want));
        for at in 0..64 {
            for c in 0..=255u8 {
                let mut text = base;
                text[at] = c;
                let mut out = [0u8; 32];
                let table = decode_into(&text, &mut out).is_ok();
                assert_eq!(decode_token(&text), table.then_some(out), "{c:#x} at {at}");
            }
        }
    }

    proptest! {
        /// The token decoder agrees with the table, on any 64 bytes, and
        /// on 64 hex digits with one byte changed.
        #[test]
        fn token_agrees_with_table(
            raw in proptest::collection::vec(any::<u8>(), 64),
            digits in proptest::collection::vec(0usize..22, 64),
            at in 0usize..64,
            c in any::<u8>(),
        ) {
            let mut hexy: [u8; 64] = std::array::from_fn(|i| b"0123456789abcdefABCDEF"[digits[i]]);
            hexy[at] = c;
            for text in [raw.try_into().unwrap(), hexy] {
                let mut out = [0u8; 32];
                let ok = decode_into(&text, &mut out).is_ok();
                prop_assert_eq!(decode_token(&text), ok.then_some(out));
            }
        }

        /// The general decoder agrees with the table, on any bytes.
        #[test]
        fn agrees_with_table(text in proptest::collection::vec(any::<u8>(), 0..80)) {
            let text = &text[..text.len() / 2 * 2];
            let mut out = vec![0u8; text.len() / 2];
            let got = decode_into(text, &mut out);
            let mut bad = None;
            let mut want = vec![0u8; text.len() / 2];
            for (i, pair) in text.chunks_exact(2).enumerate() {
                let (hi, lo) = (NIBBLES[usize::from(pair[0])], NIBBLES[usize::from(pair[1])]);
                if hi == 0xff || lo == 0xff {
                    bad = bad.or(Some(if hi == 0xff { 2 * i } else { 2 * i + 1 }));
                }
                want[i] = (hi << 4) | (lo & 0xf);
            }
            match bad {
                Some(at) => prop_assert_eq!(got, Err(HexError::InvalidDigit(at))),
                None => {
                    prop_assert_eq!(got, Ok(()));
                    prop_assert_eq!(out, want);
                }
            }
        }

        #[test]
        fn round_trip(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(decode(&encode(&b)).unwrap(), b);
        }
    }
}
